"""The `grassroots` command: Django's management commands under our settings."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grassroots.settings")
    from django.core.management import execute_from_command_line

    from grassroots.audit.context import command_context

    command_context()  # audit events from commands carry channel "command" and the OS user

    execute_from_command_line(["grassroots", *sys.argv[1:]])


if __name__ == "__main__":
    main()

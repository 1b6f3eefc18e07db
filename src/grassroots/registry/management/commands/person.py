"""grassroots person {export,anonymize} ID_NUMBER: personal-data requests (registry.personal_data)"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.audit.context import acting
from grassroots.registry.personal_data import (
    PersonNotFound,
    person_anonymize,
    person_export,
    person_records,
)


class Command(BaseCommand):
    help = "Personal-data requests: export everything held about a person, or anonymize them."

    def add_arguments(self, parser: CommandParser) -> None:
        called = getattr(self, "_called_from_command_line", False)
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        export = sub.add_parser(
            "export",
            help="write everything held about one person as JSON (their own copy)",
            called_from_command_line=called,
        )
        export.add_argument("id_number", metavar="ID_NUMBER")
        export.add_argument(
            "--output", metavar="FILE", help="write to FILE (mode 0600) instead of stdout"
        )
        anonymize = sub.add_parser(
            "anonymize",
            help="remove a person's identity, keeping counts and history consistent",
            called_from_command_line=called,
        )
        anonymize.add_argument("id_number", metavar="ID_NUMBER")
        anonymize.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        for p in (export, anonymize):
            p.add_argument("--reason", default="", help="why (recorded in the audit trail)")
            p.add_argument(
                "--as-user",
                metavar="NAME",
                help="act as this account: its permissions and scope apply",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options.get("as_user"))
        with acting(channel="command", user=user):
            try:
                getattr(self, f"do_{options['action']}")(user, options)
            except ValidationError as exc:
                raise CommandError(f"ID_NUMBER: {' '.join(exc.messages)}", returncode=1) from None
            except PersonNotFound as exc:
                raise CommandError(f"ID_NUMBER: {exc}", returncode=1) from None
            except PermissionDenied as exc:
                raise CommandError(f"--as-user: {exc}", returncode=1) from None

    def _user(self, name: str | None) -> User | None:
        if not name:
            return None
        user = User.objects.filter(username=name).first()
        if user is None:
            raise CommandError(_("--as-user: no user named %(name)s") % {"name": name})
        if not user.is_active:
            raise CommandError(_("--as-user: %(name)s is not active") % {"name": name})
        return user

    def do_export(self, user: User | None, options: dict[str, Any]) -> None:
        path = options.get("output")
        with transaction.atomic():
            # The export events roll back if the document cannot be delivered.
            document = person_export(
                actor=user, id_number=options["id_number"], reason=options["reason"]
            )
            text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
            if not path:
                self.stdout.write(text, ending="")
                return
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except OSError as exc:
                raise CommandError(
                    _("--output: cannot write %(file)s (%(error)s)")
                    % {"file": path, "error": exc.strerror}
                ) from None
            # An existing file keeps its mode through O_TRUNC: personal data is for its owner.
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
        self.stderr.write(
            _("wrote %(n)d record(s) to %(file)s") % {"n": len(document["records"]), "file": path}
        )

    def do_anonymize(self, user: User | None, options: dict[str, Any]) -> None:
        rows = person_records(
            actor=user, id_number=options["id_number"], permission="registry.change_resident"
        )
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError(_("not run from a terminal: confirm with --yes"))
            self.stdout.write(
                _("Anonymize %(n)d record(s) of %(person)s? This cannot be undone.")
                % {"n": len(rows), "person": rows[0].audit_label}
            )
            answer = input(_("Type yes to go on: "))
            if answer.strip().lower() not in ("yes", "y", _("yes")):
                raise CommandError(_("nothing was changed"))
        done = person_anonymize(
            actor=user, id_number=options["id_number"], reason=options["reason"]
        )
        self.stdout.write(
            _("anonymized %(n)d record(s); they now read %(label)s")
            % {"n": len(done.rows), "label": done.label}
        )

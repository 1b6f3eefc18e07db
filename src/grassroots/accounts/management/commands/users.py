"""grassroots users {add,token,revoke,assign,list,otp-reset,grant,ungrant}"""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.accounts.grants import user_permission_grant, user_permission_ungrant
from grassroots.accounts.models import User
from grassroots.accounts.roles import ROLE_PERMISSIONS, Role
from grassroots.accounts.services import (
    generate_password,
    grid_assign,
    token_issue,
    token_revoke_all,
    user_create,
)
from grassroots.accounts.two_factor import otp_devices_reset, otp_required
from grassroots.territory.models import Grid


class Command(BaseCommand):
    help = (
        "Manage users: add NAME --role ROLE --scope CODE, token NAME, revoke NAME,"
        " assign NAME GRID..., list, otp-reset NAME, grant/ungrant NAME PERMISSION."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        called = getattr(self, "_called_from_command_line", False)
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        add = sub.add_parser(
            "add",
            help="create a user; password from stdin or generated",
            called_from_command_line=called,
        )
        add.add_argument("name")
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument(
            "--scope",
            required=True,
            action="append",
            metavar="CODE",
            help="unit code; for a grid worker a grid code (repeat for more grids)",
        )
        add.add_argument("--generate-password", action="store_true", help="do not read stdin")
        token = sub.add_parser(
            "token",
            help="issue an API token (printed on the last line)",
            called_from_command_line=called,
        )
        token.add_argument("name")
        token.add_argument(
            "--days", type=int, default=None, help="validity in days (default: API_TOKEN_DAYS, 90)"
        )
        revoke = sub.add_parser(
            "revoke", help="revoke all API tokens of a user", called_from_command_line=called
        )
        revoke.add_argument("name")
        assign = sub.add_parser(
            "assign", help="assign a grid worker to more grids", called_from_command_line=called
        )
        assign.add_argument("name")
        assign.add_argument("grids", nargs="+")
        sub.add_parser(
            "list", help="list users with role and scope", called_from_command_line=called
        )
        otp_reset = sub.add_parser(
            "otp-reset",
            help="remove a user's two-factor devices (lost phone); they enrol again",
            called_from_command_line=called,
        )
        otp_reset.add_argument("name")
        for action, text in (
            ("grant", "give a user one explicit permission"),
            ("ungrant", "take an explicit permission back from a user"),
        ):
            grant = sub.add_parser(action, help=text, called_from_command_line=called)
            grant.add_argument("name")
            grant.add_argument("permission", help="app_label.codename, e.g. registry.view_resident")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"do_{options['action'].replace('-', '_')}")(options)

    def _user(self, name: str) -> User:
        user = User.objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"no user named {name}")
        return user

    def do_add(self, options: dict[str, Any]) -> None:
        password = None
        if not options["generate_password"]:
            try:
                if not sys.stdin.isatty():
                    password = sys.stdin.readline().rstrip("\r\n") or None
            except (OSError, ValueError):  # no usable stdin (closed, or captured by a test runner)
                password = None
        generated = password is None
        if generated:
            password = generate_password()
        assert password is not None
        try:
            user = user_create(
                username=options["name"],
                role=options["role"],
                scope_codes=options["scope"],
                password=password,
            )
        except ValidationError as exc:
            lines = [f"{field}: {msg}" for field, msgs in exc.message_dict.items() for msg in msgs]
            raise CommandError("; ".join(lines)) from None
        self.stdout.write(
            f"created {user.username} ({user.get_role_display()}) scoped to {', '.join(user.scope_codes())}"
        )
        if generated:
            self.stdout.write(f"password: {password}")

    def do_token(self, options: dict[str, Any]) -> None:
        user = self._user(options["name"])
        if options["days"] is not None and options["days"] < 1:
            raise CommandError("--days must be at least 1")
        token = token_issue(user=user, days=options["days"])
        self.stderr.write(f"API token for {user.username}; it is shown only now:")
        self.stdout.write(token)

    def do_revoke(self, options: dict[str, Any]) -> None:
        user = self._user(options["name"])
        count = token_revoke_all(user=user)
        self.stdout.write(f"revoked {count} token(s) of {user.username}")

    def do_assign(self, options: dict[str, Any]) -> None:
        user = self._user(options["name"])
        grids = list(Grid.objects.filter(code__in=options["grids"]))
        missing = set(options["grids"]) - {g.code for g in grids}
        if missing:
            raise CommandError(f"no grid {', '.join(sorted(missing))}")
        try:
            grid_assign(user=user, grids=grids)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"{user.username} now works in {', '.join(user.scope_codes())}")

    def do_list(self, options: dict[str, Any]) -> None:
        for user in User.objects.order_by("username"):
            self.stdout.write(
                f"{user.username}\t{user.role}\t{','.join(user.scope_codes())}\t{'active' if user.is_active else 'inactive'}"
            )

    def do_otp_reset(self, options: dict[str, Any]) -> None:
        user = self._user(options["name"])
        count = otp_devices_reset(user=user)
        if count == 0:
            self.stdout.write(f"{user.username} has no two-factor device; nothing to reset")
            return
        after = (
            "must set up two-factor sign-in again at their next sign-in"
            if otp_required(user)
            else "signs in with the password alone until they set it up again"
        )
        self.stdout.write(
            f"removed {count} two-factor device(s) of {user.username}; signed-in sessions must"
            f" verify again; {user.username} {after}"
        )

    def _role_note(self, user: User, name: str) -> str:
        if user.is_superuser:
            return f" (note: {user.username} is a superuser and has every permission anyway)"
        if name in ROLE_PERMISSIONS.get(user.role, ()):
            return f" (note: the role {user.role} gives it as well)"
        return ""

    def do_grant(self, options: dict[str, Any]) -> None:
        user = self._user(options["name"])
        name = options["permission"]
        try:
            granted = user_permission_grant(user=user, name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        note = self._role_note(user, name)
        if granted:
            self.stdout.write(f"granted {name} to {user.username}{note}")
        else:
            self.stdout.write(f"{user.username} already has {name}{note}")

    def do_ungrant(self, options: dict[str, Any]) -> None:
        user = self._user(options["name"])
        name = options["permission"]
        try:
            taken = user_permission_ungrant(user=user, name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        note = self._role_note(user, name)
        if taken:
            self.stdout.write(f"took {name} back from {user.username}{note}")
        else:
            self.stdout.write(f"{user.username} has no explicit grant of {name}{note}")

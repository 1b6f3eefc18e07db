"""`grassroots hotline import FILE [--dry-run] [--errors OUT] [--as-user NAME]`

Takes in 12345 hotline work orders from a .csv or .xlsx export, all or nothing (see
grassroots.cases.imports for the columns and rules).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.audit.context import acting
from grassroots.cases.imports import import_hotline
from grassroots.core.imports import report_to_command
from grassroots.core.scoping import Scope
from grassroots.core.tables import TableError


class Command(BaseCommand):
    help = "12345 hotline work orders: import a CSV/XLSX export as cases."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        p = sub.add_parser(
            "import",
            help="take in the work orders of a .csv or .xlsx file, all or nothing",
            called_from_command_line=getattr(self, "_called_from_command_line", False),
        )
        p.add_argument("file")
        p.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
        p.add_argument(
            "--errors",
            metavar="OUT",
            help="write offending rows with a reason column to OUT (.csv or .xlsx)",
        )
        p.add_argument(
            "--as-user",
            metavar="NAME",
            help="take the orders in as this user, within their scope (rows outside are refused)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = None
        scope = Scope.everything()
        if options.get("as_user"):
            user = User.objects.filter(username=options["as_user"], is_active=True).first()
            if user is None:
                raise CommandError(f"--as-user: no active user named {options['as_user']}")
            scope = Scope.for_user(user)
        # Audit events of the import carry channel "import" (and the --as-user account).
        with acting(channel="import", user=user):
            try:
                result = import_hotline(
                    options["file"], actor=user, scope=scope, dry_run=options["dry_run"]
                )
            except TableError as exc:
                raise CommandError(str(exc), returncode=1) from None
        report_to_command(self, result, options["file"], options.get("errors"))
        if result.dry_run:
            line = _("dry run, nothing written: would take in %(n)d work order(s)")
        else:
            line = _("hotline: took in %(n)d work order(s)")
        self.stdout.write(line % {"n": result.created})

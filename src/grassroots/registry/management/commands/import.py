"""grassroots import {units,grids,households,residents} FILE [--dry-run] [--errors OUT]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.audit.context import acting
from grassroots.core.imports import report_to_command
from grassroots.core.scoping import Scope
from grassroots.core.tables import TableError
from grassroots.registry.imports import IMPORTERS, UnknownUnit
from grassroots.territory.services import import_grids, import_units


class Command(BaseCommand):
    help = "Import units (CSV/XLSX), grids (GeoJSON), households or residents (CSV/XLSX)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="kind", required=True, parser_class=CommandParser)
        for kind, text in (
            ("units", "units from CSV/XLSX: code, name[, level]"),
            ("grids", "grids from a GeoJSON FeatureCollection: properties code, name, kind"),
            ("households", "households from CSV/XLSX"),
            ("residents", "residents from CSV/XLSX"),
        ):
            p = sub.add_parser(
                kind,
                help=text,
                called_from_command_line=getattr(self, "_called_from_command_line", False),
            )
            p.add_argument("file")
            p.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
            if kind in ("households", "residents"):
                p.add_argument(
                    "--errors",
                    metavar="OUT",
                    help="write offending rows with a reason column to OUT (.csv or .xlsx)",
                )
                p.add_argument(
                    "--unit",
                    metavar="CODE",
                    help="village/community for rows without a grid or household",
                )
                p.add_argument(
                    "--as-user",
                    metavar="NAME",
                    help="apply this user's scope: rows outside it are refused",
                )

    def handle(self, *args: Any, **options: Any) -> None:
        # Audit events of the import carry channel "import" (and the --as-user account).
        with acting(channel="import"):
            self._handle(**options)

    def _handle(self, **options: Any) -> None:
        kind = options["kind"]
        dry = options["dry_run"]
        try:
            if kind in ("units", "grids"):
                territory = (import_units if kind == "units" else import_grids)(
                    options["file"], dry_run=dry
                )
                for line in territory.problems:
                    self.stdout.write(line)
                if territory.problems:
                    raise CommandError(
                        _("%(n)d problem(s); nothing was written") % {"n": len(territory.problems)},
                        returncode=1,
                    )
                self._summary(kind, dry, territory.created, territory.updated, territory.unchanged)
                return
            scope = Scope.everything()
            user = None
            if options.get("as_user"):
                user = User.objects.filter(username=options["as_user"]).first()
                if user is None:
                    raise CommandError(f"--as-user: no user named {options['as_user']}")
                scope = Scope.for_user(user)
            with acting(user=user):
                result = IMPORTERS[kind](
                    options["file"], scope=scope, dry_run=dry, unit_code=options.get("unit")
                )
        except TableError as exc:
            raise CommandError(str(exc), returncode=1) from None
        except UnknownUnit as exc:
            raise CommandError(f"--unit: {exc}", returncode=1) from None
        report_to_command(self, result, options["file"], options.get("errors"))
        self._summary(kind, dry, result.created, result.updated, result.unchanged)

    def _summary(self, kind: str, dry: bool, created: int, updated: int, unchanged: int) -> None:
        counts = {"kind": kind, "created": created, "updated": updated, "unchanged": unchanged}
        if dry:
            line = _(
                "dry run, nothing written: would have %(kind)s: "
                "created %(created)d, updated %(updated)d, unchanged %(unchanged)d"
            )
        else:
            line = _("%(kind)s: created %(created)d, updated %(updated)d, unchanged %(unchanged)d")
        self.stdout.write(line % counts)

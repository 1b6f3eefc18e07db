"""grassroots import KIND FILE [--dry-run] [--errors OUT] [--unit CODE] [--as-user NAME]

Every kind of import the apps register (core/imports.py): units (CSV/XLSX), grids (GeoJSON),
households, residents, hotline work orders. Each kind takes the options it names.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from grassroots.core.imports import import_kinds
from grassroots.core.imports_command import add_import_arguments, run_import_command


class Command(BaseCommand):
    help = (
        "Import units, households, residents or hotline work orders (CSV/XLSX/XLS), or grids "
        "(GeoJSON)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="kind", required=True, parser_class=CommandParser)
        for kind, importer in import_kinds().items():
            add_import_arguments(
                sub.add_parser(
                    kind,
                    help=importer.help,
                    called_from_command_line=getattr(self, "_called_from_command_line", False),
                ),
                importer,
            )

    def handle(self, *args: Any, **options: Any) -> None:
        run_import_command(self, import_kinds()[options["kind"]], **options)

"""`grassroots hotline import FILE [--dry-run] [--errors OUT] [--as-user NAME]`

Takes in 12345 hotline work orders from a .csv, .xlsx or .xls export, all or nothing (see
grassroots.cases.imports for the columns and rules): the same as `grassroots import hotline`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from grassroots.cases.imports import HotlineImporter
from grassroots.core.imports_command import add_import_arguments, run_import_command


class Command(BaseCommand):
    help = "12345 hotline work orders: import a CSV/XLSX/XLS export as cases."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        p = sub.add_parser(
            "import",
            help="take in the work orders of a .csv, .xlsx or .xls file, all or nothing",
            called_from_command_line=getattr(self, "_called_from_command_line", False),
        )
        add_import_arguments(p, HotlineImporter)

    def handle(self, *args: Any, **options: Any) -> None:
        run_import_command(self, HotlineImporter, **options)

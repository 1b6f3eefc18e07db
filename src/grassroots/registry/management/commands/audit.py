"""grassroots audit coverage [--scope CODE] [--json]; grassroots audit log [...] (audit/cli.py)"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.audit.cli import add_log_parser, run_log
from grassroots.core.scoping import Scope
from grassroots.registry.coverage import PROBLEM_KEYS, coverage_report
from grassroots.territory.models import Grid, Unit

LABELS = {
    "households_without_grid": "households without a grid",
    "households_outside_grid": "households outside their grid's polygon",
    "residents_without_household": "residents without a household",
    "empty_households": "households without a current resident",
    "duplicate_id_numbers": "ID numbers held by more than one resident",
    "grids_without_worker": "grids without a grid worker",
}


class Command(BaseCommand):
    help = "Audits of the registry, and the audit trail (audit log)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="audit", required=True, parser_class=CommandParser)
        p = sub.add_parser(
            "coverage",
            help='the "格不漏户、户不漏人" coverage audit',
            called_from_command_line=getattr(self, "_called_from_command_line", False),
        )
        p.add_argument("--scope", metavar="CODE", help="unit or grid code (default: everything)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        add_log_parser(self, sub)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["audit"] == "log":
            run_log(self, options)
            return
        code = options.get("scope")
        name = "all units"
        if code:
            node = Unit.objects.filter(code=code).first() or Grid.objects.filter(code=code).first()
            if node is None:
                raise CommandError(f"--scope: no unit or grid with code {code}")
            name = str(node)
        report = coverage_report(Scope.of(code) if code else Scope.everything())
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
            return
        out = self.stdout.write
        out(f"Coverage audit (格不漏户、户不漏人) for {name}")
        out(f"  households: {report.households_total}")
        out(f"  residents:  {report.residents_total}")
        width = max(len(v) for v in LABELS.values())
        for key in PROBLEM_KEYS:
            count = report.counts[key]
            mark = "OK " if count == 0 else "!! "
            out(f"{mark}{LABELS[key].ljust(width)}  {count}")
            samples = [s.label for s in report.samples[key]]
            if samples:
                more = f" … and {count - len(samples)} more" if count > len(samples) else ""
                out("     " + ", ".join(samples) + more)
        total = report.problems_total
        out("No problems found." if total == 0 else f"{total} problem(s) found.")

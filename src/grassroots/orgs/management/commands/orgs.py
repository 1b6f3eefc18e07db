"""`grassroots orgs life --org CODE --since DATE --until DATE [--json]`: an organization's
branch life (三会一课 and 主题党日) over a range of dates: each kind held against required, the
periods that lack a meeting, the attendance rate (orgs/life.py says how each is counted)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from grassroots.orgs.life import life
from grassroots.orgs.models import MeetingKind, Organization


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(_("%(v)s is not a date (use YYYY-MM-DD)") % {"v": text[:40]}) from None


class Command(BaseCommand):
    help = "Party organizations: an organization's branch life (三会一课) over a range of dates."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        p = sub.add_parser(
            "life",
            help="meetings held against required, missing periods and attendance",
            called_from_command_line=getattr(self, "_called_from_command_line", False),
        )
        p.add_argument("--org", required=True, metavar="CODE", help="the organization's code")
        p.add_argument("--since", required=True, metavar="DATE", help="YYYY-MM-DD")
        p.add_argument("--until", required=True, metavar="DATE", help="YYYY-MM-DD")
        p.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        since, until = _date(options["since"]), _date(options["until"])
        if since > until:
            raise CommandError(_("--since comes after --until"))
        org = Organization.objects.filter(code=options["org"]).first()
        if org is None:
            raise CommandError(_("no organization %(code)s") % {"code": options["org"][:40]})
        result = life(org, since, until)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False))
            return
        self.stdout.write(f"{org.name} ({org.code}) {since} – {until}")
        for kind, k in result.kinds.items():
            line = _("%(kind)s: %(held)d held of %(required)d; missing: %(missing)s") % {
                "kind": MeetingKind(kind).label,
                "held": k.held,
                "required": k.required,
                "missing": ", ".join(k.missing_periods) or "—",
            }
            self.stdout.write("  " + line)
        rate = _("attendance rate: %(rate)s") % {"rate": f"{result.attendance_rate:.0%}"}
        self.stdout.write("  " + rate)

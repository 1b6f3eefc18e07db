"""`grassroots orgs life --org CODE --since DATE --until DATE [--json]`: an organization's
branch life (三会一课 and 主题党日) over a range of dates: each kind held against required, the
periods that lack a meeting, the attendance rate (orgs/life.py says how each is counted).

`grassroots orgs remind [--today DATE] [--json]`: the branch life reminders the worker sends
daily (orgs/reminders.py), run once by hand: who was told of what; run twice, the second tells
nobody."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from grassroots.orgs.life import life
from grassroots.orgs.models import MeetingKind, Organization
from grassroots.orgs.reminders import Due, Reminded, describe, remind


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(_("%(v)s is not a date (use YYYY-MM-DD)") % {"v": text[:40]}) from None


class Command(BaseCommand):
    help = (
        "Party organizations: an organization's branch life (三会一课) over a range of dates; "
        "the reminders of meetings still missing before a period ends."
    )

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
        p = sub.add_parser(
            "remind",
            help="remind the secretaries of the meetings still missing before a period ends",
            called_from_command_line=getattr(self, "_called_from_command_line", False),
        )
        p.add_argument("--today", metavar="DATE", help="YYYY-MM-DD (default: today)")
        p.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "remind":
            self.remind(options)
        else:
            self.life(options)

    def remind(self, options: dict[str, Any]) -> None:
        today = _date(options["today"]) if options["today"] else None
        result = remind(today)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False))
            return
        self.stdout.write(_summary(result))
        for name, dues in result.told.items():
            for due in dues:
                self.stdout.write(f"  {name}: {_due(due)}")
        for due in result.unserved:
            self.stdout.write("  " + _("nobody to tell: %(due)s") % {"due": _due(due)})

    def life(self, options: dict[str, Any]) -> None:
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


def _summary(result: Reminded) -> str:
    return _(
        "%(today)s: reminders sent %(reminders)d, people told %(people)d, notifications "
        "%(rows)d, nobody to tell %(unserved)d"
    ) % {
        "today": result.today.isoformat(),
        "reminders": result.reminders,
        "people": len(result.told),
        "rows": result.notifications,
        "unserved": len(result.unserved),
    }


def _due(due: Due) -> str:
    return f"{describe(due)} ({due.organization.code})"

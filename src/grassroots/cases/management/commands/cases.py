"""`grassroots cases`: the escalation sweep and the indicators on the command line.

grassroots cases sweep [--now ISO8601] [--quiet-notify]
grassroots cases stats --scope CODE [--since DATE] [--until DATE] [--json]
grassroots cases rebuild-stats
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from grassroots.cases import stats
from grassroots.cases.sweep import sweep
from grassroots.territory.models import Grid, Unit


def _moment(value: str) -> datetime.datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--now: not an ISO 8601 date-time: {value!r}")
        moment = datetime.datetime.combine(day, datetime.time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _day(option: str, value: str | None) -> datetime.date | None:
    if value is None:
        return None
    try:
        day = parse_date(value)
    except ValueError:
        day = None
    if day is None:
        raise CommandError(f"{option}: not a date (YYYY-MM-DD): {value!r}")
    return day


class Command(BaseCommand):
    help = "Cases: escalate overdue cases (sweep), print indicators (stats), rebuild statistics."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("sweep", help="escalate every open case whose deadline passed")
        p.add_argument("--now", help="the moment to sweep at (ISO 8601; default: now)")
        p.add_argument("--no-notify", action="store_true", help="escalate without notifying")
        p = sub.add_parser("stats", help="indicators of the cases reported in a scope and period")
        p.add_argument("--scope", required=True, help="county, town, village or grid code")
        p.add_argument("--since", help="reported on or after this date (YYYY-MM-DD)")
        p.add_argument("--until", help="reported on or before this date (YYYY-MM-DD)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        sub.add_parser("rebuild-stats", help="recompute the statistics buckets from the cases")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "sweep":
            now = _moment(options["now"]) if options["now"] else None
            result = sweep(now=now, notify=not options["no_notify"])
            tiers = ", ".join(f"{n} to {t}" for t, n in sorted(result.by_tier.items())) or "none"
            self.stdout.write(
                f"escalated {result.escalated} ({tiers}); overdue at county tier {result.overdue}"
                + (
                    f"; {result.fallback_deadlines} new deadlines on the fallback calendar"
                    if result.fallback_deadlines
                    else ""
                )
            )
        elif action == "stats":
            scope = options["scope"].strip()
            if not (
                Unit.objects.filter(code=scope).exists() or Grid.objects.filter(code=scope).exists()
            ):
                raise CommandError(f"--scope: no unit or grid with code {scope!r}")
            since = _day("--since", options["since"])
            until = _day("--until", options["until"])
            if since and until and since > until:
                raise CommandError("--since comes after --until")
            figures = stats.indicators(scope, since, until)
            if options["json"]:
                self.stdout.write(json.dumps(figures, ensure_ascii=False))
                return
            for key, value in figures.items():
                self.stdout.write(f"{key}: {value}")
        else:
            count = stats.rebuild_buckets()
            self.stdout.write(f"rebuilt {count} statistics buckets")

"""The escalation sweep: open cases whose deadline passed go up one tier.

Set-wise, so that 50,000 overdue cases take a few statements rather than 50,000 round trips:
cases are grouped by (category, tier, urgent), which fixes the new tier's deadline (every case
in a group starts its new tier now); each group gets its timeline events with one
INSERT … SELECT and its escalation with one UPDATE. A case at the county tier has nowhere to go:
it is marked overdue once and the county is told.

Idempotent: an escalated case has a deadline in the future, and an overdue county case carries
`overdue_at`, so a second run with the same `now` finds nothing. Two sweeps never interleave:
SQLite transactions here take the write lock when they begin (transaction_mode IMMEDIATE), and
on PostgreSQL the sweep holds a transaction-level advisory lock.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Case as When_
from django.db.models import Count, F, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit

from . import stats
from .models import Case, CaseEvent, Category, Stage, Tier, next_tier
from .services import SYSTEM, deadline_for
from .workdays import WorkingCalendar

_SWEEP_LOCK = 0x6772_6373  # "grcs": the advisory lock key on PostgreSQL


@dataclass
class SweepResult:
    escalated: int = 0
    overdue: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)
    fallback_deadlines: int = 0


def _hours_since(start_column: str, now: datetime.datetime) -> RawSQL:
    """Clock hours from a datetime column to `now`, in the database's own arithmetic."""
    if connection.vendor == "postgresql":
        return RawSQL(f"EXTRACT(EPOCH FROM (%s - {start_column})) / 3600.0", (now,))
    # Django keeps SQLite datetimes as UTC text, which julianday() reads.
    value = now.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(" ")
    return RawSQL(f"(julianday(%s) - julianday({start_column})) * 24.0", (value,))


def _insert_events(
    where_sql: str,
    params: list[Any],
    action: str,
    to_tier: str,
    now: datetime.datetime,
    data: dict[str, object],
) -> None:
    case_table = Case._meta.db_table
    event_table = CaseEvent._meta.db_table
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {event_table} (case_id, at, actor_id, actor_name, action, from_stage,"
            " to_stage, from_tier, to_tier, note, data, scope_code)"
            f" SELECT id, %s, NULL, %s, %s, '', '', tier, %s, '', %s, scope_code"
            f" FROM {case_table} WHERE {where_sql}",
            [at, SYSTEM, action, to_tier, json.dumps(data), *params],
        )


def _count_missed(qs: QuerySet[Case]) -> None:
    """Bucket delta for the cases about to miss their first deadline: they become 'due'."""
    rows = (
        qs.filter(missed_deadline=False)
        .order_by()
        .values_list("scope_code", "reported_on")
        .annotate(n=Count("id"), d=Count("id", filter=Q(deferred=True)))
    )
    changes = []
    for scope_code, day, n, d in rows:
        values = dict.fromkeys(stats.COLUMNS, 0)
        values["due"], values["deferred"] = n, d
        changes.append(
            [
                scope_code,
                connection.ops.adapt_datefield_value(day),
                *[values[c] for c in stats.COLUMNS],
            ]
        )
    if changes:
        with connection.cursor() as cursor:
            cursor.executemany(stats.upsert_sql(), changes)


def sweep(
    now: datetime.datetime | None = None,
    calendar: WorkingCalendar | None = None,
    notify: bool = True,
) -> SweepResult:
    """Escalate every open case whose deadline passed by `now`; mark county cases overdue."""
    now = now or timezone.now()
    cal = calendar or WorkingCalendar()
    result = SweepResult()
    told: dict[str, list[Case]] = defaultdict(list)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SWEEP_LOCK])
        late = Case.objects.filter(is_open=True, due_at__lte=now)
        groups = list(
            late.exclude(tier=Tier.COUNTY)
            .order_by()
            .values_list("category_id", "tier", "urgent")
            .distinct()
        )
        overdue = late.filter(tier=Tier.COUNTY, overdue_at__isnull=True)
        _count_missed(late.exclude(tier=Tier.COUNTY))
        _count_missed(overdue)
        categories = Category.objects.in_bulk({g[0] for g in groups})
        due_sql = connection.ops.adapt_datetimefield_value(now)
        for category_id, tier, urgent in groups:
            up = next_tier(tier)
            assert up is not None
            category = categories[category_id]
            due, fallback = deadline_for(category, up, urgent, now, cal)
            group = late.filter(category_id=category_id, tier=tier, urgent=urgent)
            if notify:
                told[up].extend(
                    group.only("id", "tracking_code", "scope_code", "category_id", "tier")
                )
            _insert_events(
                "is_open = %s AND due_at <= %s AND category_id = %s AND tier = %s AND urgent = %s",
                [True, due_sql, category_id, tier, urgent],
                CaseEvent.Action.AUTO_ESCALATE,
                up,
                now,
                {"due": due.isoformat(), "fallback": fallback},
            )
            n = group.update(
                tier=up,
                due_at=due,
                due_fallback=fallback,
                tier_started_at=now,
                missed_deadline=True,
                escalations=F("escalations") + 1,
                assignee=None,
                stage=When_(
                    When(
                        stage__in=[Stage.DISPATCHED, Stage.IN_PROGRESS], then=Value(Stage.ACCEPTED)
                    ),
                    default=F("stage"),
                ),
                version=F("version") + 1,
                updated_at=now,
                **{f"hours_{tier}": F(f"hours_{tier}") + _hours_since("tier_started_at", now)},
            )
            result.escalated += n
            result.by_tier[up] = result.by_tier.get(up, 0) + n
            result.fallback_deadlines += n if fallback else 0
        if overdue.exists():
            if notify:
                told[Tier.COUNTY].extend(
                    overdue.only("id", "tracking_code", "scope_code", "category_id", "tier")
                )
            _insert_events(
                "is_open = %s AND due_at <= %s AND tier = %s AND overdue_at IS NULL",
                [True, due_sql, Tier.COUNTY],
                CaseEvent.Action.OVERDUE,
                "",
                now,
                {},
            )
            result.overdue = overdue.update(
                overdue_at=now, missed_deadline=True, version=F("version") + 1, updated_at=now
            )
        if result.escalated or result.overdue:
            audit.record(
                "update",
                object_type="cases.case",
                object_repr=_("Deadline sweep: %(e)d escalated, %(o)d overdue at county tier")
                % {"e": result.escalated, "o": result.overdue},
                changes={
                    "escalated_to": result.by_tier,
                    "overdue": result.overdue,
                    "now": now.isoformat(),
                },
                reason="deadline sweep",
            )
        if notify:
            from .services import _tell_tier

            for tier, cases in told.items():
                subject = (
                    _("%(n)d cases overdue at the county tier") % {"n": len(cases)}
                    if tier == Tier.COUNTY and result.overdue and not result.by_tier.get(tier)
                    else _("%(n)d cases escalated to you: deadline passed") % {"n": len(cases)}
                )
                _tell_tier(cases, tier, subject)
    return result

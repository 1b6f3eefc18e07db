"""The escalation sweep: open cases whose deadline passed go up one tier.

Set-wise, so that 50,000 overdue cases take a handful of statements rather than 50,000 round
trips, and each statement touches only the overdue rows:

1. one read of the overdue cases through the partial index `case_open_due` (open cases by
   deadline; on SQLite named with INDEXED BY, since its planner has no statistics and would
   otherwise wander off through the category index);
2. in Python, the new tier and deadline of each (category, tier, urgent) group — every case of a
   group starts its new tier now, so one calendar computation serves the group;
3. a scratch table of (case, new tier, new deadline), then one INSERT … SELECT for the timeline
   events, one UPDATE … FROM for the escalations and one for the cases overdue at the county
   tier (nowhere to go: marked once), one upsert per statistics bucket touched.

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
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.core.bulk import insert_raw

from . import stats
from .models import Case, CaseEvent, CaseStatBucket, Category, Stage, Tier, next_tier
from .services import SYSTEM, deadline_for
from .workdays import WorkingCalendar

_SWEEP_LOCK = 0x6772_6373  # "grcs": the advisory lock key on PostgreSQL
_SCRATCH = "grassroots_sweep"
SQLITE_CACHE_KIB = 256 * 1024
_SCRATCH_COLUMNS = [
    "case_id",
    "old_tier",
    "new_tier",
    "due_at",
    "due_fallback",
    "action",
    "data",
    "scope_code",
    "reported_on",
    "first_miss",
    "deferred",
]
TIERS = [t.value for t in Tier]


@dataclass
class SweepResult:
    escalated: int = 0
    overdue: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)
    fallback_deadlines: int = 0


@dataclass
class _Late:
    id: int
    tracking_code: str
    category_id: int
    tier: str
    urgent: bool
    scope_code: str
    reported_on: Any
    deferred: bool
    missed: bool
    overdue: bool  # already marked overdue at the county tier


def _overdue_cases(now: datetime.datetime) -> list[_Late]:
    """Open cases whose deadline passed, read through the partial index on the deadline."""
    table = Case._meta.db_table
    hint = " INDEXED BY case_open_due" if connection.vendor == "sqlite" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, tracking_code, category_id, tier, urgent, scope_code, reported_on,"
            f" deferred, missed_deadline, overdue_at IS NOT NULL FROM {table}{hint}"
            " WHERE is_open AND due_at <= %s",
            [connection.ops.adapt_datetimefield_value(now)],
        )
        rows = cursor.fetchall()
    return [
        _Late(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], bool(r[7]), bool(r[8]), bool(r[9]))
        for r in rows
    ]


def _hours_since_start(now: datetime.datetime) -> tuple[str, list[Any]]:
    """SQL for the clock hours from a case's `tier_started_at` to `now`."""
    if connection.vendor == "postgresql":
        return "EXTRACT(EPOCH FROM (%s - tier_started_at)) / 3600.0", [now]
    # Django keeps SQLite datetimes as UTC text, which julianday() reads.
    value = now.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(" ")
    return "(julianday(%s) - julianday(tier_started_at)) * 24.0", [value]


def sweep(
    now: datetime.datetime | None = None,
    calendar: WorkingCalendar | None = None,
    notify: bool = True,
) -> SweepResult:
    """Escalate every open case whose deadline passed by `now`; mark county cases overdue."""
    now = now or timezone.now()
    cal = calendar or WorkingCalendar()
    result = SweepResult()
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SWEEP_LOCK])
                # Its two big statements are not worth compiling (JIT) each time.
                cursor.execute("SET LOCAL jit = off")
            else:
                # A larger page cache for this connection (the worker's): the sweep's reads and
                # writes land all over the case table and its indexes.
                cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        late = [c for c in _overdue_cases(now) if not (c.tier == Tier.COUNTY and c.overdue)]
        if not late:
            return result

        # The new tier and deadline of each group.
        groups = {(c.category_id, c.tier, c.urgent) for c in late if c.tier != Tier.COUNTY}
        categories = Category.objects.in_bulk({g[0] for g in groups})
        moves: dict[tuple[int, str, bool], tuple[str, datetime.datetime, bool]] = {}
        for category_id, tier, urgent in groups:
            up = next_tier(tier)
            assert up is not None
            due, fallback = deadline_for(categories[category_id], up, urgent, now, cal)
            moves[(category_id, tier, urgent)] = (up, due, fallback)

        scratch_rows = []
        told: dict[str, list[Case]] = defaultdict(list)
        for c in late:
            move = moves.get((c.category_id, c.tier, c.urgent))
            if move is None:  # county tier: overdue
                new_tier, due_value, fallback, action = "", None, False, CaseEvent.Action.OVERDUE
                data: dict[str, Any] = {}
                result.overdue += 1
                told[Tier.COUNTY].append(_light(c))
            else:
                new_tier, due, fallback = move
                due_value = connection.ops.adapt_datetimefield_value(due)
                action = CaseEvent.Action.AUTO_ESCALATE
                data = {"due": due.isoformat(), "fallback": fallback}
                result.escalated += 1
                result.by_tier[new_tier] = result.by_tier.get(new_tier, 0) + 1
                result.fallback_deadlines += fallback
                told[new_tier].append(_light(c))
            scratch_rows.append(
                [
                    c.id,
                    c.tier,
                    new_tier,
                    due_value,
                    fallback,
                    action,
                    json.dumps(data),
                    c.scope_code,
                    connection.ops.adapt_datefield_value(c.reported_on),
                    not c.missed,
                    c.deferred,
                ]
            )
        _write(scratch_rows, now)

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
                    if tier == Tier.COUNTY and not result.by_tier.get(tier)
                    else _("%(n)d cases escalated to you: deadline passed") % {"n": len(cases)}
                )
                _tell_tier(cases, tier, subject)
    return result


def _light(c: _Late) -> Case:
    """What the notifications need of a case, without loading it or running Model.__init__
    (which costs more than the rest of the sweep for 50,000 cases). The other fields are
    deferred: reading one would load it, and notify reads none."""
    case = Case.__new__(Case)
    case.__dict__.update(
        id=c.id,
        tracking_code=c.tracking_code,
        scope_code=c.scope_code,
        category_id=c.category_id,
        tier=c.tier,
    )
    case._state = ModelState()
    case._state.adding = False
    case._state.db = "default"
    return case


def _write(rows: list[list[Any]], now: datetime.datetime) -> None:
    """Timeline events, statistics deltas and the escalations or overdue marks of the cases
    in the scratch table."""
    qn = connection.ops.quote_name
    cases = qn(Case._meta.db_table)
    events = qn(CaseEvent._meta.db_table)
    buckets = qn(CaseStatBucket._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(now)
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_SCRATCH}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_SCRATCH} (case_id bigint PRIMARY KEY,"
            " old_tier varchar(8), new_tier varchar(8), due_at "
            + ("timestamp with time zone" if pg else "datetime")
            + ", due_fallback boolean, action varchar(16), data text, scope_code varchar(15),"
            " reported_on date, first_miss boolean, deferred boolean)"
        )
        if pg:
            with cursor.copy(f"COPY {_SCRATCH} ({', '.join(_SCRATCH_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            insert_raw(_SCRATCH, _SCRATCH_COLUMNS, rows)
        # The cases missing their first deadline now become "due" in their bucket.
        zeros = ", ".join("0" for c in stats.COLUMNS if c not in ("due", "deferred"))
        others = [c for c in stats.COLUMNS if c not in ("due", "deferred")]
        cursor.execute(
            f"INSERT INTO {buckets} (scope_code, day, due, deferred, {', '.join(others)})"
            " SELECT scope_code, reported_on, COUNT(*),"
            f" SUM(CASE WHEN deferred THEN 1 ELSE 0 END), {zeros}"
            f" FROM {_SCRATCH} WHERE first_miss GROUP BY scope_code, reported_on"
            " ON CONFLICT (scope_code, day) DO UPDATE SET"
            f" due = {buckets}.due + excluded.due,"
            f" deferred = {buckets}.deferred + excluded.deferred"
        )
        data = "CAST(s.data AS jsonb)" if pg else "s.data"
        cursor.execute(
            f"INSERT INTO {events} (case_id, at, actor_id, actor_name, action, from_stage,"
            " to_stage, from_tier, to_tier, note, data, scope_code)"
            f" SELECT s.case_id, %s, NULL, %s, s.action, '', '', s.old_tier, s.new_tier, '',"
            f" {data}, s.scope_code FROM {_SCRATCH} s",
            [at, SYSTEM],
        )
        hours, hours_params = _hours_since_start(now)
        spent = ", ".join(
            f"hours_{t} = hours_{t} + CASE WHEN s.old_tier = %s THEN {hours} ELSE 0 END"
            for t in TIERS
        )
        spent_params: list[Any] = []
        for t in TIERS:
            spent_params += [t, *hours_params]
        working = (Stage.DISPATCHED, Stage.IN_PROGRESS)
        cursor.execute(
            f"UPDATE {cases} SET {spent}, tier = s.new_tier, due_at = s.due_at,"
            " due_fallback = s.due_fallback, tier_started_at = %s, missed_deadline = %s,"
            " escalations = escalations + 1, assignee_id = NULL,"
            " stage = CASE WHEN stage IN (%s, %s) THEN %s ELSE stage END,"
            " version = version + 1, updated_at = %s"
            f" FROM {_SCRATCH} s WHERE {cases}.id = s.case_id AND s.new_tier <> ''",
            [*spent_params, at, True, *working, Stage.ACCEPTED, at],
        )
        cursor.execute(
            f"UPDATE {cases} SET overdue_at = %s, missed_deadline = %s,"
            " version = version + 1, updated_at = %s"
            f" FROM {_SCRATCH} s WHERE {cases}.id = s.case_id AND s.new_tier = ''",
            [at, True, at],
        )
        cursor.execute(f"DROP TABLE {_SCRATCH}")

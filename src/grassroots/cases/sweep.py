"""The deadline sweep: open cases whose tier's deadline passed go up one tier, and open cases
whose due date passed are marked (they can no longer close on time, and count as due).

Two deadlines (deadlines.py): the tier's deadline (`tier_due_at`) decides escalation, the case's
due date (`due_at`, the promise made at intake) decides "overdue" (models.overdue_q). Set-wise,
so that 50,000 late cases take a handful of statements rather than 50,000 round trips, and each
statement touches only the rows concerned:

1. two reads through partial indexes: open cases whose tier's deadline passed
   (`case_open_tier_due`), and open cases past their due date not yet marked
   (`case_open_promise`); both are ORM queries (compiled once, their rows read as the database
   gives them), which the planners (SQLite's without statistics too) serve from those indexes:
   tests/cases/test_deadlines.py checks the plans;
2. in Python, the new tier and deadline of each (category, tier, urgent) group — every case of a
   group starts its new tier now, so one calendar computation serves the group;
3. a scratch table of (case, new tier, its deadline, newly past its due date), then one
   INSERT … SELECT for the timeline events, one UPDATE … FROM for the escalations and one for
   the cases that stay where they are (overdue at the county tier, nowhere to go: marked once;
   or only past their due date), one upsert per statistics bucket touched.

Idempotent: an escalated case has a tier deadline in the future, an overdue county case carries
`overdue_at`, a case past its due date `missed_deadline`, so a second run with the same `now`
finds nothing. Two sweeps never interleave: SQLite transactions here take the write lock when
they begin (transaction_mode IMMEDIATE), and on PostgreSQL the sweep holds a transaction-level
advisory lock.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections, transaction
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.core.bulk import insert_raw

from . import notify as tell
from . import stats
from .deadlines import deadline_for
from .models import Case, CaseEvent, CaseStatBucket, Category, Stage, Tier, next_tier, overdue_q
from .timeline import SYSTEM
from .workdays import WorkingCalendar

_SWEEP_LOCK = 0x6772_6373  # "grcs": the advisory lock key on PostgreSQL
_SCRATCH = "grassroots_sweep"
SQLITE_CACHE_KIB = 256 * 1024
# The partial indexes the two reads are made for (models.Case.Meta.indexes).
TIER_DUE_INDEX = "case_open_tier_due"
PROMISE_INDEX = "case_open_promise"
_SCRATCH_COLUMNS = [
    "case_id",
    "old_tier",
    "new_tier",
    "tier_due_at",
    "tier_due_fallback",
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
    # Cases that passed their due date since the last sweep (escalated or not).
    missed: int = 0


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
    overdue: bool  # already marked overdue at the county tier
    assignee_id: int | None


def tier_deadline_passed(now: datetime.datetime) -> Any:
    """Open cases whose tier's deadline passed by `now` (index case_open_tier_due)."""
    return Case.objects.filter(is_open=True, tier_due_at__lte=now).order_by()


def newly_past_due(now: datetime.datetime) -> Any:
    """Open cases past their due date by `now` and not marked yet (index case_open_promise)."""
    return Case.objects.filter(overdue_q(now), missed_deadline=False).order_by()


# The columns each read gives.
_READS: dict[str, tuple[Callable[[datetime.datetime], Any], tuple[str, ...]]] = {
    "late": (
        tier_deadline_passed,
        (
            "id",
            "tracking_code",
            "category_id",
            "tier",
            "urgent",
            "scope_code",
            "reported_on",
            "deferred",
            "overdue_at",
            "assignee_id",
        ),
    ),
    "passing": (newly_past_due, ("id", "scope_code", "reported_on", "deferred")),
}
# A moment no read is ever made at: the reads are compiled once with it, then run with `now`.
_ANY_MOMENT = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC)


@functools.cache
def _compiled(read: str, alias: str) -> tuple[str, int]:
    """(SQL, number of parameters) of one of the reads, whose only parameter is the moment."""
    make, columns = _READS[read]
    sql, params = make(_ANY_MOMENT).values_list(*columns).query.sql_with_params()
    moment = connections[alias].ops.adapt_datetimefield_value(_ANY_MOMENT)
    assert all(p == moment for p in params), params
    return sql, len(params)


def _rows(read: str, now: datetime.datetime) -> list[tuple[Any, ...]]:
    """The rows of a read at `now`, as the database gives them: the sweep reads thousands, and
    runs every few minutes (compiled once, no conversion per value)."""
    sql, count = _compiled(read, connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now)] * count)
        return cursor.fetchall()


def _late_cases(now: datetime.datetime) -> list[_Late]:
    return [
        _Late(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], bool(r[7]), r[8] is not None, r[9])
        for r in _rows("late", now)
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
    """Escalate every open case whose tier's deadline passed by `now` (mark it overdue at the
    county tier), and mark every open case whose due date passed."""
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
        late = [c for c in _late_cases(now) if not (c.tier == Tier.COUNTY and c.overdue)]
        # The cases passing their due date now: marked, and counted as due (those escalated
        # too, in the same statement as their escalation).
        passing = {row[0]: row for row in _rows("passing", now)}
        if not late and not passing:
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
        # Who lost the escalated cases: their assignee, else the tier they left.
        left_tier: dict[str, list[Case]] = defaultdict(list)
        left_holder: dict[int, list[Case]] = defaultdict(list)
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
                data = {"tier_due": due.isoformat(), "fallback": fallback}
                result.escalated += 1
                result.by_tier[new_tier] = result.by_tier.get(new_tier, 0) + 1
                result.fallback_deadlines += fallback
                light = _light(c)
                told[new_tier].append(light)
                if c.assignee_id is not None:
                    left_holder[c.assignee_id].append(light)
                else:
                    left_tier[c.tier].append(light)
            first_miss = passing.pop(c.id, None) is not None
            result.missed += first_miss
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
                    first_miss,
                    c.deferred,
                ]
            )
        for case_id, scope_code, reported_on, deferred in passing.values():
            result.missed += 1
            scratch_rows.append(
                [
                    case_id,
                    "",
                    "",
                    None,
                    False,
                    "",
                    "{}",
                    scope_code,
                    connection.ops.adapt_datefield_value(reported_on),
                    True,
                    bool(deferred),
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
                "past_due": result.missed,
                "now": now.isoformat(),
            },
            reason="deadline sweep",
        )
        if notify:
            tell.cases_swept(told, result.by_tier)
            tell.cases_left(left_tier, left_holder)
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
    """Timeline events, statistics deltas, and the escalations, overdue marks and due-date marks
    of the cases in the scratch table."""
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
            " old_tier varchar(8), new_tier varchar(8), tier_due_at "
            + ("timestamp with time zone" if pg else "datetime")
            + ", tier_due_fallback boolean, action varchar(16), data text,"
            " scope_code varchar(15), reported_on date, first_miss boolean, deferred boolean)"
        )
        if pg:
            with cursor.copy(f"COPY {_SCRATCH} ({', '.join(_SCRATCH_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            insert_raw(_SCRATCH, _SCRATCH_COLUMNS, rows)
        # The cases passing their due date now become "due" in their bucket.
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
            f" {data}, s.scope_code FROM {_SCRATCH} s WHERE s.action <> ''",
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
        # The due date stays: only the tier, its deadline and its queue change.
        cursor.execute(
            f"UPDATE {cases} SET {spent}, tier = s.new_tier, tier_due_at = s.tier_due_at,"
            " tier_due_fallback = s.tier_due_fallback, tier_started_at = %s,"
            " missed_deadline = (missed_deadline OR s.first_miss),"
            " escalations = escalations + 1, assignee_id = NULL,"
            " stage = CASE WHEN stage IN (%s, %s) THEN %s ELSE stage END,"
            " version = version + 1, updated_at = %s"
            f" FROM {_SCRATCH} s WHERE {cases}.id = s.case_id AND s.new_tier <> ''",
            [*spent_params, at, *working, Stage.ACCEPTED, at],
        )
        cursor.execute(
            f"UPDATE {cases} SET overdue_at = CASE WHEN s.action = %s THEN %s ELSE overdue_at"
            " END, missed_deadline = (missed_deadline OR s.first_miss),"
            " version = version + 1, updated_at = %s"
            f" FROM {_SCRATCH} s WHERE {cases}.id = s.case_id AND s.new_tier = ''",
            [CaseEvent.Action.OVERDUE, at, at],
        )
        cursor.execute(f"DROP TABLE {_SCRATCH}")

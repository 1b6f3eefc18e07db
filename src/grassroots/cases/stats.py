"""Case indicators for any scope and period, from per-grid, per-day buckets.

A bucket holds the counts of the cases reported in one grid (or one unit's queue) on one day.
The services keep buckets in step: each change computes the case's contribution before and after
and adds the difference, in the same transaction (`apply_delta`); the sweep adds its own
difference set-wise. `rebuild_buckets()` recomputes every bucket from the cases, and the tests
check that both ways agree. The indicators then sum a few thousand bucket rows instead of
millions of cases.

Definitions (DOMAIN.md, "Indicators"), over the cases reported in the period; each formula is
written once, in `rates()`, which the API, the command and the dashboard's cards and trend use:
- cases_total: reported, less those merged into another case;
- closure rate: closed (or rated) / (cases_total − rejected);
- on-time closure rate: closed on time / (due − deferred), where "due" is every case that is
  closed or still open past its due date (the promise made at intake, models.overdue_q; the
  sweep marks it: missed_deadline), "on time" is handled by the due date without it ever
  passing, and deferred ones (deadline extended) count in neither part;
- rework rate: closed cases that were sent back or reopened at least once / closed;
- satisfaction rate: ratings of 4 or 5 / ratings;
- grid-tier share: closed cases handled at grid tier / closed ("小事不出网格");
- average hours per tier: clock hours worked at each tier, over the closed cases that were there.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from grassroots.core.scoping import Scope

from .models import DONE_STAGES, OPEN_STAGES, Case, CaseStatBucket, Stage, Tier

TIERS = [t.value for t in Tier]
COUNTS = [
    "total",
    "rejected",
    "merged",
    "closed",
    "closed_on_time",
    "due",
    "deferred",
    "reworked",
    "rated",
    "satisfied",
    "settled_at_grid",
    *[f"spans_{t}" for t in TIERS],
]
SUMS = [f"hours_{t}" for t in TIERS]
COLUMNS = COUNTS + SUMS
Key = tuple[str, datetime.date]


def contribution(case: Case) -> tuple[Key, dict[str, float]]:
    """What one case adds to its bucket, in its present state."""
    closed = case.stage in DONE_STAGES
    due = closed or (case.missed_deadline and case.stage in OPEN_STAGES)
    deferred = due and case.deferred
    values: dict[str, float] = {
        "total": 1,
        "rejected": case.stage == Stage.REJECTED,
        "merged": case.stage == Stage.MERGED,
        "closed": closed,
        "closed_on_time": closed and bool(case.closed_on_time) and not case.deferred,
        "due": due,
        "deferred": deferred,
        "reworked": closed and case.reworks > 0,
        "rated": case.rating is not None,
        "satisfied": case.rating is not None and case.rating >= 4,
        "settled_at_grid": closed and case.handled_tier == Tier.GRID,
    }
    for tier in TIERS:
        hours = getattr(case, f"hours_{tier}")
        values[f"spans_{tier}"] = closed and hours > 0
        values[f"hours_{tier}"] = hours if closed else 0.0
    return (case.scope_code, case.reported_on), {k: float(v) for k, v in values.items()}


def upsert_sql() -> str:
    table = CaseStatBucket._meta.db_table
    columns = ", ".join(COLUMNS)
    marks = ", ".join(["%s"] * (len(COLUMNS) + 2))
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COLUMNS)
    return (
        f"INSERT INTO {table} (scope_code, day, {columns}) VALUES ({marks}) "
        f"ON CONFLICT (scope_code, day) DO UPDATE SET {updates}"
    )


def apply_delta(
    case: Case,
    before: tuple[Key, dict[str, float]] | None,
    after: tuple[Key, dict[str, float]] | None,
) -> None:
    """Add (after − before) to the buckets; call inside the transaction of the change."""
    changes: dict[Key, dict[str, float]] = {}
    for sign, part in ((-1.0, before), (1.0, after)):
        if part is None:
            continue
        key, values = part
        bucket = changes.setdefault(key, dict.fromkeys(COLUMNS, 0.0))
        for name, value in values.items():
            bucket[name] += sign * value
    rows = []
    for (scope_code, day), values in changes.items():
        if not any(values.values()):
            continue
        rows.append(
            [
                scope_code,
                connection.ops.adapt_datefield_value(day),
                *[int(values[c]) if c in COUNTS else values[c] for c in COLUMNS],
            ]
        )
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(upsert_sql(), rows)


def bucket_aggregates() -> dict[str, Any]:
    """The bucket columns as aggregates over cases (the same definitions as `contribution`)."""
    closed = Q(stage__in=list(DONE_STAGES))
    due = closed | Q(missed_deadline=True, stage__in=list(OPEN_STAGES))
    aggregates: dict[str, Any] = {
        "total": Count("id"),
        "rejected": Count("id", filter=Q(stage=Stage.REJECTED)),
        "merged": Count("id", filter=Q(stage=Stage.MERGED)),
        "closed": Count("id", filter=closed),
        "closed_on_time": Count("id", filter=closed & Q(closed_on_time=True, deferred=False)),
        "due": Count("id", filter=due),
        "deferred": Count("id", filter=due & Q(deferred=True)),
        "reworked": Count("id", filter=closed & Q(reworks__gt=0)),
        "rated": Count("id", filter=Q(rating__isnull=False)),
        "satisfied": Count("id", filter=Q(rating__gte=4)),
        "settled_at_grid": Count("id", filter=closed & Q(handled_tier=Tier.GRID)),
    }
    for tier in TIERS:
        aggregates[f"spans_{tier}"] = Count("id", filter=closed & Q(**{f"hours_{tier}__gt": 0}))
        aggregates[f"hours_{tier}"] = Sum(f"hours_{tier}", filter=closed, default=0.0)
    return aggregates


def bucket_rows_from_cases(cases: Any = None) -> Any:
    """Bucket values computed from the cases, per scope code and day."""
    qs = Case.objects.all() if cases is None else cases
    return (
        qs.order_by()
        .values("scope_code", "reported_on")
        .annotate(**bucket_aggregates())
        .values_list("scope_code", "reported_on", *COLUMNS)
    )


def rebuild_buckets(batch: int = 5000) -> int:
    """Recompute every bucket from the cases; returns the number of buckets."""
    with transaction.atomic():
        CaseStatBucket.objects.all().delete()
        rows = []
        count = 0
        for scope_code, day, *values in bucket_rows_from_cases().iterator(chunk_size=batch):
            rows.append(
                CaseStatBucket(
                    scope_code=scope_code, day=day, **dict(zip(COLUMNS, values, strict=True))
                )
            )
            if len(rows) >= batch:
                CaseStatBucket.objects.bulk_create(rows)
                count += len(rows)
                rows = []
        CaseStatBucket.objects.bulk_create(rows)
        return count + len(rows)


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def cases_total(sums: Mapping[str, float]) -> int:
    """Cases reported, less those merged into another."""
    return int(sums["total"] - sums["merged"])


def on_time_closure_rate(sums: Mapping[str, float]) -> float | None:
    """按期结案率: closed on time / (due − deferred)."""
    return _rate(sums["closed_on_time"], sums["due"] - sums["deferred"])


def rates(sums: Mapping[str, float]) -> dict[str, Any]:
    """The indicators from summed bucket columns (any scope and period, or one week of it)."""
    closed = sums["closed"]
    return {
        "closure_rate": _rate(closed, cases_total(sums) - sums["rejected"]),
        "on_time_closure_rate": on_time_closure_rate(sums),
        "rework_rate": _rate(sums["reworked"], closed),
        "satisfaction_rate": _rate(sums["satisfied"], sums["rated"]),
        "grid_tier_share": _rate(sums["settled_at_grid"], closed),
        "avg_hours_by_tier": {
            tier: (
                round(sums[f"hours_{tier}"] / sums[f"spans_{tier}"], 2)
                if sums[f"spans_{tier}"]
                else None
            )
            for tier in TIERS
        },
    }


def indicators(
    scope_code: str | None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    *,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """The indicators of the cases reported under `scope_code` between `since` and `until`."""
    where = (
        scope if scope is not None else (Scope.of(scope_code) if scope_code else Scope.everything())
    )
    qs = CaseStatBucket.objects.filter(where.q("scope_code"))
    if since is not None:
        qs = qs.filter(day__gte=since)
    if until is not None:
        qs = qs.filter(day__lte=until)
    sums = qs.aggregate(**{c: Sum(c, default=0) for c in COLUMNS})
    return {
        "scope": scope_code or "",
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "cases_total": cases_total(sums),
        "closed": int(sums["closed"]),
        "rejected": int(sums["rejected"]),
        **rates(sums),
    }

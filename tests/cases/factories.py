"""Cases for tests, written directly (no intake rules, no timeline): a place, a category, a kind."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from django.utils import timezone

from grassroots.cases.models import Case, Category

_seq = itertools.count(1)


def case(
    grid: Any = None,
    *,
    unit: Any = None,
    category: str = "environment",
    description: str = "小区门口垃圾堆放很久没人清理",
    kind: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    reported_at: datetime.datetime | None = None,
    household: Any = None,
    **extra: Any,
) -> Case:
    """A case in `grid` (at a point inside it unless lon/lat are given) or in `unit`'s queue."""
    cat = Category.objects.get(code=category)
    at = reported_at or timezone.now()
    if grid is not None and lon is None:
        lon, lat = grid.min_lon + 0.005, grid.min_lat + 0.005
    return Case.objects.create(
        tracking_code=f"T{next(_seq):09d}",
        kind=kind or cat.kind,
        category=cat,
        channel=extra.pop("channel", Case.Channel.PORTAL),
        description=description,
        lon=lon,
        lat=lat,
        unit=grid.unit if grid is not None else unit,
        grid=grid,
        scope_code=grid.code if grid is not None else unit.code,
        tier=extra.pop("tier", "grid"),
        tier_started_at=at,
        due_at=at + datetime.timedelta(days=3),
        reported_at=at,
        reported_on=timezone.localdate(at),
        reporter_household=household,
        **extra,
    )

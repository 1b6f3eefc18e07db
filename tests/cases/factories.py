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
        tier_due_at=at + datetime.timedelta(days=3),
        reported_at=at,
        reported_on=timezone.localdate(at),
        reporter_household=household,
        **extra,
    )


def merged_pair(world: Any, phone: str) -> tuple[Case, Case]:
    """(main, duplicate): another person's request, with their name, phone and address in it,
    and a request reported with `phone` at the same place, merged into it by the dispatcher.
    Through the services, as the portal would see them."""
    from grassroots.cases import services

    grid = world.grid_a11
    place = {
        "actor": None,
        "channel": "portal",
        "category": "environment",
        "lon": (grid.min_lon + grid.max_lon) / 2,
        "lat": (grid.min_lat + grid.max_lat) / 2,
    }
    main = services.case_report(
        **place,
        description="李四家门口路灯坏了，电话13800138000",
        address="水东路12号",
        reporter_name="李四",
        reporter_phone="13800138000",
    )
    duplicate = services.case_report(
        **place, description="这里的路灯不亮，晚上很黑", reporter_phone=phone
    )
    services.case_merge(duplicate, actor=world.users["dispatcher"], main=main)
    return main, duplicate

"""Cases fixtures: the world of tests/conftest.py, a working calendar without surprises, and
a helper that reports a case at a point inside a grid."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from grassroots.cases import services
from grassroots.cases.models import Case

# Monday 2 March 2026, 09:00 in China: no holiday within two weeks either side.
MONDAY = timezone.make_aware(datetime.datetime(2026, 3, 2, 9, 0))


def centre(grid: Any) -> tuple[float, float]:
    return ((grid.min_lon + grid.max_lon) / 2, (grid.min_lat + grid.max_lat) / 2)


@pytest.fixture
def report(world: Any) -> Any:
    """report(grid=world.grid_a11, category="environment", **more) -> Case."""

    def make(grid: Any = None, category: str = "environment", **more: Any) -> Case:
        grid = grid or world.grid_a11
        lon, lat = centre(grid)
        fields: dict[str, Any] = {
            "actor": None,
            "channel": "portal",
            "category": category,
            "description": "路灯坏了，晚上很黑",
            "lon": lon,
            "lat": lat,
            "reporter_phone": "13800138000",
            "reported_at": MONDAY,
            "now": MONDAY,
        }
        fields.update(more)
        return services.case_report(**fields)

    return make

"""Shared fixtures: a small county with two towns, and personas around it.

    350426 尤溪县
      350426100 城关镇 (town A)
        350426100001 水东社区 (village A1): grids A1-1 (…001001) and A1-2 (…001002)
        350426100002 西门社区 (village A2): grid A2-1 (…002001)
      350426101 梅仙镇 (town B)
        350426101201 半山村 (village B1): grid B1-1 (…201001)

Personas: admin (county), official (town A), secretary (village A1), worker (grid A1-1),
worker2 (grids A1-2 and A2-1), outsider (town B official), auditor (county), dispatcher (town A).
Each grid holds households; household codes are HA11-1.., HA12-1.., HA21-1.., HB11-1...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests import factories as f


@dataclass
class World:
    county: Any
    town_a: Any
    town_b: Any
    village_a1: Any
    village_a2: Any
    village_b1: Any
    grid_a11: Any
    grid_a12: Any
    grid_a21: Any
    grid_b11: Any
    households: dict[str, Any]
    residents: dict[str, Any]
    users: dict[str, Any]


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """The browser tests (tests/browser) run last: once Chromium is open, an event loop runs in
    the test thread until the end of the session, which other tests need not live with."""
    for item in items:
        if item.nodeid.startswith("tests/browser/"):
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    """The personas' passwords need no real hashing cost in tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db: Any) -> World:
    county = f.unit("350426", "尤溪县")
    town_a = f.unit("350426100", "城关镇")
    town_b = f.unit("350426101", "梅仙镇")
    village_a1 = f.unit("350426100001", "水东社区", "community")
    village_a2 = f.unit("350426100002", "西门社区", "community")
    village_b1 = f.unit("350426101201", "半山村", "village")
    grid_a11 = f.grid("350426100001001", 118.10, 26.10, name="水东一网格")
    grid_a12 = f.grid("350426100001002", 118.11, 26.10, name="水东二网格")
    grid_a21 = f.grid("350426100002001", 118.12, 26.10, name="西门一网格")
    grid_b11 = f.grid("350426101201001", 118.20, 26.20, name="半山一网格")
    households, residents = {}, {}
    names = {"A11": ["赵光菊", "钱多多"], "A12": ["孙悟空"], "A21": ["李白"], "B11": ["周杰伦"]}
    for key, g in (("A11", grid_a11), ("A12", grid_a12), ("A21", grid_a21), ("B11", grid_b11)):
        for i, name in enumerate(names[key], start=1):
            h = f.household(f"H{key}-{i}", g)
            households[h.code] = h
            residents[name] = f.resident(name, h, relation="head")
    users = {
        "admin": f.user("admin", "county_admin", "350426"),
        "official": f.user("official", "town_official", "350426100"),
        "secretary": f.user("secretary", "village_secretary", "350426100001"),
        "worker": f.user("worker", "grid_worker", "350426100001001"),
        "worker2": f.user("worker2", "grid_worker", "350426100001002", "350426100002001"),
        "outsider": f.user("outsider", "town_official", "350426101"),
        "auditor": f.user("auditor", "auditor", "350426"),
        "dispatcher": f.user("dispatcher", "dispatcher", "350426100"),
    }
    return World(
        county,
        town_a,
        town_b,
        village_a1,
        village_a2,
        village_b1,
        grid_a11,
        grid_a12,
        grid_a21,
        grid_b11,
        households,
        residents,
        users,
    )


@pytest.fixture(autouse=True)
def english(request: Any) -> Any:
    """Tests assert the English source messages; tests marked `chinese` see the default."""
    from django.utils import translation

    if request.node.get_closest_marker("chinese"):
        yield
        return
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def default_categories(request: Any) -> None:
    """The case categories a data migration fills: the flush after a transactional test
    removes them, so each test that uses the database gets them back when they are missing."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db", "live_server"}:
        return
    transactional = (
        "transactional_db" in names
        or "live_server" in names
        or (marker is not None and marker.kwargs.get("transaction", False))
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    import importlib

    from django.apps import apps

    importlib.import_module("grassroots.cases.migrations.0003_fill_default_categories").fill(
        apps, None
    )


@pytest.fixture(autouse=True)
def fresh_cache() -> Any:
    """Throttles (the portal's, sign-in lockouts) count in the cache: each test starts clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()

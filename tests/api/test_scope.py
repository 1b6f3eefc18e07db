"""Scope: each persona sees its own subtree through every endpoint, and nothing else.

An object outside the caller's scope answers 404 like one that does not exist, and is absent
from lists, counts, search results and the coverage audit.
"""

from __future__ import annotations

import pytest

from .conftest import body


def _detail_paths(world, enterprises):
    """(path, persona who sees it, personas who must not)."""
    return [
        ("/units/350426100001", "secretary", ["outsider", "worker"]),
        ("/grids/350426100001001", "worker", ["worker2", "outsider"]),
        (f"/households/{world.households['HA11-1'].pk}", "worker", ["worker2", "outsider"]),
        (f"/residents/{world.residents['赵光菊'].pk}", "worker", ["worker2", "outsider"]),
        (f"/enterprises/{enterprises['tea'].pk}", "worker", ["worker2", "outsider"]),
    ]


def test_it_shows_an_object_in_scope_and_hides_it_outside(world, enterprises, as_):
    for path, insider, outsiders in _detail_paths(world, enterprises):
        assert as_(insider).get(path).status_code == 200, path
        assert as_("admin").get(path).status_code == 200, path
        for persona in outsiders:
            response = as_(persona).get(path)
            assert response.status_code == 404, (path, persona)
            assert body(response) == {"detail": "Not found"}


def test_it_answers_404_for_objects_that_do_not_exist(world, as_):
    for path in [
        "/units/350426999",
        "/grids/350426100001999",
        "/households/999999",
        "/residents/999999",
        "/enterprises/999999",
    ]:
        response = as_("admin").get(path)
        assert response.status_code == 404
        assert body(response) == {"detail": "Not found"}


def _codes(response, key="code"):
    data = body(response)
    items = data["features"] if "features" in data else data["items"]
    return sorted(item["id"] if "features" in data else item[key] for item in items)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("admin", ["HA11-1", "HA11-2", "HA12-1", "HA21-1", "HB11-1"]),
        ("official", ["HA11-1", "HA11-2", "HA12-1", "HA21-1"]),
        ("secretary", ["HA11-1", "HA11-2", "HA12-1"]),
        ("worker", ["HA11-1", "HA11-2"]),
        ("worker2", ["HA12-1", "HA21-1"]),
        ("outsider", ["HB11-1"]),
        ("dispatcher", ["HA11-1", "HA11-2", "HA12-1", "HA21-1"]),
        ("auditor", ["HA11-1", "HA11-2", "HA12-1", "HA21-1", "HB11-1"]),
    ],
)
def test_it_lists_and_counts_only_households_in_scope(world, as_, persona, expected):
    response = as_(persona).get("/households")
    assert _codes(response) == expected
    assert body(response)["count"] == len(expected)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("admin", ["周杰伦", "孙悟空", "李白", "赵光菊", "钱多多"]),
        ("worker", ["赵光菊", "钱多多"]),
        ("worker2", ["孙悟空", "李白"]),
        ("outsider", ["周杰伦"]),
    ],
)
def test_it_lists_and_counts_only_residents_in_scope(world, as_, persona, expected):
    response = as_(persona).get("/residents")
    assert _codes(response, "name") == sorted(expected)
    assert body(response)["count"] == len(expected)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("admin", ["半山食用菌合作社", "水东茶业有限公司"]),
        ("secretary", ["水东茶业有限公司"]),
        ("worker", ["水东茶业有限公司"]),
        ("worker2", []),
        ("outsider", ["半山食用菌合作社"]),
    ],
)
def test_it_lists_and_counts_only_enterprises_in_scope(world, enterprises, as_, persona, expected):
    response = as_(persona).get("/enterprises")
    assert _codes(response, "name") == sorted(expected)
    assert body(response)["count"] == len(expected)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("admin", ["350426100001001", "350426100001002", "350426100002001", "350426101201001"]),
        ("secretary", ["350426100001001", "350426100001002"]),
        ("worker", ["350426100001001"]),
        ("worker2", ["350426100001002", "350426100002001"]),
        ("outsider", ["350426101201001"]),
    ],
)
def test_it_lists_and_counts_only_grids_in_scope(world, as_, persona, expected):
    response = as_(persona).get("/grids")
    assert _codes(response) == expected
    assert body(response)["count"] == len(expected)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        (
            "admin",
            ["350426", "350426100", "350426100001", "350426100002", "350426101", "350426101201"],
        ),
        ("official", ["350426100", "350426100001", "350426100002"]),
        ("secretary", ["350426100001"]),
        ("outsider", ["350426101", "350426101201"]),
        # A grid worker's scope is their grids, which lie below every unit.
        ("worker", []),
    ],
)
def test_it_lists_and_counts_only_units_in_scope(world, as_, persona, expected):
    response = as_(persona).get("/units")
    assert _codes(response) == expected
    assert body(response)["count"] == len(expected)


def test_it_gives_empty_lists_for_filters_naming_territory_outside_scope(world, enterprises, as_):
    town_b, grid_b = "350426101", "350426101201001"
    for path in ["/households", "/residents", "/enterprises"]:
        for params in ({"unit": town_b}, {"grid": grid_b}):
            data = body(as_("official").get(path, **params))
            assert (data["count"], data["items"]) == (0, []), (path, params)
    assert body(as_("official").get("/grids", unit=town_b))["features"] == []
    assert body(as_("official").get("/units", parent=town_b))["items"] == []
    # A resident filter naming another town's household finds nobody either.
    other = world.households["HB11-1"].pk
    assert body(as_("official").get("/residents", household=other))["count"] == 0


@pytest.mark.parametrize(
    ("q", "kind"),
    [
        ("周杰伦", "residents"),
        ("zjl", "residents"),
        ("HB11", "households"),
        ("食用菌", "enterprises"),
    ],
)
def test_it_finds_nothing_outside_scope(world, enterprises, as_, q, kind):
    assert body(as_("outsider").get("/search", q=q))[kind]["count"] == 1
    for persona in ("official", "secretary", "worker", "worker2"):
        section = body(as_(persona).get("/search", q=q))[kind]
        assert section == {"count": 0, "items": []}, persona


def test_it_audits_coverage_only_inside_scope(world, as_):
    from tests import factories as f

    # A household without a grid in town A; town B's official must not see it anywhere.
    f.household("HA1-NOGRID", unit_=world.village_a1)
    outsider = body(as_("outsider").get("/audit/coverage"))
    assert outsider["households_total"] == 1
    assert outsider["households_without_grid"] == 0
    assert "HA1-NOGRID" not in str(outsider)
    official = body(as_("official").get("/audit/coverage"))
    assert official["households_total"] == 5
    assert official["samples"]["households_without_grid"] == ["HA1-NOGRID"]
    # Naming a node outside the scope is 404, like a node that does not exist.
    for scope in ("350426100", "350426100001", "350426100001001", "350426"):
        response = as_("outsider").get("/audit/coverage", scope=scope)
        assert response.status_code == 404
        assert body(response) == {"detail": "Not found"}
    assert as_("outsider").get("/audit/coverage", scope="350426999").status_code == 404

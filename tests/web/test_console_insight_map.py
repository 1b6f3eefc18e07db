"""Console map: grids under a place coloured by an indicator, the GeoJSON behind it, the tables."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from django.utils import timezone

from grassroots.web.console.insight_map import COLOURS, simplified
from tests import factories as f

TOWN_A_GRIDS = ["350426100001001", "350426100001002", "350426100002001"]


@pytest.fixture
def placed(world: Any, report: Any) -> None:  # noqa: F811
    """A11: one case overdue (reported in March) and one fresh; B11: one case.
    Coverage: a household of A11 lies outside its grid, one of A12 has nobody in it."""
    now = timezone.now()
    report()
    report(reported_at=now, now=now)
    report(grid=world.grid_b11)
    f.household("HA11-far", world.grid_a11, lon=118.50, lat=26.50)
    f.household("HA12-empty", world.grid_a12)


def features(client: Any, query: str) -> dict[str, Any]:
    response = client.get(f"/console/map/data/?{query}")
    assert response.status_code == 200
    data = response.json()
    assert data["type"] == "FeatureCollection"
    return {feat["id"]: feat for feat in data["features"]}


def test_it_serves_the_grids_in_scope_with_their_figures(
    world: Any, placed: Any, login: Any
) -> None:
    grids = features(login("official"), "indicator=open")
    assert sorted(grids) == TOWN_A_GRIDS  # town B's grid stays out
    a11 = grids["350426100001001"]["properties"]
    # The far household is outside its grid and has nobody in it: two problems.
    assert (a11["open"], a11["overdue"], a11["coverage"], a11["value"]) == (2, 1, 2, 2)
    assert grids["350426100001002"]["properties"]["coverage"] == 1
    assert grids["350426100002001"]["properties"]["value"] == 0
    assert grids["350426100002001"]["properties"]["colour"] == COLOURS[0]
    assert a11["colour"] != COLOURS[0]
    assert grids["350426100001001"]["geometry"]["type"] == "Polygon"
    assert a11["popup"]["title"] == "水东一网格 (350426100001001)"
    assert ["Open cases", 2] in a11["popup"]["rows"]
    for _label, url in a11["popup"]["links"]:
        assert "350426100001001" in url

    overdue = features(login("official"), "indicator=overdue&scope=350426100001")
    assert sorted(overdue) == TOWN_A_GRIDS[:2]
    assert overdue["350426100001001"]["properties"]["value"] == 1
    coverage = features(login("official"), "indicator=coverage")
    assert coverage["350426100001002"]["properties"]["value"] == 1


def test_it_counts_a_grid_without_a_worker_as_a_coverage_problem(
    world: Any, placed: Any, login: Any
) -> None:
    grids = features(login("admin"), "indicator=coverage")
    assert len(grids) == 4
    assert grids["350426101201001"]["properties"]["coverage"] == 1  # nobody serves B11
    assert grids["350426100002001"]["properties"]["coverage"] == 0


def test_it_refuses_places_outside_the_scope(world: Any, login: Any) -> None:
    official = login("official")
    assert official.get("/console/map/data/?scope=350426101").status_code == 404
    assert official.get("/console/map/?scope=350426101201001").status_code == 404
    worker = features(login("worker"), "indicator=open")
    assert list(worker) == ["350426100001001"]


def test_it_lists_the_places_below_and_the_grids_in_a_sorted_table(
    world: Any, placed: Any, login: Any
) -> None:
    html = login("official").get("/console/map/?indicator=open").content.decode()
    places = re.search(r'<table class="data" id="map-places">(.*?)</table>', html, re.S)
    assert places
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", places.group(1), re.S)
    assert len(rows) == 2 and "水东社区" in rows[0] and "西门社区" in rows[1]
    assert re.search(r'<td class="number">2</td>\s*<td class="number"><span', rows[0])
    grids = re.search(r'<table class="data" id="map-grids">(.*?)</table>', html, re.S)
    assert grids
    names = re.findall(r"(水东一网格|水东二网格|西门一网格|半山一网格)</a>", grids.group(1))
    assert names[0] == "水东一网格" and "半山一网格" not in names and len(names) == 3
    by_name = login("official").get("/console/map/?sort=name&per_page=2").content.decode()
    table = re.search(r'id="map-grids">(.*?)</table>', by_name, re.S)
    assert table and table.group(1).count("<tr>") == 3  # header and two rows
    assert "Page 1 of 2" in by_name and "3 items" in by_name
    assert "Open cases:" in html  # the legend


def test_it_adds_a_tile_layer_only_when_configured(world: Any, login: Any, settings: Any) -> None:
    assert "data-tile-url" not in login("official").get("/console/map/").content.decode()
    settings.MAP_TILE_URL = "https://tiles.example/{z}/{x}/{y}.png"
    settings.MAP_TILE_ATTRIBUTION = "© Example"
    html = login("official").get("/console/map/").content.decode()
    assert 'data-tile-url="https://tiles.example/{z}/{x}/{y}.png"' in html
    assert 'data-tile-attribution="© Example"' in html


def test_it_simplifies_large_boundaries_only() -> None:
    ring = [
        [118.1 + 0.01 * math.cos(i * math.pi / 1000), 26.1 + 0.01 * math.sin(i * math.pi / 1000)]
        for i in range(2000)
    ]
    ring.append(ring[0])
    big = {"type": "Polygon", "coordinates": [ring]}
    small = f.square(118.1, 26.1)
    assert simplified(small) is small
    smaller = simplified(big)
    assert smaller["type"] == "Polygon"
    assert 4 < len(smaller["coordinates"][0]) < len(ring) // 4


def test_it_reads_the_map_data_in_a_fixed_number_of_queries(
    world: Any, placed: Any, login: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login("official")
    client.get("/console/map/data/?indicator=coverage")
    with CaptureQueriesContext(connection) as few:
        client.get("/console/map/data/?indicator=coverage")
    for i in range(2, 7):
        f.grid(f"35042610000200{i}", 118.12 + 0.01 * i, 26.10)
    with CaptureQueriesContext(connection) as many:
        grids = features(client, "indicator=coverage")
    assert len(grids) == 8
    assert grids["350426100002006"]["properties"]["coverage"] == 1  # nobody serves it yet
    assert len(many) == len(few)

"""Console coverage audit: counts for a place, drill-down by place, the records of a problem."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse

from tests import factories as f


@pytest.fixture
def problems(world: Any) -> dict[str, Any]:
    """Records that break the rule, in town A (official's scope) and town B (not)."""
    twin = f.id_number("19700101", seq=321)
    return {
        "homeless_a": f.resident("吴无户", unit_=world.village_a1, number=f.id_number(seq=11)),
        "homeless_b": f.resident("郑无户", unit_=world.village_b1, number=f.id_number(seq=12)),
        "twin_a1": f.resident("王一", world.households["HA11-1"], number=twin),
        "twin_a2": f.resident("王二", world.households["HA12-1"], number=twin),
        "no_grid_a": f.household("HA1-nogrid", unit_=world.village_a1),
        "no_grid_b": f.household("HB1-nogrid", unit_=world.village_b1),
    }


def records(html: str) -> str:
    match = re.search(r'<table class="data" id="coverage-records">(.*?)</table>', html, re.S)
    assert match, "no record list"
    return match.group(1)


def test_it_lists_residents_without_household_in_scope_masked(
    world: Any, problems: Any, login: Any
) -> None:
    response = login("official").get("/console/coverage/?problem=residents_without_household")
    assert response.status_code == 200
    html = response.content.decode()
    table = records(html)
    homeless = problems["homeless_a"]
    assert "吴无户" in table and "郑无户" not in table
    assert homeless.id_number_masked in table
    assert homeless.id_number not in html  # never the full number
    assert re.search(r'id="problem-residents_without_household">.*?>1</span>', html, re.S)


def test_it_lists_every_holder_of_a_duplicated_id_number(
    world: Any, problems: Any, login: Any
) -> None:
    html = login("official").get("/console/coverage/?problem=duplicate_id_numbers").content.decode()
    table = records(html)
    assert "王一" in table and "王二" in table
    assert "HA11-1" in table and "HA12-1" in table
    assert problems["twin_a1"].id_number not in html
    assert table.count(problems["twin_a1"].id_number_masked) == 2
    # The worker of grid A11 sees one holder only: no duplicate within his scope.
    worker = login("worker").get("/console/coverage/?problem=duplicate_id_numbers")
    assert "王一" not in records(worker.content.decode())


def test_it_lists_households_without_grid_and_links_them(
    world: Any, problems: Any, login: Any
) -> None:
    html = (
        login("official").get("/console/coverage/?problem=households_without_grid").content.decode()
    )
    table = records(html)
    assert "HA1-nogrid" in table and "HB1-nogrid" not in table
    try:
        url = reverse("worker:household", args=[problems["no_grid_a"].pk])
    except NoReverseMatch:
        return  # the worker's household page is not there yet
    assert f'href="{url}"' in table


def test_it_lists_grids_without_a_worker_for_the_county_only(
    world: Any, problems: Any, login: Any
) -> None:
    admin = login("admin").get("/console/coverage/?problem=grids_without_worker").content.decode()
    assert "半山一网格" in records(admin)
    official = login("official").get("/console/coverage/?problem=grids_without_worker")
    assert "半山一网格" not in records(official.content.decode())


def test_it_counts_the_problems_of_each_place_below(world: Any, problems: Any, login: Any) -> None:
    html = login("official").get("/console/coverage/").content.decode()
    below = re.search(r'<table class="data" id="coverage-below">(.*?)</table>', html, re.S)
    assert below
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", below.group(1), re.S)
    assert len(rows) == 2 and "水东社区" in rows[0] and "西门社区" in rows[1]
    # 水东社区: a household without a grid (and so without members, two problems), a resident
    # without a household, one ID number held twice → 4; 西门社区: nothing.
    assert rows[0].rstrip().endswith('<td class="number">4</td>')
    assert rows[1].rstrip().endswith('<td class="number">0</td>')
    assert "coverage-records" not in html  # no problem chosen, no list
    # HA11-1, HA11-2, HA12-1 and the one without a grid.
    narrowed = login("official").get("/console/coverage/?scope=350426100001").content.decode()
    assert re.search(r'id="figure-households"><div class="value">4<', narrowed)


def test_it_pages_the_records(world: Any, login: Any) -> None:
    for i in range(30):
        f.household(f"HA1-loose-{i:02d}", unit_=world.village_a1)
    page2 = login("official").get("/console/coverage/?problem=households_without_grid&page=2")
    table = records(page2.content.decode())
    assert table.count(">HA1-loose-") == 5
    assert "HA1-loose-29" in table and "HA1-loose-00" not in table
    assert "30 items" in page2.content.decode()
    backwards = login("official").get(
        "/console/coverage/?problem=households_without_grid&sort=-code"
    )
    assert records(backwards.content.decode()).index("HA1-loose-29") < records(
        backwards.content.decode()
    ).index("HA1-loose-28")


def test_it_refuses_places_outside_the_scope_and_users_without_permission(
    world: Any, login: Any
) -> None:
    assert login("official").get("/console/coverage/?scope=350426101").status_code == 404
    assert login("secretary").get("/console/coverage/?scope=350426100002").status_code == 404
    handler = f.user("handler", "department_handler", "350426")
    assert login(handler).get("/console/coverage/").status_code == 403


def test_it_starts_a_superuser_from_the_top_units(world: Any, problems: Any, login: Any) -> None:
    root = f.user("root", "county_admin", is_superuser=True)
    client = login(root)
    html = client.get("/console/coverage/").content.decode()
    below = re.search(r'<table class="data" id="coverage-below">(.*?)</table>', html, re.S)
    assert below and "尤溪县" in below.group(1)
    assert client.get("/console/").status_code == 200
    assert len(client.get("/console/map/data/").json()["features"]) == 4

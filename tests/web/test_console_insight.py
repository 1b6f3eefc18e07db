"""Console insight pages: the dashboard of the case indicators (scope, period, charts)."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import pytest
from django.utils import timezone

from grassroots.cases import services as s
from grassroots.cases import stats
from grassroots.cases.models import Case, Category
from grassroots.core.scoping import Scope
from tests.cases.conftest import MONDAY

H = datetime.timedelta(hours=1)
MARCH = "since=2026-03-01&until=2026-03-31"


def close(case: Case, world: Any, rating: int | None = None, handler: str = "worker") -> Case:
    u = world.users
    case = s.case_accept(case, actor=u[handler], now=MONDAY)
    case = s.case_start(case, actor=u[handler], now=MONDAY)
    case = s.case_handle(case, actor=u[handler], note="处理完毕", now=MONDAY + 4 * H)
    case = s.case_verify(case, actor=u["official"], now=MONDAY + 4 * H)
    case = s.case_close(case, actor=u["official"], now=MONDAY + 4 * H)
    if rating is not None:
        case = s.case_rate(case, rating=rating, now=MONDAY + 5 * H)
    return case


@pytest.fixture
def cases(world: Any, report: Any) -> dict[str, Any]:
    """Town A: two closed (rated 5 and 2), one rejected, one open safety hazard, one policy
    question in A2; town B: one case. All reported on Monday 2 March 2026."""
    u = world.users
    made = {
        "rated5": close(report(), world, rating=5),
        "rated2": close(report(grid=world.grid_a12), world, rating=2, handler="worker2"),
        "rejected": s.case_reject(report(), actor=u["worker"], reason="invalid"),
        "open": report(category="safety"),
        "policy": report(grid=world.grid_a21, category="policy"),
        "town_b": report(grid=world.grid_b11),
    }
    return made


def figure(html: str, key: str) -> str:
    match = re.search(rf'id="figure-{key}">\s*<div class="value">([^<]*)</div>', html)
    assert match, f"no figure {key}"
    return match.group(1).strip()


def option(html: str, chart: str) -> Any:
    match = re.search(
        rf'<script id="{chart}-option" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, f"no option for {chart}"
    return json.loads(match.group(1))


def test_it_shows_the_indicators_stats_computes_for_the_scope(
    world: Any, cases: Any, login: Any
) -> None:
    response = login("official").get(f"/console/?scope=350426100&{MARCH}")
    assert response.status_code == 200
    html = response.content.decode()
    expected = stats.indicators(
        "350426100",
        datetime.date(2026, 3, 1),
        datetime.date(2026, 3, 31),
        scope=Scope.of("350426100"),
    )
    assert expected["cases_total"] == 5  # town B's case stays out
    assert figure(html, "received") == "5"
    assert figure(html, "on_time") == f"{expected['on_time_closure_rate'] * 100:.1f}%"
    assert figure(html, "grid_share") == f"{expected['grid_tier_share'] * 100:.1f}%"
    assert figure(html, "satisfaction") == "50.0%"  # one of two ratings is 4 or 5
    assert figure(html, "closure") == f"{expected['closure_rate'] * 100:.1f}%"
    assert figure(html, "average_rating") == "3.50"
    # Open now: the safety hazard and the policy question; both past their deadline by now.
    assert figure(html, "open") == "2"
    assert figure(html, "overdue") == "2"
    assert "Cases reported from 2026-03-01 to 2026-03-31" in html


def test_it_narrows_to_a_grid_and_its_period(world: Any, cases: Any, login: Any) -> None:
    html = login("official").get(f"/console/?scope=350426100001002&{MARCH}").content.decode()
    assert figure(html, "received") == "1"
    assert figure(html, "satisfaction") == "0.0%"
    later = login("official").get("/console/?since=2026-04-01&until=2026-04-30").content.decode()
    assert figure(later, "received") == "0"
    assert "No cases in this period." in later


def test_it_draws_the_categories_and_stages_with_translated_labels(
    world: Any, cases: Any, login: Any
) -> None:
    html = login("official").get(f"/console/?{MARCH}").content.decode()
    by_category = option(html, "chart-category")
    names = dict(Category.objects.values_list("code", "name_en"))
    labels = by_category["yAxis"]["data"]
    counts = dict(zip(labels, by_category["series"][0]["data"], strict=True))
    # Merged cases aside, every case of the period once: 3 environment, 1 safety, 1 policy.
    assert counts == {names["environment"]: 3, names["safety"]: 1, names["policy"]: 1}
    assert labels[0] == names["environment"]  # most cases first
    by_stage = option(html, "chart-stage")
    stage_counts = dict(zip(by_stage["xAxis"]["data"], by_stage["series"][0]["data"], strict=True))
    assert stage_counts == {"Reported": 2, "Rejected": 1, "Rated": 2}
    ratings = option(html, "chart-rating")
    assert ratings["series"][0]["data"] == [0, 1, 0, 0, 1]
    assert ratings["xAxis"]["data"][0] == "1 star"
    # The table under the chart holds the same figures.
    table = re.search(r'id="chart-category-table">(.*?)</table>', html, re.S)
    assert table and 'Environment and sanitation</th><td class="number">3</td>' in table.group(1)


@pytest.mark.chinese
def test_it_labels_the_charts_in_chinese_by_default(world: Any, cases: Any, login: Any) -> None:
    html = login("official").get(f"/console/?{MARCH}").content.decode()
    assert "环境卫生" in option(html, "chart-category")["yAxis"]["data"]


def test_it_draws_the_on_time_trend_by_week_from_the_buckets(
    world: Any, cases: Any, login: Any
) -> None:
    html = login("official").get("/console/?since=2026-02-23&until=2026-03-15").content.decode()
    trend = option(html, "chart-trend")
    assert trend["xAxis"]["data"] == ["2026-02-23", "2026-03-02", "2026-03-09"]
    received, on_time = trend["series"]
    assert received["data"] == [0, 5, 0]
    expected = stats.indicators(
        "350426100",
        datetime.date(2026, 3, 2),
        datetime.date(2026, 3, 8),
        scope=Scope.of("350426100"),
    )["on_time_closure_rate"]
    assert on_time["data"][1] == round(expected * 100, 1)
    yearly = login("official").get("/console/?since=2026-01-01&until=2026-06-30")
    assert option(yearly.content.decode(), "chart-trend")["xAxis"]["data"][:3] == [
        "2026-01",
        "2026-02",
        "2026-03",
    ]


def test_it_answers_404_for_a_scope_outside_the_users(world: Any, login: Any) -> None:
    official = login("official")
    assert official.get("/console/?scope=350426101").status_code == 404  # town B
    assert official.get("/console/?scope=350426101201001").status_code == 404
    assert official.get("/console/?scope=nonsense").status_code == 404
    assert official.get("/console/?scope=350426100009").status_code == 404  # no such village
    assert login("worker").get("/console/?scope=350426100001002").status_code == 404
    assert official.get("/console/?scope=350426100001").status_code == 200


def test_it_shows_a_bad_date_next_to_its_field(world: Any, cases: Any, login: Any) -> None:
    html = login("official").get("/console/?since=2026-02-30&until=2026-03-31").content.decode()
    field = re.search(r'<div class="field has-error[^"]*">(.*?)</div>', html, re.S)
    assert field and 'name="since"' in field.group(1)
    assert 'id="id_since_error"' in field.group(1) and "Enter a valid date." in field.group(1)
    # The figures of the default period (the last 30 days) stay readable.
    assert figure(html, "received") == "0"

    reversed_ = login("official").get("/console/?since=2026-03-31&until=2026-03-01")
    text = reversed_.content.decode()
    field = re.search(r'<div class="field has-error[^"]*">(.*?)</div>', text, re.S)
    assert field and 'name="until"' in field.group(1)
    assert "The end date comes before the start date." in field.group(1)

    ancient = login("official").get("/console/?since=1999-12-31&until=2026-03-01")
    text = ancient.content.decode()
    field = re.search(r'<div class="field has-error[^"]*">(.*?)</div>', text, re.S)
    assert field and 'name="since"' in field.group(1)
    assert "Enter a date after the year 2000." in field.group(1)


def test_it_offers_the_presets_and_fills_the_dates_of_the_period(
    world: Any, cases: Any, login: Any
) -> None:
    html = login("official").get("/console/?period=7").content.decode()
    today = timezone.localdate()
    week_ago = today - datetime.timedelta(days=6)
    assert f'value="{week_ago.isoformat()}"' in html and f'value="{today.isoformat()}"' in html
    assert 'aria-current="true" class="current">Last 7 days' in html
    year = login("official").get("/console/?period=year").content.decode()
    assert f"Cases reported from {today.year}-01-01 to {today.isoformat()}" in year


def test_it_shows_the_breadcrumb_and_places_to_drill_into(world: Any, login: Any) -> None:
    html = login("official").get("/console/?scope=350426100001").content.decode()
    crumbs = re.search(r'<nav class="insight-crumbs".*?</nav>', html, re.S)
    assert crumbs
    assert "城关镇" in crumbs.group(0) and "水东社区" in crumbs.group(0)
    assert "尤溪县" not in crumbs.group(0)  # above the official's scope
    places = re.search(r'<ul class="insight-places">(.*?)</ul>', html, re.S)
    assert places and "水东一网格" in places.group(1) and "水东二网格" in places.group(1)
    assert "半山一网格" not in html
    # A grid worker of two grids starts from both.
    two = login("worker2").get("/console/").content.decode()
    assert "My scope" in two and "水东二网格" in two and "西门一网格" in two


def test_it_needs_the_permission_to_see_cases(world: Any, login: Any) -> None:
    from tests import factories as f

    nobody = f.user("nobody", "", "350426")
    assert login(nobody).get("/console/").status_code == 403


def test_it_reads_the_dashboard_in_a_fixed_number_of_queries(
    world: Any, report: Any, login: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login("official")
    report()
    client.get(f"/console/?{MARCH}")  # sessions, permissions and the like settle first
    with CaptureQueriesContext(connection) as few:
        client.get(f"/console/?{MARCH}")
    for grid in (world.grid_a11, world.grid_a12, world.grid_a21):
        for category in ("environment", "safety", "policy"):
            report(grid=grid, category=category)
    with CaptureQueriesContext(connection) as many:
        html = client.get(f"/console/?{MARCH}").content.decode()
    assert figure(html, "received") == "10"
    assert len(many) == len(few)


def test_it_splits_the_closed_cases_by_the_tier_that_settled_them(
    world: Any, cases: Any, login: Any
) -> None:
    html = login("official").get(f"/console/?{MARCH}").content.decode()
    tiers = option(html, "chart-tier")
    # Both closed cases were handled by their grid's worker; the other tiers are left out.
    assert tiers["series"][0]["data"] == [{"name": "Grid", "value": 2}]
    table = re.search(r'id="chart-tier-table">(.*?)</table>', html, re.S)
    assert table and '<td class="number">0</td>' in table.group(1)

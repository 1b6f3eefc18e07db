"""Duplicate suggestions: same category, near, close in time, similar text; merged ones never."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from grassroots.cases.duplicates import (
    bounding_box,
    distance_metres,
    likely_duplicates,
    normalize,
    similarity,
)
from grassroots.cases.models import Case, Category, Stage

from .factories import case

# A point inside grid A1-1 (118.10-118.11, 26.10-26.11); 0.001 degree of latitude is ~111 m.
LON, LAT = 118.105, 26.105
TEXT = "小区门口垃圾堆放很久没人清理"
ALIKE = "小区门口的垃圾很多天没有清理了"
OTHER = "邻居装修噪音太大影响休息"


@pytest.fixture
def now():
    return timezone.now()


def suggest(now, **kw):
    args = {"lon": LON, "lat": LAT, "description": TEXT, "at": now, **kw}
    if "category" not in args:
        args["category"] = Category.objects.get(code="environment")
    return likely_duplicates(**args)


def codes(found):
    return [c.tracking_code for c, _score in found]


def test_it_suggests_a_near_recent_case_of_the_same_category_with_similar_text(world, now):
    near = case(world.grid_a11, lon=LON + 0.0005, lat=LAT, description=ALIKE)
    found = suggest(now)
    assert codes(found) == [near.tracking_code]
    assert 0.3 < found[0][1] <= 1


def test_it_leaves_out_cases_farther_than_the_distance(world, now):
    case(world.grid_a11, lon=LON, lat=LAT + 0.003, description=TEXT)  # ~330 m north
    assert suggest(now) == []


def test_the_distance_is_a_setting(world, now, settings):
    far = case(world.grid_a11, lon=LON, lat=LAT + 0.003, description=TEXT)
    settings.CASE_DUPLICATE_METRES = 500
    assert codes(suggest(now)) == [far.tracking_code]


def test_it_leaves_out_other_categories(world, now):
    case(world.grid_a11, lon=LON, lat=LAT, description=TEXT, category="safety")
    assert suggest(now) == []


def test_it_leaves_out_different_text(world, now):
    case(world.grid_a11, lon=LON, lat=LAT, description=OTHER)
    assert suggest(now) == []


def test_it_looks_only_within_the_time_window(world, now, settings):
    case(world.grid_a11, lon=LON, lat=LAT, reported_at=now - datetime.timedelta(days=8))
    inside = case(world.grid_a11, lon=LON, lat=LAT, reported_at=now - datetime.timedelta(days=6))
    assert codes(suggest(now)) == [inside.tracking_code]
    settings.CASE_DUPLICATE_DAYS = 5
    assert suggest(now) == []


def test_it_suggests_later_reports_for_an_earlier_case(world, now):
    later = case(world.grid_a11, lon=LON, lat=LAT, reported_at=now + datetime.timedelta(days=1))
    assert codes(suggest(now)) == [later.tracking_code]


def test_it_never_suggests_merged_or_rejected_cases(world, now):
    main = case(world.grid_a11, lon=LON, lat=LAT)
    case(world.grid_a11, lon=LON, lat=LAT, stage=Stage.MERGED, is_open=False, merged_into=main)
    case(world.grid_a11, lon=LON, lat=LAT, stage=Stage.REJECTED, is_open=False)
    assert codes(suggest(now)) == [main.tracking_code]


def test_it_suggests_closed_cases_reported_recently(world, now):
    closed = case(world.grid_a11, lon=LON, lat=LAT, stage=Stage.CLOSED, is_open=False)
    assert codes(suggest(now)) == [closed.tracking_code]


def test_it_leaves_out_the_case_itself(world, now):
    own = case(world.grid_a11, lon=LON, lat=LAT)
    assert suggest(now, exclude_id=own.pk) == []


def test_it_needs_coordinates(world, now):
    case(world.grid_a11, lon=LON, lat=LAT)
    assert suggest(now, lon=None, lat=None) == []


def test_it_puts_the_most_alike_and_nearest_first_and_keeps_to_the_limit(world, now):
    same_far = case(world.grid_a11, lon=LON + 0.0015, lat=LAT, description=TEXT)  # ~150 m
    same_near = case(world.grid_a11, lon=LON, lat=LAT, description=TEXT)
    alike = case(world.grid_a11, lon=LON, lat=LAT, description=ALIKE)
    found = suggest(now)
    assert codes(found) == [same_near.tracking_code, same_far.tracking_code, alike.tracking_code]
    assert found[0][1] == 1.0
    assert found[0][1] > found[1][1] > found[2][1]
    assert codes(suggest(now, limit=2)) == [same_near.tracking_code, same_far.tracking_code]


def test_it_accepts_a_category_by_primary_key(world, now):
    near = case(world.grid_a11, lon=LON, lat=LAT)
    assert codes(suggest(now, category=near.category_id)) == [near.tracking_code]


def test_it_reads_a_bounded_number_of_queries(world, now, django_assert_max_num_queries):
    for i in range(30):
        case(world.grid_a11, lon=LON + i * 0.00001, lat=LAT, description=TEXT)
    for i in range(30):
        case(world.grid_a11, lon=LON, lat=LAT, description=OTHER + str(i))
    category = Category.objects.get(code="environment")
    with django_assert_max_num_queries(2):
        found = suggest(now, category=category, limit=5)
    assert len(found) == 5
    assert all(c.category.code == "environment" for c, _s in found)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the plan is read on SQLite")
def test_it_reads_through_the_category_time_index(world, now):
    case(world.grid_a11, lon=LON, lat=LAT)
    category = Category.objects.get(code="environment")
    queries = []

    def capture(execute, sql, params, many, context):
        queries.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        suggest(now, category=category)
    sql, params = queries[0]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "case_category_time" in plan, plan
    assert "SCAN" not in plan.replace("SCAN CONSTANT", ""), plan


def test_the_box_holds_every_point_within_the_distance():
    min_lon, max_lon, min_lat, max_lat = bounding_box(LON, LAT, 200)
    assert distance_metres(LON, LAT, max_lon, LAT) == pytest.approx(200, rel=1e-3)
    assert distance_metres(LON, LAT, LON, min_lat) == pytest.approx(200, rel=1e-3)
    assert min_lon < LON < max_lon and min_lat < LAT < max_lat


def test_text_is_compared_in_simplified_characters_without_spaces_or_punctuation():
    assert normalize("小區 門口，垃圾!") == "小区门口垃圾"
    assert similarity("小區門口垃圾", "小区 门口 垃圾。") == 1.0
    assert similarity(TEXT, OTHER) == 0.0
    assert similarity("", "") == 0.0


@given(st.text(max_size=40), st.text(max_size=40))
def test_similarity_is_symmetric_and_between_0_and_1(a, b):
    value = similarity(a, b)
    assert 0.0 <= value <= 1.0
    assert value == similarity(b, a)
    if normalize(a):
        assert similarity(a, a) == 1.0


def test_a_case_kept_as_a_duplicate_is_a_case(world, now):
    near = case(world.grid_a11, lon=LON, lat=LAT)
    found, score = suggest(now)[0]
    assert isinstance(found, Case) and found.pk == near.pk and score > 0.9


def test_intake_keeps_the_suggestions_on_the_report_event(world, report):
    first = report(description="水东路口路灯不亮")
    second = report(description="水东路口的路灯坏了，晚上不亮")
    other = report(description="邻居装修噪音太大影响休息")
    event = second.events.get(action="report")
    assert event.data["possible_duplicates"] == [first.tracking_code]
    assert "possible_duplicates" not in other.events.get(action="report").data

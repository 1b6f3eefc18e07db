"""Pagination, ordering, input errors and query counts of the lists."""

from __future__ import annotations

import pytest
from django.test import override_settings

from grassroots.registry.models import join_tags
from tests import factories as f

from .conftest import body

LISTS = ["/units", "/grids", "/households", "/residents", "/enterprises"]


@pytest.fixture
def crowd(world, enterprises):
    """Thirty more households, residents and enterprises in grid A1-1, and more grids."""
    for i in range(30):
        h = f.household(f"HA11-X{i:02d}", world.grid_a11, tags=join_tags(["低保"]))
        f.resident(f"钱{i:02d}", h, relation="head", tags=join_tags(["独居老人"]))
        f.enterprise(f"商户{i:02d}", world.grid_a11, _credit_code(i))
    for i in range(3, 13):
        f.grid(f"350426100001{i:03d}", 118.10 + i * 0.02, 26.30)


def _credit_code(i):
    from grassroots.core.validators import credit_code_with_check

    return credit_code_with_check(f"91350426MA2Y{i:03d}B1")


def test_it_pages_lists_with_a_stable_order(world, crowd, as_):
    seen = []
    for page in (1, 2, 3):
        data = body(as_("worker").get("/households", page=page, page_size=15))
        assert (data["count"], data["page"], data["page_size"]) == (32, page, 15)
        seen += [h["code"] for h in data["items"]]
    assert len(seen) == 32
    assert seen == sorted(seen)
    names = [
        r["name"]
        for page in (1, 2, 3, 4)
        for r in body(as_("worker").get("/residents", page=page, page_size=10))["items"]
    ]
    assert len(names) == len(set(names)) == 32


def test_it_answers_an_empty_page_past_the_end(world, as_):
    data = body(as_("worker").get("/households", page=99))
    assert data == {"count": 2, "page": 99, "page_size": 50, "items": []}


def test_it_uses_the_default_page_size(world, crowd, as_, settings):
    assert body(as_("worker").get("/households"))["page_size"] == settings.API_PAGE_SIZE
    with override_settings(API_PAGE_SIZE=50, API_MAX_PAGE_SIZE=20):
        response = as_("worker").get("/households", page_size=21)
    assert response.status_code == 422


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"page_size": 501}, "page_size", "at most 500 items per page"),
        ({"page_size": 0}, "page_size", "Input should be greater than or equal to 1"),
        ({"page": 0}, "page", "Input should be greater than or equal to 1"),
        ({"page": "two"}, "page", "Input should be a valid integer"),
    ],
)
def test_it_names_the_field_of_an_invalid_page(world, as_, path, params, field, reason):
    response = as_("admin").get(path, **params)
    assert response.status_code == 422
    data = body(response)
    assert data["errors"][0]["field"] == field
    assert data["errors"][0]["reason"].startswith(reason)
    assert data["detail"].startswith(f"Invalid input: {field}: ")


def test_it_names_every_invalid_field(world, as_):
    data = body(as_("admin").get("/residents", page=0, grid="1", household="x"))
    assert sorted(e["field"] for e in data["errors"]) == ["grid", "household", "page"]


def test_it_refuses_an_unknown_tag(world, as_):
    for path in ["/households", "/residents"]:
        response = as_("admin").get(path, tag="不存在")
        assert response.status_code == 422
        error = body(response)["errors"][0]
        assert error["field"] == "tag"
        assert error["reason"].startswith(
            "未知标签 不存在（已有标签："
        )  # API speaks zh-hans by default
        assert "低保" in error["reason"]


@pytest.mark.parametrize(
    ("path", "field", "value", "reason"),
    [
        ("/households", "grid", "35042610000100", "a grid code has 15 digits"),
        ("/residents", "unit", "3504261", "a unit code has 6 (county), 9 (town) or 12"),
        ("/enterprises", "unit", "abc", "a unit code has 6 (county), 9 (town) or 12"),
        ("/residents", "household", "HA11-1", "Input should be a valid integer"),
        ("/residents", "current", "maybe", "Input should be a valid boolean"),
    ],
)
def test_it_refuses_malformed_filters(world, as_, path, field, value, reason):
    response = as_("admin").get(path, **{field: value})
    assert response.status_code == 422
    assert body(response)["errors"][0]["field"] == field
    assert body(response)["errors"][0]["reason"].startswith(reason)


def test_it_answers_422_for_a_malformed_id_in_the_path(world, as_):
    response = as_("admin").get("/residents/abc")
    assert response.status_code == 422
    assert body(response)["errors"][0]["field"] == "resident_id"


@pytest.mark.parametrize("persona", ["admin", "worker"])
@pytest.mark.parametrize(
    "path",
    LISTS + ["/households?tag=低保", "/residents?tag=独居老人&q=qian", "/enterprises?q=商户"],
)
def test_it_lists_in_a_constant_number_of_queries(
    world, crowd, as_, django_assert_max_num_queries, persona, path
):
    client = as_(persona)
    client.get("/me")  # the token's first use is recorded once; leave it out of the count
    # token + user permissions (2) + scope of a grid worker + count + page + tag check
    with django_assert_max_num_queries(7):
        response = client.get(path)
    assert response.status_code == 200
    data = body(response)
    if path.startswith(("/households", "/residents", "/enterprises")):
        assert len(data["items"]) >= 30


def test_it_searches_in_a_constant_number_of_queries(
    world, crowd, as_, django_assert_max_num_queries
):
    client = as_("worker")
    client.get("/me")
    # token + permissions (2) + per kind: scope, count, matches
    with django_assert_max_num_queries(12):
        data = body(client.get("/search", q="qian", limit=50))
    assert data["residents"]["count"] == 31  # 钱多多 and the crowd's thirty

"""Registry search: names as people type them, ID number tails, households and enterprises."""

from __future__ import annotations

import pytest

from tests import factories as f

from .conftest import body


def _names(as_, q, persona="admin"):
    data = body(as_(persona).get("/search", q=q))
    return [r["name"] for r in data["residents"]["items"]]


@pytest.mark.parametrize(
    "q",
    ["赵光菊", "赵", "趙光菊", "光菊", "zgj", "ZGJ", "zhaoguangju", "zhaog", " zgj ", "ｚｇｊ"],
)
def test_it_finds_a_resident_by_name_pinyin_or_initials(world, as_, q):
    assert _names(as_, q) == ["赵光菊"]


def test_it_finds_a_resident_by_the_last_digits_of_the_id_number(world, as_):
    resident = world.residents["李白"]
    number = resident.id_number
    assert "李白" in _names(as_, number[-4:])
    assert _names(as_, number[-6:]) == ["李白"]
    assert _names(as_, number) == ["李白"]
    assert _names(as_, number.lower()) == ["李白"]


def test_it_finds_an_id_number_ending_in_x_typed_lower_case(world, as_):
    numbers = (f.id_number("19900101", seq=seq) for seq in range(1000))
    number = next(n for n in numbers if n.endswith("X"))
    f.resident("黄忠", world.households["HA11-1"], number=number)
    assert _names(as_, number[-4:].lower()) == ["黄忠"]


def test_it_needs_four_characters_of_an_id_number(world, as_):
    tail = world.residents["李白"].id_number[-3:]
    assert _names(as_, tail) == []


def test_it_finds_households_and_enterprises(world, enterprises, as_):
    data = body(as_("admin").get("/search", q="HA11"))
    assert [h["code"] for h in data["households"]["items"]] == ["HA11-1", "HA11-2"]
    data = body(as_("admin").get("/search", q="茶业"))
    assert [e["name"] for e in data["enterprises"]["items"]] == ["水东茶业有限公司"]
    assert data["query"] == "茶业"


def test_it_counts_all_matches_and_shows_the_first_few(world, as_):
    for i in range(5):
        f.resident(f"赵{i}", world.households["HA11-1"])
    data = body(as_("admin").get("/search", q="zhao", limit=2))
    assert data["residents"]["count"] == 6
    assert [r["name"] for r in data["residents"]["items"]] == ["赵0", "赵1"]


def test_it_searches_residents_through_the_list_filter_too(world, as_):
    response = body(as_("worker").get("/residents", q="趙光菊"))
    assert [r["name"] for r in response["items"]] == ["赵光菊"]
    assert body(as_("worker2").get("/residents", q="zgj"))["count"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 51}, "q"),
        ({"q": "zgj", "limit": 0}, "limit"),
        ({"q": "zgj", "limit": 51}, "limit"),
    ],
)
def test_it_refuses_an_invalid_search(world, as_, params, field):
    response = as_("admin").get("/search", **params)
    assert response.status_code == 422
    assert [e["field"] for e in body(response)["errors"]] == [field]

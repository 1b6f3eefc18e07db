"""One definition of the registry lists' filters (registry.filters) for the API and the pages:
the grid worker's household search reads the API's parameters and finds the same households."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from grassroots.audit import api as audit_api
from grassroots.core.filters import Filters
from grassroots.registry import api as registry_api
from grassroots.registry.filters import EnterpriseFilters, HouseholdFilters, ResidentFilters
from grassroots.registry.models import join_tags
from tests import factories as f
from tests.api.conftest import API, as_, body, tokens  # noqa: F401  (API clients per persona)


def test_it_defines_no_filters_in_the_routers():
    for router in (registry_api, audit_api):
        own = [
            name
            for name, value in vars(router).items()
            if isinstance(value, type)
            and issubclass(value, Filters)
            and value.__module__ == router.__name__
        ]
        assert own == [], f"{router.__name__} defines {own}: filters live in the domain app"


@pytest.mark.parametrize(
    ("path", "filters"),
    [
        ("/api/v1/households", HouseholdFilters),
        ("/api/v1/residents", ResidentFilters),
        ("/api/v1/enterprises", EnterpriseFilters),
    ],
)
def test_it_takes_the_filters_as_the_lists_parameters(db, client, path, filters):
    parameters = body(client.get(API + "/openapi.json"))["paths"][path]["get"]["parameters"]
    assert [p["name"] for p in parameters] == [*filters.model_fields, "page", "page_size"]


def page_codes(client, params):
    response = client.get(reverse("worker:households"), params)
    assert response.status_code == 200
    return sorted(h.code for h in response.context["page_obj"])


def api_codes(as_, persona, params):  # noqa: F811
    response = as_(persona).get("/households", **params)
    assert response.status_code == 200, response.content
    return sorted(h["code"] for h in body(response)["items"])


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "钱多多"},  # a member's name
        {"q": "qdd"},  # a member's pinyin initials
        {"q": "HA11-1"},  # the household code
        {"q": "地址HA12"},  # the address
        {"grid": "350426100001002"},
        {"unit": "350426100001"},
        {"tag": "低保"},
        {"grid": "350426101201001"},  # outside the scope
        {"q": "周杰伦"},  # a resident outside the scope
        {"grid": "", "q": "", "tag": "", "unit": ""},  # empty: no filter
    ],
)
def test_it_finds_the_same_households_through_the_api_and_the_page(world, login, as_, params):  # noqa: F811
    world.households["HA12-1"].tags = join_tags(["低保"])
    world.households["HA12-1"].save()
    expected = api_codes(as_, "secretary", params)
    assert page_codes(login("secretary"), params) == expected
    if params.get("q") == "qdd":
        assert expected == ["HA11-2"]


def test_it_finds_a_household_by_the_last_digits_of_a_members_id_number(world, login, as_):  # noqa: F811
    number = world.residents["钱多多"].id_number
    assert api_codes(as_, "worker", {"q": number[-6:]}) == ["HA11-2"]
    assert page_codes(login("worker"), {"q": number[-6:]}) == ["HA11-2"]


def test_it_searches_members_only_for_roles_that_may_view_residents(world, client):
    from grassroots.accounts.models import ApiToken

    handler = f.user("handler", "department_handler", "350426100")
    headers = {"Authorization": f"Bearer {ApiToken.issue(handler)[1]}"}
    for q, expected in (("钱多多", []), ("HA11-2", ["HA11-2"])):
        data = body(client.get(API + "/households", {"q": q}, headers=headers))
        assert [h["code"] for h in data["items"]] == expected


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"grid": "12345"}, "grid", "a grid code has 15 digits"),
        ({"unit": "1"}, "unit", "a unit code has 6 (county), 9 (town) or 12 (village) digits"),
        ({"tag": "不存在"}, "tag", "unknown tag 不存在 (known tags: "),
    ],
)
def test_it_finds_nothing_on_the_page_for_a_filter_the_api_refuses(
    world,
    login,
    as_,  # noqa: F811
    params,
    field,
    reason,
):
    client = as_("worker")
    response = client.client.get(
        API + "/households",
        params,
        headers={"Authorization": f"Bearer {client.token}", "Accept-Language": "en"},
    )
    assert response.status_code == 422
    [error] = body(response)["errors"]
    assert error["field"] == field and error["reason"].startswith(reason)
    page = login("worker").get(reverse("worker:households"), params)
    assert page.status_code == 200
    assert list(page.context["page_obj"]) == []
    assert "There is no household here." in page.content.decode()


def test_it_reads_the_filters_from_text_naming_each_bad_one():
    filters = HouseholdFilters.parse({"grid": "350426100001001", "q": "", "sort": "-members"})
    assert (filters.grid, filters.unit, filters.q) == ("350426100001001", None, None)
    with pytest.raises(ValidationError) as exc:
        ResidentFilters.parse({"grid": "1", "household": "x", "current": "maybe"})
    assert sorted(exc.value.message_dict) == ["current", "grid", "household"]

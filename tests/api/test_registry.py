"""Households, residents and enterprises: fields, filters, masking, permissions."""

from __future__ import annotations

import datetime

import pytest

from grassroots.registry.models import join_tags
from tests import factories as f

from .conftest import body


@pytest.fixture
def handler(world):
    """A department handler of town A: may view households and enterprises, not residents."""
    return f.user("handler", "department_handler", "350426100")


@pytest.fixture
def as_handler(handler, client):
    from grassroots.accounts.models import ApiToken

    token = ApiToken.issue(handler)[1]

    def get(path, **params):
        return client.get("/api/v1" + path, params, headers={"Authorization": f"Bearer {token}"})

    return get


def test_it_renders_a_household(world, as_):
    household = world.households["HA11-1"]
    household.tags = join_tags(["低保", "独居老人"])
    household.building, household.unit_no, household.room = "3", "2", "501"
    household.save()
    # A member who moved out is not counted.
    f.resident("郑和", household, relation="child", moved_out_on=datetime.date(2024, 5, 1))
    data = body(as_("worker").get(f"/households/{household.pk}"))
    assert data == {
        "id": household.pk,
        "code": "HA11-1",
        "address": "地址HA11-1",
        "building": "3",
        "unit_no": "2",
        "room": "501",
        "lon": household.lon,
        "lat": household.lat,
        "grid": {"code": "350426100001001", "name": "水东一网格"},
        "unit": {"code": "350426100001", "name": "水东社区"},
        "tags": ["低保", "独居老人"],
        "member_count": 1,
    }


def test_it_renders_a_household_without_grid(world, as_):
    household = f.household("HA1-NOGRID", unit_=world.village_a1)
    data = body(as_("secretary").get(f"/households/{household.pk}"))
    assert data["grid"] is None
    assert data["lon"] is None
    assert data["member_count"] == 0


def test_it_renders_a_resident_with_masked_numbers(world, as_):
    resident = world.residents["赵光菊"]
    resident.tags = join_tags(["党员"])
    resident.save()
    data = body(as_("worker").get(f"/residents/{resident.pk}"))
    assert data == {
        "id": resident.pk,
        "name": "赵光菊",
        "sex": resident.sex,
        "birth_date": "1980-01-01",
        "age": resident.age,
        "id_number": resident.id_number[:4] + "*" * 10 + resident.id_number[-4:],
        "phone": "138****8000",
        "household": "HA11-1",
        "relation": "head",
        "residency": "registered",
        "tags": ["党员"],
        "moved_out_on": None,
        "deceased_on": None,
        "unit": {"code": "350426100001", "name": "水东社区"},
        "grid": {"code": "350426100001001", "name": "水东一网格"},
    }


def test_it_renders_a_resident_without_household_or_phone(world, as_):
    resident = f.resident("吴用", unit_=world.village_a1, phone="")
    data = body(as_("secretary").get(f"/residents/{resident.pk}"))
    assert (data["household"], data["grid"], data["phone"]) == (None, None, None)
    assert data["unit"] == {"code": "350426100001", "name": "水东社区"}


def test_it_renders_an_enterprise_with_a_masked_phone(world, enterprises, as_):
    tea = enterprises["tea"]
    data = body(as_("worker").get(f"/enterprises/{tea.pk}"))
    assert data == {
        "id": tea.pk,
        "name": "水东茶业有限公司",
        "credit_code": tea.credit_code,
        "address": "水东茶业有限公司地址",
        "industry": "茶叶",
        "contact_name": "联系人",
        "contact_phone": "139****5678",
        "lon": None,
        "lat": None,
        "grid": {"code": "350426100001001", "name": "水东一网格"},
        "unit": {"code": "350426100001", "name": "水东社区"},
    }


def test_it_never_emits_raw_id_or_phone_numbers(world, enterprises, as_):
    raw = [r.id_number for r in world.residents.values()]
    raw += [r.phone for r in world.residents.values()] + ["13912345678", "13987654321"]
    hidden = {r.id_number[4:14] for r in world.residents.values()}
    # A duplicate ID number and a resident without household put numbers in the audit too.
    f.resident("王五", unit_=world.village_a1, number=world.residents["李白"].id_number)
    paths = [
        "/residents",
        "/households",
        "/enterprises",
        "/audit/coverage",
        "/me",
        "/search?q=1980",
        "/search?q=zgj",
        "/search?q=水东",
    ]
    paths += [f"/residents/{r.pk}" for r in world.residents.values()]
    paths += [f"/enterprises/{e.pk}" for e in enterprises.values()]
    for tail in {r.id_tail for r in world.residents.values()}:
        paths.append(f"/search?q={tail}")
        paths.append(f"/residents?q={tail}")
    for path in paths:
        response = as_("admin").get(path)
        assert response.status_code == 200, path
        text = response.content.decode()
        for number in raw:
            assert number not in text, (path, number)
        # Nor the hidden middle of an ID number (region and birth date, 10 digits).
        for middle in hidden:
            assert middle not in text, (path, middle)


def test_it_filters_households(world, as_):
    world.households["HA12-1"].tags = join_tags(["低保"])
    world.households["HA12-1"].save()
    codes = lambda **p: [h["code"] for h in body(as_("official").get("/households", **p))["items"]]  # noqa: E731
    assert codes(grid="350426100001001") == ["HA11-1", "HA11-2"]
    assert codes(unit="350426100002") == ["HA21-1"]
    assert codes(unit="350426100") == ["HA11-1", "HA11-2", "HA12-1", "HA21-1"]
    assert codes(tag="低保") == ["HA12-1"]
    assert codes(tag="特困") == []
    assert codes(q="HA11") == ["HA11-1", "HA11-2"]
    assert codes(q="地址HA21") == ["HA21-1"]
    assert codes(unit="350426100001", q="HA21") == []


def test_it_filters_residents(world, as_):
    moved = f.resident(
        "郑和",
        world.households["HA11-1"],
        relation="child",
        moved_out_on=datetime.date(2024, 5, 1),
        tags=join_tags(["留守儿童"]),
    )
    names = lambda **p: [r["name"] for r in body(as_("official").get("/residents", **p))["items"]]  # noqa: E731
    assert names(grid="350426100001001") == ["赵光菊", "郑和", "钱多多"]
    assert names(unit="350426100002") == ["李白"]
    assert names(household=world.households["HA11-1"].pk) == ["赵光菊", "郑和"]
    assert names(tag="留守儿童") == ["郑和"]
    assert names(current="true", grid="350426100001001") == ["赵光菊", "钱多多"]
    assert names(current="false") == ["郑和"]
    assert names(q="zh") == ["赵光菊", "郑和"]
    assert body(as_("official").get(f"/residents/{moved.pk}"))["moved_out_on"] == "2024-05-01"


def test_it_filters_enterprises(world, enterprises, as_):
    names = lambda **p: [e["name"] for e in body(as_("admin").get("/enterprises", **p))["items"]]  # noqa: E731
    assert names(industry="茶叶") == ["水东茶业有限公司"]
    assert names(grid="350426101201001") == ["半山食用菌合作社"]
    assert names(unit="350426100") == ["水东茶业有限公司"]
    assert names(q="茶業") == ["水东茶业有限公司"]  # traditional 業 finds 业
    assert names(q=enterprises["fungi"].credit_code.lower()) == ["半山食用菌合作社"]


def test_it_refuses_residents_to_a_role_without_the_permission(world, enterprises, as_handler):
    for path in ["/residents", f"/residents/{world.residents['赵光菊'].pk}"]:
        response = as_handler(path)
        assert response.status_code == 403
        assert body(response) == {"detail": "Your role lacks the permission registry.view_resident"}
    assert as_handler("/households").status_code == 200
    assert as_handler("/enterprises").status_code == 200


def test_it_leaves_residents_out_of_search_for_a_role_without_the_permission(world, as_handler):
    data = body(as_handler("/search", q="zgj"))
    assert data["residents"] is None
    assert data["households"] == {"count": 0, "items": []}


def test_it_refuses_the_coverage_audit_without_the_permission(world, as_handler):
    response = as_handler("/audit/coverage")
    assert response.status_code == 403
    assert body(response) == {"detail": "Your role lacks the permission registry.view_coverage"}

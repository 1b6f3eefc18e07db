"""Shared resources, bookings and joint projects in the admin: written through orgs.shared (who
may, audit), the organization and alliance kept once created, bookings cancelled by deleting."""

from __future__ import annotations

from typing import Any

import pytest

from grassroots.audit.models import Event
from grassroots.orgs.models import Booking, Project, Resource
from tests.orgs.shared_world import shared_world

INLINES = {
    f"{prefix}-{key}": value
    for prefix in ("milestones", "incomes")
    for key, value in (("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0), ("MAX_NUM_FORMS", 1000))
}


@pytest.fixture
def sw(world: Any) -> Any:
    return shared_world(world)


def test_an_official_adds_a_fund_through_the_service(login: Any, sw: Any) -> None:
    client = login("official")
    data = {
        "organization": sw.orgs["SX-LH"].pk,
        "kind": "fund",
        "name": "联建发展基金",
        "description": "",
        "amount_yuan": "",
    }
    response = client.post("/admin/orgs/resource/add/", data)
    assert response.status_code == 200  # refused: a fund has an amount
    assert "give the amount of a fund" in response.content.decode()
    response = client.post("/admin/orgs/resource/add/", {**data, "amount_yuan": "200000"})
    assert response.status_code == 302
    fund = Resource.objects.get(kind="fund")
    event = Event.objects.get(object_type="orgs.resource", object_id=str(fund.pk))
    assert (event.action, event.actor_name) == ("create", "official")
    # The owner is kept on the change page; the name changes, audited.
    page = client.get(f"/admin/orgs/resource/{fund.pk}/change/").content.decode()
    assert 'name="organization"' not in page
    response = client.post(
        f"/admin/orgs/resource/{fund.pk}/change/",
        {**data, "name": "联建产业基金", "amount_yuan": "200000"},
    )
    assert response.status_code == 302
    assert Resource.objects.get(pk=fund.pk).name == "联建产业基金"
    assert Event.objects.filter(object_id=str(fund.pk), action="update").count() == 1


def test_a_project_is_added_with_organizations_and_households(
    login: Any, sw: Any, world: Any
) -> None:
    client = login("official")
    data = {
        "organization": sw.orgs["SX-LH"].pk,
        "name": "水西食用菌项目",
        "industry": "fungi",
        "investment_yuan": "120000",
        "started_on": "2025-06-01",
        "description": "",
        "organizations": [sw.orgs["XM-ZB"].pk],
        "households": [world.households["HB11-1"].pk],
        **INLINES,
    }
    response = client.post("/admin/orgs/project/add/", data)
    # 半山村's household is outside the official's scope: not even a choice.
    assert response.status_code == 200
    assert not Project.objects.filter(name="水西食用菌项目").exists()
    data["households"] = [world.households["HA21-1"].pk]
    response = client.post("/admin/orgs/project/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    project = Project.objects.get(name="水西食用菌项目")
    assert sorted(o.code for o in project.organizations.all()) == ["SX-LH", "XM-ZB"]
    assert [h.code for h in project.households.all()] == ["HA21-1"]
    event = Event.objects.get(object_type="orgs.project", object_id=str(project.pk))
    assert event.changes["households"] == [None, 1]
    # The secretary reads projects in the admin but does not add one.
    assert login("secretary").get("/admin/orgs/project/add/").status_code == 403
    assert login("secretary").get(f"/admin/orgs/project/{project.pk}/change/").status_code == 200


def test_deleting_a_booking_in_the_admin_cancels_it(login: Any, sw: Any) -> None:
    url = f"/admin/orgs/booking/{sw.booking.pk}/delete/"
    assert login("worker").post(url, {"post": "yes"}).status_code == 403
    assert login("outsider").post(url, {"post": "yes"}).status_code == 404
    assert login("secretary").post(url, {"post": "yes"}).status_code == 302
    assert not Booking.objects.exists()
    assert Event.objects.filter(object_type="orgs.booking", action="delete").count() == 1

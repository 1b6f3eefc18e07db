"""The API of shared resources, bookings and joint projects (/api/v1/orgs/resources, /orgs/bookings,
/orgs/projects): lists in scope, a clash refused naming the clashing booking, permissions before
lookups, every write through orgs.shared (audited)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.utils import timezone

from grassroots.accounts.models import ApiToken
from grassroots.audit.models import Event
from grassroots.orgs.models import Booking, ProjectIncome

from .shared_world import shared_world, tomorrow_at

API = "/api/v1"


@pytest.fixture
def sw(world: Any) -> Any:
    return shared_world(world)


@pytest.fixture
def call(client: Any, world: Any) -> Any:
    tokens = {name: ApiToken.issue(user)[1] for name, user in world.users.items()}

    def make(persona: str, method: str, path: str, payload: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {tokens[persona]}", "Accept-Language": "en"}
        if method == "GET":
            return client.get(API + path, payload or {}, headers=headers)
        return client.generic(
            method,
            API + path,
            json.dumps(payload or {}),
            content_type="application/json",
            headers=headers,
        )

    return make


def test_it_lists_the_resources_in_scope(call: Any, sw: Any) -> None:
    data = call("secretary", "GET", "/orgs/resources").json()
    assert data["count"] == 1
    assert data["items"][0] == {
        "id": sw.venue.pk,
        "kind": "venue",
        "name": "水西党群服务中心",
        "description": "可容纳80人",
        "amount_yuan": None,
        "organization": {"code": "SX-LH", "name": "水西联合党支部"},
        "alliance": None,
    }
    assert call("outsider", "GET", "/orgs/resources").json()["count"] == 0
    assert call("admin", "GET", "/orgs/resources", {"kind": "fund"}).json()["count"] == 0
    assert call("admin", "GET", "/orgs/resources", {"org": "SX-LH"}).json()["count"] == 1
    assert call("admin", "GET", "/orgs/resources", {"org": "SD-ZB"}).json()["count"] == 0


def test_it_shows_a_resource_with_its_pool_and_bookings(call: Any, sw: Any) -> None:
    data = call("worker", "GET", f"/orgs/resources/{sw.venue.pk}").json()
    assert [o["code"] for o in data["pool"]] == ["SD-ZB", "SX-LH", "XM-ZB"]
    assert data["bookings_ahead"] == 1
    bookings = call("worker", "GET", f"/orgs/resources/{sw.venue.pk}/bookings").json()
    assert bookings["count"] == 1
    assert bookings["items"][0]["organization"] == {"code": "SD-ZB", "name": "水东社区党支部"}
    assert bookings["items"][0]["purpose"] == "主题党日"
    # Since a moment after it ended: none.
    later = (tomorrow_at(12)).isoformat()
    path = f"/orgs/resources/{sw.venue.pk}/bookings"
    assert call("worker", "GET", path, {"since": later}).json()["count"] == 0
    assert call("outsider", "GET", f"/orgs/resources/{sw.venue.pk}").status_code == 404


def test_it_books_and_refuses_a_clash_naming_its_times(call: Any, sw: Any) -> None:
    path = f"/orgs/resources/{sw.venue.pk}/bookings"
    payload = {
        "organization": "XM-ZB",
        "starts_at": tomorrow_at(10).isoformat(),
        "ends_at": tomorrow_at(12).isoformat(),
        "purpose": "联建活动",
    }
    response = call("official", "POST", path, payload)
    assert response.status_code == 422
    day = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert response.json()["errors"] == [
        {
            "field": "starts_at",
            "reason": f"水东社区党支部 has booked it from {day} 09:00 until {day} 11:00",
        }
    ]
    payload["starts_at"] = tomorrow_at(11).isoformat()  # when the other one ends
    response = call("official", "POST", path, payload)
    assert response.status_code == 200, response.content
    booking = Booking.objects.get(pk=response.json()["id"])
    assert booking.organization.code == "XM-ZB"
    assert Event.objects.filter(object_type="orgs.booking", action="create").count() == 2


def test_it_refuses_an_organization_outside_the_pool_and_bad_times(call: Any, sw: Any) -> None:
    path = f"/orgs/resources/{sw.venue.pk}/bookings"
    payload = {
        "organization": "BS-ZB",
        "starts_at": tomorrow_at(14).isoformat(),
        "ends_at": tomorrow_at(15).isoformat(),
        "purpose": "借用",
    }
    response = call("admin", "POST", path, payload)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "organization", "reason": "BS-ZB does not share this resource"}
    ]
    payload |= {"organization": "SD-ZB", "ends_at": tomorrow_at(13).isoformat()}
    response = call("admin", "POST", path, payload)
    assert response.json()["errors"] == [
        {"field": "ends_at", "reason": "a booking ends after it starts"}
    ]
    payload["starts_at"] = "2030-01-01T09:00:00"  # no offset
    assert call("admin", "POST", path, payload).status_code == 422
    assert Booking.objects.count() == 1


def test_it_checks_the_permission_before_the_booking(call: Any, sw: Any) -> None:
    path = f"/orgs/resources/{sw.venue.pk}/bookings"
    payload = {
        "organization": "SD-ZB",
        "starts_at": tomorrow_at(14).isoformat(),
        "ends_at": tomorrow_at(15).isoformat(),
        "purpose": "借用",
    }
    response = call("worker", "POST", path, payload)
    assert response.status_code == 403
    assert "orgs.add_booking" in response.json()["detail"]
    assert call("secretary", "POST", path, payload).status_code == 200


def test_it_cancels_a_booking(call: Any, sw: Any) -> None:
    path = f"/orgs/bookings/{sw.booking.pk}"
    assert call("worker", "DELETE", path).status_code == 403
    assert call("outsider", "DELETE", path).status_code == 404
    response = call("secretary", "DELETE", path)
    assert response.status_code == 200
    assert response.json()["purpose"] == "主题党日"
    assert not Booking.objects.exists()
    assert Event.objects.filter(object_type="orgs.booking", action="delete").count() == 1
    assert call("secretary", "DELETE", path).status_code == 404


def test_it_lists_projects_with_their_progress(call: Any, sw: Any) -> None:
    data = call("worker2", "GET", "/orgs/projects").json()
    assert data["count"] == 1
    item = data["items"][0]
    assert item["name"] == "水西茶产业项目"
    assert item["investment_yuan"] == "500000.00"
    assert (item["progress"], item["milestones"], item["milestones_overdue"]) == (0.0, 1, 1)
    assert item["households"] == 2
    assert call("admin", "GET", "/orgs/projects", {"industry": "fruit"}).json()["count"] == 0
    assert call("admin", "GET", "/orgs/projects", {"org": "XM-ZB"}).json()["count"] == 1
    assert call("admin", "GET", "/orgs/projects", {"org": "BS-ZB"}).json()["count"] == 0
    assert call("outsider", "GET", "/orgs/projects").json()["count"] == 0


def test_it_adds_milestones_and_incomes_to_a_project(call: Any, sw: Any) -> None:
    base = f"/orgs/projects/{sw.project.pk}"
    due = (timezone.localdate() + datetime.timedelta(days=10)).isoformat()
    response = call("official", "POST", base + "/milestones", {"title": "春茶上市", "due_on": due})
    assert response.status_code == 200
    assert response.json() | {"id": 0} == {
        "id": 0,
        "title": "春茶上市",
        "due_on": due,
        "done_on": None,
        "overdue": False,
    }
    income = {"year": 2025, "collective_yuan": "36000", "households_yuan": "184000.5"}
    response = call("official", "POST", base + "/incomes", income)
    assert response.json() == {
        "year": 2025,
        "collective_yuan": "36000.00",
        "households_yuan": "184000.50",
    }
    response = call("official", "POST", base + "/incomes", income | {"year": 2023})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "year", "reason": "the project started in 2024"}]
    # The secretary reads the project but does not write it.
    assert call("secretary", "POST", base + "/incomes", income).status_code == 403
    detail = call("secretary", "GET", base).json()
    assert [m["title"] for m in detail["milestones"]] == ["茶园整地", "春茶上市"]
    assert [m["overdue"] for m in detail["milestones"]] == [True, False]
    assert detail["incomes"] == [
        {"year": 2025, "collective_yuan": "36000.00", "households_yuan": "184000.50"}
    ]
    assert detail["progress"] == 0
    assert [o["code"] for o in detail["organizations"]] == ["SD-ZB", "SX-LH", "XM-ZB"]
    assert detail["households"] == 2
    assert ProjectIncome.objects.count() == 1
    assert call("outsider", "GET", base).status_code == 404

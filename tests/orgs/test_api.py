"""The orgs API (/api/v1/orgs/…): what each persona reads and writes, masked numbers, reveal
with a reason, meetings with attendance and photos, activities, the talent pool. The harness
(tests/api/test_out_of_scope.py) covers the 404s outside the scope for every operation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from grassroots.accounts.models import ApiToken
from grassroots.audit.models import Event
from grassroots.orgs.models import Activity, Attendance, Meeting, Member, Photo
from tests import factories as f
from tests.orgs.party_world import PNG, party_world

API = "/api/v1/orgs"


@pytest.fixture
def party(world: Any) -> Any:
    """The personas' organizations, and a branch in the county next door."""
    f.unit("350425", "大田县")
    f.unit("350425100", "均溪镇")
    return party_world(world, f.unit("350425100001", "城关社区", "community"))


def call(world: Any, who: str, method: str, path: str, payload: Any = None, **extra: Any) -> Any:
    token = ApiToken.issue(world.users[who])[1]
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    client = Client()
    if method == "GET":
        return client.get(API + path, payload or {}, headers=headers)
    if extra.get("multipart"):
        return client.post(API + path, payload, headers=headers)
    return client.generic(
        method,
        API + path,
        json.dumps(payload or {}),
        content_type="application/json",
        headers=headers,
    )


def codes(response: Any) -> list[str]:
    return [item["code"] for item in response.json()["items"]]


def test_each_persona_lists_the_organizations_they_see(world, party):
    assert codes(call(world, "official", "GET", "/organizations")) == ["SD-ZB", "SX-LH", "XM-ZB"]
    # A village's secretary: their branch and the joint branch their village belongs to.
    assert codes(call(world, "secretary", "GET", "/organizations")) == ["SD-ZB", "SX-LH"]
    assert codes(call(world, "outsider", "GET", "/organizations")) == ["BS-ZB"]
    assert codes(call(world, "admin", "GET", "/organizations", {"kind": "joint_branch"})) == [
        "SX-LH"
    ]
    joint = call(world, "official", "GET", "/organizations/SX-LH").json()
    assert [u["code"] for u in joint["units"]] == ["350426100001", "350426100002"]
    assert joint["kind"] == "joint_branch"
    sd = call(world, "official", "GET", "/organizations/SD-ZB").json()
    assert sd["members"] == 2
    assert sd["secretary_vacant_since"] is None


def test_members_are_listed_masked(world, party):
    data = call(world, "official", "GET", "/members", {"org": "SD-ZB"}).json()
    assert data["count"] == 2
    secretary = next(m for m in data["items"] if m["posts"] == ["secretary"])
    full = party.members["SD-ZB"].id_number
    assert secretary["id_number"] != full and "*" in secretary["id_number"]
    assert secretary["id_number"][-4:] == full[-4:]
    assert secretary["phone"] == "139****5678"
    assert secretary["skills"] == ["种植"]
    assert full not in json.dumps(data)


def test_a_member_is_revealed_for_a_reason_and_recorded(world, party):
    member = party.members["SD-ZB"]
    refused = call(
        world,
        "official",
        "POST",
        f"/members/{member.pk}/reveal",
        {"field": "id_number", "reason": ""},
    )
    assert refused.status_code == 422
    ok = call(
        world,
        "official",
        "POST",
        f"/members/{member.pk}/reveal",
        {"field": "id_number", "reason": "联系转正事宜"},
    )
    assert ok.status_code == 200
    assert ok.json()["value"] == member.id_number
    assert ok["Cache-Control"] == "no-store"
    event = Event.objects.get(pk=ok.json()["event_id"])
    assert event.action == Event.Action.REVEAL and event.reason == "联系转正事宜"
    assert event.object_type == "orgs.member" and event.object_id == str(member.pk)
    # A grid worker sees the member but may not reveal numbers.
    assert (
        call(
            world,
            "worker",
            "POST",
            f"/members/{member.pk}/reveal",
            {"field": "id_number", "reason": "想知道一下"},
        ).status_code
        == 403
    )


def test_the_secretary_records_a_meeting_with_attendance(world, party):
    sd = party.orgs["SD-ZB"]
    people = list(sd.members.order_by("pk"))
    payload = {
        "kind": "member_meeting",
        "held_on": "2025-06-30",
        "topic": "党员大会",
        "attendance": [
            {"member_id": people[0].pk, "status": "present"},
            {"member_id": people[1].pk, "status": "absent", "reason": "外出务工"},
        ],
    }
    response = call(world, "secretary", "POST", "/organizations/SD-ZB/meetings", payload)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["attendance"] == {"present": 1, "absent": 1, "leave": 0}
    meeting = Meeting.objects.get(pk=body["id"])
    assert Attendance.objects.get(meeting=meeting, member=people[1]).reason == "外出务工"
    assert Event.objects.filter(object_type="orgs.meeting", object_id=str(meeting.pk)).exists()
    # An absence without its reason is refused, naming the field; nothing is written.
    payload["attendance"][1]["reason"] = ""
    before = Meeting.objects.count()
    refused = call(world, "secretary", "POST", "/organizations/SD-ZB/meetings", payload)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "attendance"
    assert Meeting.objects.count() == before
    # The village secretary sees the joint branch but does not record the neighbour's branch.
    assert (
        call(world, "secretary", "POST", "/organizations/XM-ZB/meetings", payload).status_code
        == 404
    )


def test_life_answers_like_the_command(world, party):
    data = call(
        world,
        "official",
        "GET",
        "/organizations/SD-ZB/life",
        {"since": "2025-01-01", "until": "2025-03-31"},
    ).json()
    assert data["org"] == "SD-ZB"
    assert data["kinds"]["theme_day"] == {
        "required": 3,
        "held": 1,
        "missing_periods": ["2025-01", "2025-02"],
    }
    assert data["attendance_rate"] == 1.0
    bad = call(
        world,
        "official",
        "GET",
        "/organizations/SD-ZB/life",
        {"since": "2025-04-01", "until": "2025-03-31"},
    )
    assert bad.status_code == 422


def test_it_adds_photos_only_in_scope(world, party):
    inside = party.meetings["SD-ZB"]
    outside = party.meetings["BS-ZB"]

    def post(meeting: Meeting, content: bytes = PNG) -> Any:
        photo = SimpleUploadedFile("p.png", content, content_type="image/png")
        return call(
            world,
            "official",
            "POST",
            f"/meetings/{meeting.pk}/photos",
            {"photos": [photo]},
            multipart=True,
        )

    assert post(outside).status_code == 404
    assert Photo.objects.filter(meeting=outside).count() == 1
    response = post(inside)
    assert response.status_code == 200, response.content
    assert len(response.json()["photos"]) == 2
    # Not an image: refused by its bytes, whatever the name says.
    refused = post(inside, b"%PDF-1.4 not a photo")
    assert refused.status_code == 422
    assert Photo.objects.filter(meeting=inside).count() == 2
    # The photo is served in scope only.
    url = response.json()["photos"][-1].removeprefix(API)
    assert call(world, "official", "GET", url).status_code == 200
    assert call(world, "outsider", "GET", url).status_code == 404


def test_a_joint_activity_is_recorded_within_its_pool(world, party):
    sd = party.orgs["SD-ZB"]
    joint = party.orgs["SX-LH"]
    payload = {
        "organization": "SX-LH",
        "theme": "联建助农",
        "held_on": "2025-05-01",
        "place": "水东村部",
        "organizations": ["SD-ZB", "XM-ZB"],
        "attendees": [party.members["SD-ZB"].pk],
        "guests": 5,
    }
    response = call(world, "official", "POST", "/activities", payload)
    assert response.status_code == 200, response.content
    body = response.json()
    assert sorted(o["code"] for o in body["organizations"]) == ["SD-ZB", "SX-LH", "XM-ZB"]
    assert body["attendees"] == 1 and body["guests"] == 5
    activity = Activity.objects.get(pk=body["id"])
    assert activity.organization == joint
    assert Event.objects.filter(object_type="orgs.activity", object_id=str(activity.pk)).exists()
    # Town B's branch is not in this joint branch's pool; and not in the official's scope.
    payload["organizations"] = ["BS-ZB"]
    refused = call(world, "official", "POST", "/activities", payload)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "organizations"
    listed = call(world, "secretary", "GET", "/activities", {"org": "SX-LH"}).json()
    assert [a["theme"] for a in listed["items"]] == ["联建助农"]
    assert sd.activities.filter(pk=activity.pk).exists()


def test_the_talent_pool_shares_who_can_help_not_their_numbers(world, party):
    # The alliance LJ-SB links 水东 (town A) and 半山 (town B).
    found = call(world, "official", "GET", "/talent", {"group": "LJ-SB", "skill": "种植"}).json()
    names = {item["name"]: item for item in found["items"]}
    assert set(names) == {"SD-ZB书记", "BS-ZB书记"}
    assert names["SD-ZB书记"]["phone"] == "139****5678"
    assert names["SD-ZB书记"]["in_scope"] is True
    # A member of town B: found, with no number for town A's official.
    assert names["BS-ZB书记"]["phone"] is None and names["BS-ZB书记"]["in_scope"] is False
    ecommerce = call(
        world, "official", "GET", "/talent", {"group": "LJ-SB", "skill": "电商"}
    ).json()
    assert ecommerce["count"] == 2
    Member.objects.filter(name="BS-ZB党员").update(available=False)
    available = call(
        world,
        "official",
        "GET",
        "/talent",
        {"group": "LJ-SB", "skill": "电商", "available": "true"},
    ).json()
    assert [m["name"] for m in available["items"]] == ["SD-ZB党员"]
    # A group outside the scope finds nobody.
    assert call(world, "official", "GET", "/talent", {"group": "JX-ZB"}).json()["count"] == 0


def test_lists_take_the_same_queries_whatever_their_length(world, party):
    """No query per row: the secretaries' vacancy, the activities' attendees and the meetings'
    attendance are read for the whole page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.orgs.party_world import _branch_life, _people
    from tests.orgs.shared_world import organization

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as seen:
            assert call(world, "admin", "GET", path).status_code == 200
        return len(seen)

    paths = ["/organizations", "/meetings", "/activities"]
    before = [queries(p) for p in paths]
    for i, village in enumerate([world.village_a1, world.village_a2, world.village_b1]):
        org = organization(f"EX-{i}", f"新增支部{i}", "branch", village)
        _branch_life(org, _people(org, f"EX{i}"))
    assert [queries(p) for p in paths] == before
    meeting = call(world, "admin", "GET", "/meetings", {"org": "EX-0"}).json()["items"][0]
    assert meeting["attendance"] == {"present": 2, "absent": 0, "leave": 0}
    activity = call(world, "admin", "GET", "/activities", {"org": "EX-0"}).json()["items"][0]
    assert activity["attendees"] == 2 and activity["guests"] == 3
    vacancies = {
        o["code"]: o["secretary_vacant_since"]
        for o in call(world, "admin", "GET", "/organizations").json()["items"]
    }
    assert vacancies["EX-0"] is None and vacancies["XM-ZB"] is not None

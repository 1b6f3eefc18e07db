"""Console pages of party organizations: the tree of a scope with branch life, an
organization's page (a joint branch's villages side by side, masked members), recording a
meeting on a phone, revealing a member's number with a reason, the talent pool search."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from grassroots.audit.models import Event
from grassroots.orgs.models import Activity, Attendance, Meeting, Photo
from tests import factories as f
from tests.orgs.party_world import PNG, party_world


@pytest.fixture
def party(world: Any) -> Any:
    f.unit("350425", "大田县")
    f.unit("350425100", "均溪镇")
    return party_world(world, f.unit("350425100001", "城关社区", "community"))


def test_the_tree_shows_the_scope_with_branch_life(party, login):
    response = login("official").get("/console/orgs/", {"year": "2025"})
    assert response.status_code == 200
    rows = {row.org.code: row for row in response.context["rows"]}
    assert set(rows) == {"SD-ZB", "SX-LH", "XM-ZB"}
    sd = rows["SD-ZB"]
    assert sd.members == 2 and sd.has_secretary
    # One theme day in March 2025: held 1 of 12 required months.
    assert sd.life.kinds["theme_day"].held == 1
    assert sd.life.kinds["theme_day"].required == 12
    assert not rows["XM-ZB"].has_secretary
    html = response.content.decode()
    assert "水东社区党支部" in html and "半山村党支部" not in html
    gaps = login("official").get("/console/orgs/", {"year": "2025", "kind": "joint_branch"})
    assert [r.org.code for r in gaps.context["rows"]] == ["SX-LH"]
    assert login("official").get("/console/orgs/", {"year": "1999"}).status_code == 404


def test_a_village_secretary_sees_the_joint_branch_of_their_village(party, login):
    rows = login("secretary").get("/console/orgs/").context["rows"]
    assert [r.org.code for r in rows] == ["SD-ZB", "SX-LH"]
    assert login("secretary").get("/console/orgs/XM-ZB/").status_code == 404
    assert login("outsider").get("/console/orgs/SX-LH/").status_code == 404


def test_the_joint_branch_page_shows_its_villages_side_by_side(party, login, world):
    response = login("official").get("/console/orgs/SX-LH/")
    assert response.status_code == 200
    units = response.context["units"]
    assert [u.code for u in units] == ["350426100001", "350426100002"]
    # 水东: two households (赵光菊's and 钱多多's) in A1-1 and one (孙悟空) in A1-2.
    assert [u.households for u in units] == [3, 1]
    assert [u.members for u in units] == [1, 0]  # 赵光菊 is a member living in 水东
    total = response.context["total"]
    assert (total.households, total.residents) == (4, 4)
    html = response.content.decode()
    assert "五个不变" in html


def test_members_are_shown_masked_on_the_organization_page(party, login):
    response = login("official").get("/console/orgs/SD-ZB/")
    html = response.content.decode()
    secretary = party.members["SD-ZB"]
    assert secretary.id_number not in html
    assert secretary.id_number_masked in html
    assert "13912345678" not in html and "139****5678" in html
    assert f"/console/orgs/members/{secretary.pk}/reveal/" in html
    # A grid worker sees the organization but reveals nothing.
    assert "/reveal/" not in login("worker").get("/console/orgs/SD-ZB/").content.decode()


def test_the_secretary_records_a_meeting_on_a_phone(party, login, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = login("secretary")
    form = client.get("/console/orgs/SD-ZB/meeting/")
    assert form.status_code == 200
    people = list(party.orgs["SD-ZB"].members.order_by("pk"))
    data = {
        "kind": "committee_meeting",
        "held_on": datetime.date.today().isoformat(),
        "topic": "研究发展党员",
        "place": "村部",
        f"att_{people[0].pk}": "present",
        f"att_{people[1].pk}": "leave",
        f"reason_{people[1].pk}": "生病",
        "photos": [SimpleUploadedFile("a.png", PNG, content_type="image/png")],
    }
    response = client.post("/console/orgs/SD-ZB/meeting/", data)
    assert response.status_code == 302
    meeting = Meeting.objects.get(topic="研究发展党员")
    assert Attendance.objects.get(meeting=meeting, member=people[1]).status == "leave"
    assert Photo.objects.filter(meeting=meeting).count() == 1
    assert Event.objects.filter(object_type="orgs.meeting", object_id=str(meeting.pk)).exists()
    # An absence without a reason: the form again, nothing written.
    data.update({f"att_{people[1].pk}": "absent", f"reason_{people[1].pk}": "", "topic": "再议"})
    data["photos"] = []
    again = client.post("/console/orgs/SD-ZB/meeting/", data)
    assert again.status_code == 400
    assert "give the reason for each absence" in again.content.decode()
    assert not Meeting.objects.filter(topic="再议").exists()
    # The neighbouring village's branch is not theirs to record (nor to see).
    assert client.get("/console/orgs/XM-ZB/meeting/").status_code == 404
    # A town official of another town: 404; a grid worker: 403.
    assert login("outsider").get("/console/orgs/SD-ZB/meeting/").status_code == 404
    assert login("worker").get("/console/orgs/SD-ZB/meeting/").status_code == 403


def test_a_bad_photo_writes_no_meeting(party, login):
    client = login("official")
    people = list(party.orgs["SD-ZB"].members.order_by("pk"))
    data = {
        "kind": "theme_day",
        "held_on": "2025-04-01",
        "topic": "坏照片",
        **{f"att_{p.pk}": "present" for p in people},
        "photos": [SimpleUploadedFile("x.png", b"<script>alert(1)</script>")],
    }
    response = client.post("/console/orgs/SD-ZB/meeting/", data)
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert not Meeting.objects.filter(topic="坏照片").exists()


def test_a_number_is_revealed_with_a_reason(party, login):
    member = party.members["SD-ZB"]
    client = login("official")
    url = f"/console/orgs/members/{member.pk}/reveal/"
    assert member.id_number not in client.get(url).content.decode()
    short = client.post(url, {"field": "id_number", "reason": "x"})
    assert short.status_code == 400 and member.id_number not in short.content.decode()
    shown = client.post(url, {"field": "id_number", "reason": "核对党员信息"})
    assert shown.status_code == 200
    assert member.id_number in shown.content.decode()
    assert shown["Cache-Control"] == "no-store"
    assert Event.objects.filter(action="reveal", object_type="orgs.member").count() == 1
    assert login("outsider").get(url).status_code == 404
    assert login("worker").get(url).status_code == 403


def test_the_talent_search_finds_by_skill(party, login):
    client = login("official")
    page = client.get("/console/orgs/talent/")
    assert page.status_code == 200
    assert ("SX-LH", "水西联合党支部") in page.context["groups"]
    found = client.get("/console/orgs/talent/", {"group": "LJ-SB", "skill": "种植"})
    names = sorted(m.name for m in found.context["page_obj"])
    assert names == ["BS-ZB书记", "SD-ZB书记"]
    # Town B's member is found, but their number (even masked) is not shown to town A.
    assert found.context["seen"] == {party.members["SD-ZB"].pk}
    assert found.content.decode().count("139****5678") == 1
    assert client.get("/console/orgs/talent/", {"group": "JX-ZB"}).status_code == 404


def test_a_joint_activity_is_recorded_with_its_pool(party, login):
    client = login("official")
    page = client.get("/console/orgs/SX-LH/activity/")
    assert page.status_code == 200
    pool = dict(page.context["form"].fields["organizations"].choices)
    assert sorted(pool.values()) == ["水东社区党支部", "水西联合党支部", "西门社区党支部"]
    sd = party.orgs["SD-ZB"]
    secretary = party.members["SD-ZB"]
    response = client.post(
        "/console/orgs/SX-LH/activity/",
        {
            "theme": "联建清溪",
            "held_on": "2025-06-01",
            "place": "水东溪",
            "organizations": [str(sd.pk)],
            "attendees": [str(secretary.pk)],
            "guests": "12",
        },
    )
    assert response.status_code == 302
    activity = Activity.objects.get(theme="联建清溪")
    assert activity.organization.code == "SX-LH" and activity.guests == 12
    assert set(activity.organizations.values_list("code", flat=True)) == {"SX-LH", "SD-ZB"}
    assert list(activity.attendees.all()) == [secretary]
    assert Event.objects.filter(object_type="orgs.activity", object_id=str(activity.pk)).exists()
    # A member of another town's branch is not offered, and naming one is refused.
    outsider = party.members["BS-ZB"]
    refused = client.post(
        "/console/orgs/SX-LH/activity/",
        {
            "theme": "再联建",
            "held_on": "2025-06-02",
            "organizations": [str(sd.pk)],
            "attendees": [str(outsider.pk)],
            "guests": "0",
        },
    )
    assert refused.status_code == 400
    assert not Activity.objects.filter(theme="再联建").exists()
    assert login("secretary").get("/console/orgs/XM-ZB/activity/").status_code == 404
    assert login("worker").get("/console/orgs/SD-ZB/activity/").status_code == 403

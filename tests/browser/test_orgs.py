"""Party organization pages in Chromium, at phone and desktop width, in Chinese and English,
as each persona that uses them: the tree, an organization's page, the talent pool, revealing
a number; and the village secretary recording a meeting on a phone."""

from __future__ import annotations

import pytest

from grassroots.orgs.models import Attendance, Meeting, Photo
from tests import factories as f
from tests.orgs.party_world import PNG, party_world

from .test_layout import UNLABELLED

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def party(world):
    f.unit("350425", "大田县")
    f.unit("350425100", "均溪镇")
    return party_world(world, f.unit("350425100001", "城关社区", "community"))


PAGES = {
    "official": [
        "/console/orgs/",
        "/console/orgs/SX-LH/",
        "/console/orgs/talent/?group=LJ-SB&skill=种植",
        "/console/orgs/SX-LH/activity/",
    ],
    "secretary": ["/console/orgs/", "/console/orgs/SD-ZB/", "/console/orgs/SD-ZB/meeting/"],
    "admin": ["/console/orgs/?kind=branch", "/console/orgs/BS-ZB/"],
}


@pytest.mark.parametrize("who", sorted(PAGES))
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_pages_hold_at_both_widths_in_both_languages(visit, world, party, who, language):
    visitor = visit(world.users[who], width="phone", language=language)
    for path in PAGES[who]:
        response = visitor.go(path)
        assert response.status == 200, f"{path} answered {response.status}"
        visitor.no_sideways_scroll()
        assert visitor.page.evaluate(UNLABELLED) == [], f"unlabelled form controls on {path}"
        # In the language asked for: the menu, and the page's own heading.
        menu = "党组织" if language == "zh-hans" else "Party organizations"
        assert menu in visitor.page.inner_text(".mainnav")
        assert visitor.page.inner_text("main h1").strip()
        name = path.strip("/").replace("/", "-").replace("?", "-").split("&")[0]
        visitor.shot(f"{who}-{language}-{name}")
    visitor.check_clean()


def test_the_village_secretary_records_a_meeting_on_a_phone(visit, world, party, tmp_path):
    people = list(party.orgs["SD-ZB"].members.order_by("pk"))
    visitor = visit(world.users["secretary"], width="phone")
    visitor.go("/console/orgs/SD-ZB/")
    visitor.page.click("#record-meeting")
    page = visitor.page
    page.check("input[name=kind][value=theme_day]")
    page.fill("input[name=topic]", "重温入党誓词")
    # Everyone is present unless marked: one member on leave, with the reason.
    page.check(f"input[name=att_{people[1].pk}][value=leave]")
    page.fill(f"input[name=reason_{people[1].pk}]", "生病请假")
    photo = tmp_path / "meeting.png"
    photo.write_bytes(PNG)
    page.set_input_files("input[name=photos]", str(photo))
    visitor.no_sideways_scroll()
    visitor.shot("secretary-meeting-filled")
    page.click("button[type=submit].primary")
    page.wait_for_load_state("load")
    assert "/console/orgs/SD-ZB/" in page.url
    meeting = Meeting.objects.get(topic="重温入党誓词")
    assert meeting.kind == "theme_day"
    statuses = dict(Attendance.objects.filter(meeting=meeting).values_list("member_id", "status"))
    assert statuses == {people[0].pk: "present", people[1].pk: "leave"}
    assert Photo.objects.filter(meeting=meeting).count() == 1
    assert "重温入党誓词" in page.inner_text("#meetings")
    visitor.shot("secretary-meeting-saved")
    visitor.check_clean()


def test_a_number_is_revealed_with_a_reason_in_the_browser(visit, world, party):
    member = party.members["SD-ZB"]
    visitor = visit(world.users["official"], width="desktop", language="en")
    visitor.go("/console/orgs/SD-ZB/")
    assert member.id_number not in visitor.page.content()
    visitor.page.click(f"#member-{member.pk} a")
    visitor.page.fill("textarea[name=reason]", "核对党员身份信息")
    visitor.page.click("button[type=submit].primary")
    visitor.page.wait_for_load_state("load")
    assert member.id_number in visitor.page.inner_text("#revealed")
    visitor.shot("official-reveal")
    visitor.check_clean()

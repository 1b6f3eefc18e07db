"""Party organizations for the personas' world (tests/conftest.py): members, a secretary,
meetings with attendance and a photo, joint activities and an alliance, in town A, in town B
and, when given a village of another county, there too (outside every persona's scope).

The organizations are those of shared_world.py (found or created by code, whichever fixture
runs first): 水东 SD-ZB, 西门 XM-ZB and the joint branch SX-LH over both in town A, 半山 BS-ZB in
town B, and JX-ZB next door. The harnesses (tests/api/test_out_of_scope.py,
tests/web/test_page_harness.py) and the page and API tests build on it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile

from grassroots.orgs.activities import activity_record
from grassroots.orgs.models import (
    Alliance,
    Meeting,
    Member,
    MemberPost,
    MemberSkill,
    Organization,
    Photo,
    Post,
)
from grassroots.orgs.services import meeting_record
from grassroots.territory.models import Unit
from tests import factories as f

from .shared_world import organization

# The smallest PNG there is: a photo's bytes for the tests.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
HELD = datetime.date(2025, 3, 20)


@dataclass
class PartyWorld:
    orgs: dict[str, Organization]
    members: dict[str, Member]
    meetings: dict[str, Meeting]


def member(org: Organization, name: str, *, resident: Any = None, **extra: Any) -> Member:
    number = resident.id_number if resident is not None else f.id_number("19800101")
    m = Member(
        organization=org,
        resident=resident,
        name=name,
        id_number=number,
        phone="13912345678",
        status=extra.pop("status", Member.Status.FORMAL),
        joined_on=extra.pop("joined_on", datetime.date(2005, 7, 1)),
        **extra,
    )
    m.save()
    return m


def _branch_life(org: Organization, people: list[Member]) -> Meeting:
    meeting = meeting_record(
        actor=None,
        organization=org,
        data={"kind": "theme_day", "held_on": HELD, "topic": "主题党日", "place": "村部"},
        attendance={p.pk: ("present", "") for p in people},
    )
    photo = Photo(meeting=meeting, content_type="image/png", size=len(PNG), sha256="0" * 64)
    photo.file.save("harness.png", ContentFile(PNG), save=False)
    photo.save()
    activity = activity_record(
        actor=None,
        organization=org,
        data={"theme": "联建志愿服务", "held_on": HELD, "place": "村部", "guests": 3},
        attendees=people,
    )
    photo = Photo(activity=activity, content_type="image/png", size=len(PNG), sha256="1" * 64)
    photo.file.save("harness.png", ContentFile(PNG), save=False)
    photo.save()
    return meeting


def _people(org: Organization, prefix: str, resident: Any = None) -> list[Member]:
    secretary = member(org, f"{prefix}书记", resident=resident)
    MemberPost.objects.create(
        member=secretary, organization=org, post=Post.SECRETARY, started_on=HELD
    )
    MemberSkill.objects.create(member=secretary, skill="种植")
    other = member(org, f"{prefix}党员", status=Member.Status.PROBATIONARY)
    MemberSkill.objects.create(member=other, skill="电商")
    return [secretary, other]


def party_world(world: Any, outside_village: Unit | None = None) -> PartyWorld:
    """Members, life and shared work of SD-ZB (town A, 赵光菊 its secretary), BS-ZB (town B)
    and, with `outside_village`, JX-ZB there; the alliance LJ-SB links SD-ZB and BS-ZB."""
    sd = organization("SD-ZB", "水东社区党支部", "branch", world.village_a1)
    organization("XM-ZB", "西门社区党支部", "branch", world.village_a2)
    joint = organization(
        "SX-LH", "水西联合党支部", "joint_branch", world.village_a1, world.village_a2
    )
    bs = organization("BS-ZB", "半山村党支部", "branch", world.village_b1)
    orgs = {"SD-ZB": sd, "SX-LH": joint, "BS-ZB": bs}
    members: dict[str, Member] = {}
    meetings: dict[str, Meeting] = {}
    places = [("SD-ZB", sd, world.residents["赵光菊"]), ("BS-ZB", bs, world.residents["周杰伦"])]
    if outside_village is not None:
        jx = organization("JX-ZB", "城关社区党支部", "branch", outside_village)
        orgs["JX-ZB"] = jx
        places.append(("JX-ZB", jx, None))
    for code, org, resident in places:
        people = _people(org, code, resident)
        members[code] = people[0]
        meetings[code] = _branch_life(org, people)
    alliance = Alliance.objects.create(code="LJ-SB", name="水东半山联建")
    alliance.organizations.set([sd, bs])
    if outside_village is not None:
        there = Alliance.objects.create(code="LJ-JX", name="均溪联建")
        there.organizations.set([orgs["JX-ZB"]])
    return PartyWorld(orgs, members, meetings)

"""Shared resources and joint projects for the personas' world (tests/conftest.py), written
through the services: a joint branch over town A's two villages with a venue, a booking and a
tea project; and, when given a village of another county, the same there (outside every
persona's scope). The harnesses (tests/api/test_out_of_scope.py, tests/web/test_page_harness.py)
and the tests of orgs.shared build on it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from grassroots.orgs import services, shared
from grassroots.orgs.models import Booking, Organization, Project, Resource
from grassroots.territory.models import Unit


@dataclass
class SharedWorld:
    orgs: dict[str, Organization]
    venue: Resource
    booking: Booking
    project: Project
    elsewhere: dict[str, Any]


def organization(code: str, name: str, kind: str, *units: Unit) -> Organization:
    """The organization with `code`, created unless a fixture made it already."""
    found = Organization.objects.filter(code=code).first()
    if found is not None:
        return found
    return services.organization_create(
        actor=None, data={"code": code, "name": name, "kind": kind, "units": list(units)}
    )


def tomorrow_at(hour: int, days: int = 1) -> datetime.datetime:
    day = timezone.localdate() + datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def _group(prefix: str, branches: list[Organization], joint: Organization, homes: list[Any]) -> Any:
    venue = shared.resource_create(
        actor=None,
        organization=joint,
        data={"kind": "venue", "name": f"{prefix}党群服务中心", "description": "可容纳80人"},
    )
    booking = shared.booking_create(
        actor=None,
        resource=venue,
        organization=branches[0],
        data={"starts_at": tomorrow_at(9), "ends_at": tomorrow_at(11), "purpose": "主题党日"},
    )
    project = shared.project_create(
        actor=None,
        organization=joint,
        data={
            "name": f"{prefix}茶产业项目",
            "industry": "tea",
            "investment_yuan": "500000.00",
            "started_on": datetime.date(2024, 3, 1),
        },
        organizations=branches,
        households=homes,
    )
    shared.milestone_add(
        actor=None, project=project, data={"title": "茶园整地", "due_on": datetime.date(2024, 5, 1)}
    )
    return venue, booking, project


def shared_world(world: Any, outside_village: Unit | None = None) -> SharedWorld:
    """Town A: branches of 水东 and 西门 and the joint branch 水西联合党支部 over both, a venue
    with tomorrow morning booked, a tea project with two households and a milestone due in
    2024 (overdue). With `outside_village`: a branch there with the same."""
    sd = organization("SD-ZB", "水东社区党支部", "branch", world.village_a1)
    xm = organization("XM-ZB", "西门社区党支部", "branch", world.village_a2)
    joint = organization(
        "SX-LH", "水西联合党支部", "joint_branch", world.village_a1, world.village_a2
    )
    bs = organization("BS-ZB", "半山村党支部", "branch", world.village_b1)
    homes = [world.households["HA11-1"], world.households["HA21-1"]]
    venue, booking, project = _group("水西", [sd, xm], joint, homes)
    elsewhere: dict[str, Any] = {}
    if outside_village is not None:
        there = organization("JX-ZB", "城关社区党支部", "branch", outside_village)
        homes = list(outside_village.households.all()[:1])
        venue_x, booking_x, project_x = _group("均溪", [there], there, homes)
        elsewhere = {"org": there, "venue": venue_x, "booking": booking_x, "project": project_x}
    return SharedWorld(
        orgs={"SD-ZB": sd, "XM-ZB": xm, "SX-LH": joint, "BS-ZB": bs},
        venue=venue,
        booking=booking,
        project=project,
        elsewhere=elsewhere,
    )

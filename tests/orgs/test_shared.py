"""Shared resources with bookings, and joint industry projects (issue 13, item 3): bookings never
overlap and come from the resource's pool; projects take part households only from the units
their organizations serve; progress and overdue milestones; who may write; every write audited."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from grassroots.audit.models import Event
from grassroots.orgs import shared
from grassroots.orgs.models import Booking, Milestone, ProjectIncome, Resource
from grassroots.orgs.services import alliance_save
from tests import factories as f

from .shared_world import shared_world, tomorrow_at


@pytest.fixture
def sw(world: Any) -> Any:
    return shared_world(world)


def book(actor: Any, resource: Any, org: Any, start: int, end: int, days: int = 1) -> Booking:
    return shared.booking_create(
        actor=actor,
        resource=resource,
        organization=org,
        data={
            "starts_at": tomorrow_at(start, days),
            "ends_at": tomorrow_at(end, days),
            "purpose": "党员大会",
        },
    )


def refusal(excinfo: Any) -> dict[str, list[str]]:
    return excinfo.value.message_dict


# --- Bookings --------------------------------------------------------------------------------------


def test_an_overlapping_booking_is_refused_naming_the_booking_it_clashes_with(
    world: Any, sw: Any
) -> None:
    secretary = world.users["secretary"]
    with pytest.raises(ValidationError) as refused:
        book(secretary, sw.venue, sw.orgs["SX-LH"], 10, 12)
    day = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert refusal(refused) == {
        "starts_at": [f"水东社区党支部 has booked it from {day} 09:00 until {day} 11:00"]
    }
    # Inside it, around it: refused too.
    for start, end in ((9, 10), (8, 12)):
        with pytest.raises(ValidationError):
            book(secretary, sw.venue, sw.orgs["SX-LH"], start, end)
    assert sw.venue.bookings.count() == 1


def test_bookings_that_touch_at_an_edge_do_not_overlap(world: Any, sw: Any) -> None:
    secretary = world.users["secretary"]
    before = book(secretary, sw.venue, sw.orgs["SD-ZB"], 7, 9)
    after = book(secretary, sw.venue, sw.orgs["SX-LH"], 11, 12)
    assert list(shared.bookings_ahead(sw.venue)) == [before, sw.booking, after]
    assert after.created_by == secretary


def test_a_booking_ends_after_it_starts(world: Any, sw: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        book(world.users["official"], sw.venue, sw.orgs["SD-ZB"], 15, 14)
    assert refusal(refused) == {"ends_at": ["a booking ends after it starts"]}


def test_only_an_organization_of_the_pool_books_a_resource(world: Any, sw: Any) -> None:
    # 半山村 is not one of the joint branch's villages.
    with pytest.raises(ValidationError) as refused:
        book(world.users["admin"], sw.venue, sw.orgs["BS-ZB"], 14, 15)
    assert refusal(refused) == {"organization": ["半山村党支部 does not share this resource"]}
    assert list(shared.resource_pool(sw.venue).order_by("code")) == [
        sw.orgs["SD-ZB"],
        sw.orgs["SX-LH"],
        sw.orgs["XM-ZB"],
    ]


def test_an_alliances_resource_is_shared_by_the_alliances_organizations(
    world: Any, sw: Any
) -> None:
    admin = world.users["admin"]
    alliance = alliance_save(
        actor=admin,
        data={"code": "LJ-1", "name": "茶产业联建"},
        organizations=[sw.orgs["SD-ZB"], sw.orgs["BS-ZB"]],
    )
    with pytest.raises(ValidationError) as refused:
        shared.resource_create(
            actor=admin,
            organization=sw.orgs["XM-ZB"],
            alliance=alliance,
            data={"kind": "machinery", "name": "采茶机"},
        )
    assert refusal(refused) == {"alliance": ["the organization is not part of this alliance"]}
    machine = shared.resource_create(
        actor=admin,
        organization=sw.orgs["SD-ZB"],
        alliance=alliance,
        data={"kind": "machinery", "name": "采茶机"},
    )
    assert book(admin, machine, sw.orgs["BS-ZB"], 9, 17).organization == sw.orgs["BS-ZB"]
    with pytest.raises(ValidationError):
        book(admin, machine, sw.orgs["XM-ZB"], 18, 19)
    # Town B's people see it through their organization in the alliance.
    assert list(shared.resources_for(world.users["outsider"])) == [machine]


def test_who_may_book(world: Any, sw: Any) -> None:
    # The village's secretary books for an organization serving their village; grid workers
    # and town B's official may not; the secretary of 半山村 neither.
    assert book(world.users["secretary"], sw.venue, sw.orgs["SD-ZB"], 13, 14)
    for persona in ("worker", "outsider", "auditor", "dispatcher"):
        with pytest.raises(PermissionDenied):
            book(world.users[persona], sw.venue, sw.orgs["SD-ZB"], 15, 16)
    banshan = f.user("banshan", "village_secretary", world.village_b1.code)
    with pytest.raises(PermissionDenied):
        book(banshan, sw.venue, sw.orgs["XM-ZB"], 15, 16)
    # 水东's secretary books for the organizations serving 水东, not for 西门's branch, and
    # cancels none of its bookings; the town does both.
    with pytest.raises(PermissionDenied):
        book(world.users["secretary"], sw.venue, sw.orgs["XM-ZB"], 15, 16)
    theirs = book(world.users["official"], sw.venue, sw.orgs["XM-ZB"], 15, 16)
    assert shared.bookable_for(world.users["secretary"], sw.venue) == [
        sw.orgs["SD-ZB"],
        sw.orgs["SX-LH"],
    ]
    assert shared.cancellable(world.users["secretary"], sw.venue, [sw.booking, theirs]) == {
        sw.booking.pk
    }
    with pytest.raises(PermissionDenied):
        shared.booking_cancel(actor=world.users["secretary"], booking=theirs)
    assert sw.venue.bookings.count() == 3


def test_a_booking_is_audited_and_cancelled_by_who_may_book(world: Any, sw: Any) -> None:
    booking = book(world.users["secretary"], sw.venue, sw.orgs["SD-ZB"], 13, 14)
    pk = booking.pk
    created = Event.objects.get(object_type="orgs.booking", object_id=str(pk))
    assert created.action == "create"
    assert created.scope_code == "350426100"  # the town holding both villages
    assert created.changes["purpose"] == [None, "党员大会"]
    with pytest.raises(PermissionDenied):
        shared.booking_cancel(actor=world.users["outsider"], booking=booking)
    with pytest.raises(PermissionDenied):
        shared.booking_cancel(actor=world.users["worker"], booking=booking)
    shared.booking_cancel(actor=world.users["official"], booking=booking)
    assert not Booking.objects.filter(pk=pk).exists()
    deleted = Event.objects.get(object_type="orgs.booking", object_id=str(pk), action="delete")
    assert deleted.changes["purpose"] == ["党员大会", None]


def test_a_booking_that_has_ended_stays_on_record(world: Any, sw: Any) -> None:
    past = book(None, sw.venue, sw.orgs["SD-ZB"], 9, 11, days=-3)
    with pytest.raises(ValidationError) as refused:
        shared.booking_cancel(actor=world.users["official"], booking=past)
    assert refusal(refused) == {"booking": ["a booking that has ended stays on record"]}
    assert list(shared.bookings_ahead(sw.venue)) == [sw.booking]


# --- Resources -------------------------------------------------------------------------------------


def test_resources_are_written_by_who_edits_their_organization(world: Any, sw: Any) -> None:
    data = {"kind": "fund", "name": "联建发展基金", "amount_yuan": decimal.Decimal("200000")}
    for persona in ("secretary", "outsider", "worker"):
        with pytest.raises(PermissionDenied):
            shared.resource_create(
                actor=world.users[persona], organization=sw.orgs["SX-LH"], data=data
            )
    fund = shared.resource_create(
        actor=world.users["official"], organization=sw.orgs["SX-LH"], data=data
    )
    event = Event.objects.get(object_type="orgs.resource", object_id=str(fund.pk))
    assert (event.action, event.scope_code) == ("create", "350426100")
    assert event.changes["amount_yuan"] == [None, "200000"]
    with pytest.raises(PermissionDenied):
        shared.resource_update(actor=world.users["secretary"], resource=fund, data={"name": "x"})
    shared.resource_update(
        actor=world.users["admin"], resource=fund, data={"amount_yuan": decimal.Decimal("250000")}
    )
    fund.refresh_from_db()
    assert fund.amount_yuan == decimal.Decimal("250000")
    update = Event.objects.get(object_type="orgs.resource", object_id=str(fund.pk), action="update")
    assert update.changes == {"amount_yuan": ["200000.00", "250000"]}


def test_a_resource_says_what_is_wrong_with_it(world: Any, sw: Any) -> None:
    official = world.users["official"]
    with pytest.raises(ValidationError) as refused:
        shared.resource_create(
            actor=official, organization=sw.orgs["SX-LH"], data={"kind": "fund", "name": "基金"}
        )
    assert refusal(refused) == {"amount_yuan": ["give the amount of a fund"]}
    with pytest.raises(ValidationError) as refused:
        shared.resource_create(
            actor=official,
            organization=sw.orgs["SX-LH"],
            data={"kind": "venue", "name": "会场", "amount_yuan": decimal.Decimal("-1")},
        )
    assert refusal(refused) == {"amount_yuan": ["an amount is not negative"]}
    with pytest.raises(ValidationError) as refused:
        shared.resource_create(
            actor=official, organization=sw.orgs["SX-LH"], data={"kind": "boat", "name": ""}
        )
    assert set(refusal(refused)) == {"kind", "name"}
    assert Resource.objects.count() == 1


def test_each_persona_sees_the_resources_of_the_organizations_they_see(world: Any, sw: Any) -> None:
    for persona in ("admin", "official", "secretary", "worker", "worker2", "auditor"):
        assert list(shared.resources_for(world.users[persona])) == [sw.venue], persona
    assert list(shared.resources_for(world.users["outsider"])) == []
    assert list(Booking.objects.visible_to(world.users["outsider"])) == []
    assert list(Booking.objects.visible_to(world.users["worker"])) == [sw.booking]


# --- Projects --------------------------------------------------------------------------------------


def test_households_outside_the_units_served_are_refused(world: Any, sw: Any) -> None:
    official = world.users["official"]
    with pytest.raises(ValidationError) as refused:
        shared.project_update(
            actor=official,
            project=sw.project,
            data={},
            households=[world.households["HA12-1"], world.households["HB11-1"]],
        )
    assert refusal(refused) == {
        "households": ["not in a village or community the organizations taking part serve: HB11-1"]
    }
    assert sw.project.households.count() == 2
    # An alliance's project: the households of the organizations taking part, not the others.
    admin = world.users["admin"]
    alliance = alliance_save(
        actor=admin,
        data={"code": "LJ-2", "name": "茶旅联建"},
        organizations=[sw.orgs["SD-ZB"], sw.orgs["BS-ZB"]],
    )
    data = {"name": "茶旅融合项目", "industry": "tourism", "started_on": "2025-04-01"}
    banshan = world.households["HB11-1"]
    with pytest.raises(ValidationError) as refused:
        shared.project_create(
            actor=admin,
            organization=sw.orgs["SD-ZB"],
            alliance=alliance,
            data=data,
            households=[banshan],
        )
    assert "HB11-1" in refusal(refused)["households"][0]
    project = shared.project_create(
        actor=admin,
        organization=sw.orgs["SD-ZB"],
        alliance=alliance,
        data=data,
        organizations=[sw.orgs["BS-ZB"]],
        households=[banshan, world.households["HA11-1"]],
    )
    assert project.households.count() == 2


def test_a_project_takes_part_only_organizations_of_its_pool(world: Any, sw: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        shared.project_create(
            actor=world.users["admin"],
            organization=sw.orgs["SX-LH"],
            data={"name": "水产项目", "industry": "aquaculture", "started_on": "2025-01-01"},
            organizations=[sw.orgs["BS-ZB"]],
        )
    assert refusal(refused) == {"organizations": ["not in this joint branch or alliance: BS-ZB"]}


def test_a_project_is_written_by_who_edits_its_organization_and_audited(
    world: Any, sw: Any
) -> None:
    data = {"name": "水西果蔬项目", "industry": "fruit", "started_on": datetime.date(2025, 2, 1)}
    for persona in ("secretary", "outsider"):
        with pytest.raises(PermissionDenied):
            shared.project_create(
                actor=world.users[persona], organization=sw.orgs["SX-LH"], data=data
            )
    project = shared.project_create(
        actor=world.users["official"],
        organization=sw.orgs["SX-LH"],
        data=data,
        organizations=[sw.orgs["XM-ZB"]],
        households=[world.households["HA21-1"]],
    )
    event = Event.objects.get(object_type="orgs.project", object_id=str(project.pk))
    assert event.scope_code == "350426100"
    assert event.changes["organizations"] == [None, ["SX-LH", "XM-ZB"]]
    assert event.changes["households"] == [None, 1]
    shared.project_update(
        actor=world.users["admin"],
        project=project,
        data={"investment_yuan": decimal.Decimal("80000")},
        organizations=[sw.orgs["XM-ZB"], sw.orgs["SD-ZB"]],
    )
    update = Event.objects.get(
        object_type="orgs.project", object_id=str(project.pk), action="update"
    )
    assert update.changes == {
        "investment_yuan": ["0.00", "80000"],
        "organizations": [["SX-LH", "XM-ZB"], ["SD-ZB", "SX-LH", "XM-ZB"]],
    }


def test_progress_counts_the_milestones_done_and_lists_the_overdue(world: Any, sw: Any) -> None:
    official = world.users["official"]
    today = timezone.localdate()
    later = shared.milestone_add(
        actor=official,
        project=sw.project,
        data={"title": "首批春茶上市", "due_on": today + datetime.timedelta(days=30)},
    )
    shared.milestone_add(
        actor=official, project=sw.project, data={"title": "建成加工厂", "due_on": today}
    )
    facts = shared.project_facts(sw.project, today)
    assert [(row.milestone.title, row.overdue) for row in facts.milestones] == [
        ("茶园整地", True),  # due in 2024, not done
        ("建成加工厂", False),  # due today: not overdue yet
        ("首批春茶上市", False),
    ]
    assert (facts.progress, facts.done, facts.overdue, facts.households) == (0, 0, 1, 2)
    first = facts.milestones[0].milestone
    shared.milestone_done(actor=official, milestone=first, done_on=datetime.date(2024, 5, 20))
    shared.milestone_done(actor=official, milestone=later)
    facts = shared.project_facts(sw.project, today)
    assert facts.progress == pytest.approx(2 / 3)
    assert facts.overdue == 0
    row = shared.projects_for(official, today).get()
    assert (row.milestones_total, row.milestones_done, row.milestones_overdue) == (3, 2, 0)
    assert row.households_count == 2
    events = Event.objects.filter(object_type="orgs.milestone").order_by("pk")
    assert [e.action for e in events] == ["create", "create", "create", "update", "update"]
    assert events.last().changes == {"done_on": [None, today.isoformat()]}
    assert {e.scope_code for e in events} == {"350426100"}


def test_a_milestone_is_done_on_a_day_that_has_come(world: Any, sw: Any) -> None:
    milestone = sw.project.milestones.get()
    official = world.users["official"]
    with pytest.raises(ValidationError) as refused:
        shared.milestone_done(
            actor=official,
            milestone=milestone,
            done_on=timezone.localdate() + datetime.timedelta(days=1),
        )
    assert refusal(refused) == {"done_on": ["a milestone is marked done once it is done"]}
    with pytest.raises(ValidationError) as refused:
        shared.milestone_done(
            actor=official, milestone=milestone, done_on=datetime.date(2020, 1, 1)
        )
    assert refusal(refused) == {"done_on": ["that is before the project started"]}
    with pytest.raises(PermissionDenied):
        shared.milestone_done(actor=world.users["secretary"], milestone=milestone)
    with pytest.raises(ValidationError) as refused:
        shared.milestone_add(actor=official, project=sw.project, data={"title": ""})
    assert set(refusal(refused)) == {"title", "due_on"}
    assert Milestone.objects.get(pk=milestone.pk).done_on is None


def test_a_project_without_milestones_has_no_progress(world: Any, sw: Any) -> None:
    sw.project.milestones.all().delete()
    facts = shared.project_facts(sw.project)
    assert (facts.progress, facts.overdue) == (None, 0)


def test_income_is_recorded_once_a_year_and_replaced(world: Any, sw: Any) -> None:
    official = world.users["official"]
    first = shared.income_record(
        actor=official, project=sw.project, year=2024, collective_yuan="30000", households_yuan=0
    )
    again = shared.income_record(
        actor=official,
        project=sw.project,
        year=2024,
        collective_yuan="32000.50",
        households_yuan="120000",
    )
    assert again.pk == first.pk
    assert ProjectIncome.objects.get().households_yuan == decimal.Decimal("120000")
    events = Event.objects.filter(object_type="orgs.projectincome").order_by("pk")
    assert [(e.action, e.changes) for e in events] == [
        (
            "create",
            {
                "year": [None, 2024],
                "collective_yuan": [None, "30000.00"],
                "households_yuan": [None, "0.00"],
            },
        ),
        (
            "update",
            {"collective_yuan": ["30000.00", "32000.50"], "households_yuan": ["0.00", "120000.00"]},
        ),
    ]
    # Recording the same figures again changes nothing and records nothing.
    shared.income_record(
        actor=official,
        project=sw.project,
        year=2024,
        collective_yuan="32000.50",
        households_yuan="120000",
    )
    assert events.count() == 2


def test_income_years_and_amounts_are_checked(world: Any, sw: Any) -> None:
    official = world.users["official"]
    cases = [
        (2023, "1", "1", {"year": ["the project started in 2024"]}),
        (
            timezone.localdate().year + 1,
            "1",
            "1",
            {"year": ["income is recorded for a year that has begun"]},
        ),
        (2024, "-5", "1", {"collective_yuan": ["an amount is not negative"]}),
    ]
    for year, collective, households, errors in cases:
        with pytest.raises(ValidationError) as refused:
            shared.income_record(
                actor=official,
                project=sw.project,
                year=year,
                collective_yuan=collective,
                households_yuan=households,
            )
        assert refusal(refused) == errors
    with pytest.raises(PermissionDenied):
        shared.income_record(
            actor=world.users["secretary"],
            project=sw.project,
            year=2024,
            collective_yuan=1,
            households_yuan=1,
        )
    assert not ProjectIncome.objects.exists()


def test_projects_are_listed_in_one_query(
    world: Any, sw: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        rows = list(shared.projects_for(world.users["secretary"]))
    assert [(r.name, r.milestones_overdue, r.households_count) for r in rows] == [
        ("水西茶产业项目", 1, 2)
    ]
    assert list(shared.projects_for(world.users["outsider"])) == []

"""Console pages of shared resources and joint projects: the lists in scope, booking a resource
(the clash message on the form), cancelling, a project's progress, overdue milestones and income
by year, and its forms for whoever edits it."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest
from django.utils import timezone

from grassroots.orgs import shared
from grassroots.orgs.models import Booking, Milestone, ProjectIncome
from grassroots.web.templatetags.money import yuan
from tests.orgs.shared_world import shared_world, tomorrow_at


@pytest.fixture
def sw(world: Any) -> Any:
    return shared_world(world)


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_the_resource_list_shows_the_resources_in_scope(login: Any, sw: Any) -> None:
    response = login("worker").get("/console/orgs/resources/")
    assert response.status_code == 200
    assert [r.name for r in response.context["page_obj"]] == ["水西党群服务中心"]
    page = response.content.decode()
    assert (
        "Next booking: " + timezone.localtime(sw.booking.starts_at).strftime("%Y-%m-%d 09:00")
        in page
    )
    empty = login("outsider").get("/console/orgs/resources/")
    assert list(empty.context["page_obj"]) == []
    assert "No shared resource in your scope." in empty.content.decode()
    assert (
        login("admin").get("/console/orgs/resources/?kind=fund").context["page_obj"].paginator.count
        == 0
    )


def test_a_secretary_books_a_resource_and_sees_a_clash_named(login: Any, sw: Any) -> None:
    client = login("secretary")
    url = f"/console/orgs/resources/{sw.venue.pk}/"
    page = client.get(url)
    assert page.status_code == 200
    # The organizations serving the secretary's village, not the neighbour's branch.
    choices = page.context["form"].fields["organization"].queryset
    assert [o.code for o in choices] == ["SD-ZB", "SX-LH"]
    data = {
        "organization": sw.orgs["SD-ZB"].pk,
        "starts_at": local(tomorrow_at(10)),
        "ends_at": local(tomorrow_at(12)),
        "purpose": "党员大会",
    }
    response = client.post(url, data)
    assert response.status_code == 400
    day = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert f"水东社区党支部 has booked it from {day} 09:00 until {day} 11:00" in (
        response.content.decode()
    )
    assert response.context["clash"]
    response = client.post(url, {**data, "starts_at": local(tomorrow_at(11))}, follow=True)
    assert response.redirect_chain == [(url, 302)]
    assert f"Booked from {day} 11:00 until {day} 12:00." in response.content.decode()
    assert [b.purpose for b in response.context["bookings"]] == ["主题党日", "党员大会"]


def test_a_booking_is_cancelled_from_the_page_by_who_may(login: Any, sw: Any) -> None:
    url = f"/console/orgs/resources/{sw.venue.pk}/"
    page = login("worker").get(url)
    assert page.context["form"] is None  # a grid worker does not book
    assert page.context["cancellable"] == set()
    assert login("worker").post(url, {"cancel": sw.booking.pk}).status_code == 403
    assert login("outsider").post(url, {"cancel": sw.booking.pk}).status_code == 404
    response = login("official").post(url, {"cancel": sw.booking.pk}, follow=True)
    assert "The booking is cancelled." in response.content.decode()
    assert not Booking.objects.exists()


def test_a_booking_that_has_ended_is_not_cancelled(login: Any, sw: Any) -> None:
    past = shared.booking_create(
        actor=None,
        resource=sw.venue,
        organization=sw.orgs["SD-ZB"],
        data={"starts_at": tomorrow_at(9, -2), "ends_at": tomorrow_at(10, -2), "purpose": "x"},
    )
    url = f"/console/orgs/resources/{sw.venue.pk}/"
    response = login("official").post(url, {"cancel": past.pk}, follow=True)
    assert "a booking that has ended stays on record" in response.content.decode()
    assert Booking.objects.filter(pk=past.pk).exists()


def test_the_project_list_shows_progress_and_overdue_milestones(login: Any, sw: Any) -> None:
    response = login("secretary").get("/console/orgs/projects/")
    assert response.status_code == 200
    [row] = response.context["page_obj"]
    assert (row.name, row.milestones_total, row.milestones_overdue) == ("水西茶产业项目", 1, 1)
    page = response.content.decode()
    assert '<progress max="1" value="0"' in page
    assert "1 overdue" in page
    assert login("outsider").get("/console/orgs/projects/").context["page_obj"].paginator.count == 0
    fruit = login("admin").get("/console/orgs/projects/?industry=fruit")
    assert list(fruit.context["page_obj"]) == []


def test_a_project_page_shows_milestones_incomes_and_households(login: Any, sw: Any) -> None:
    shared.income_record(
        actor=None, project=sw.project, year=2025, collective_yuan="36000", households_yuan="184000"
    )
    response = login("worker2").get(f"/console/orgs/projects/{sw.project.pk}/")
    assert response.status_code == 200
    facts = response.context["facts"]
    assert (facts.households, facts.overdue, facts.progress) == (2, 1, 0)
    page = response.content.decode()
    assert '<span class="badge bad">overdue</span>' in page
    assert "due 2024-05-01" in page
    assert '<td class="number">220,000</td>' in page  # the year's total
    assert response.context["editor"] is False
    assert 'id="income-form"' not in page


def test_whoever_edits_a_project_adds_and_marks_milestones_and_records_income(
    login: Any, sw: Any
) -> None:
    client = login("official")
    url = f"/console/orgs/projects/{sw.project.pk}/"
    assert 'id="milestone-form"' in client.get(url).content.decode()
    due = (timezone.localdate() + datetime.timedelta(days=20)).isoformat()
    response = client.post(
        url, {"form": "milestone", "title": "春茶上市", "due_on": due}, follow=True
    )
    assert "Milestone “春茶上市” added." in response.content.decode()
    first = Milestone.objects.get(title="茶园整地")
    response = client.post(url, {"form": "done", "milestone": first.pk}, follow=True)
    assert "Milestone “茶园整地” done." in response.content.decode()
    assert response.context["facts"].progress == 0.5
    assert response.context["facts"].overdue == 0
    income = {"form": "income", "year": 2023, "collective_yuan": "1", "households_yuan": "2"}
    response = client.post(url, income)
    assert response.status_code == 400
    assert "the project started in 2024" in response.content.decode()
    response = client.post(url, {**income, "year": 2025}, follow=True)
    assert "Income of 2025 recorded." in response.content.decode()
    assert ProjectIncome.objects.get().households_yuan == 2
    # The secretary reads it but does not write it.
    assert login("secretary").post(url, income).status_code == 403


@pytest.mark.chinese
def test_the_pages_speak_chinese(login: Any, sw: Any) -> None:
    client = login("official")
    assert "共享资源" in client.get("/console/orgs/resources/").content.decode()
    assert "预约" in client.get(f"/console/orgs/resources/{sw.venue.pk}/").content.decode()
    assert "联建项目" in client.get("/console/orgs/projects/").content.decode()
    page = client.get(f"/console/orgs/projects/{sw.project.pk}/").content.decode()
    assert "已逾期" in page
    assert "参与农户" in page


def test_amounts_are_grouped_by_thousands_with_cents_only_when_any() -> None:
    assert yuan(decimal.Decimal("1850000.00")) == "1,850,000"
    assert yuan(decimal.Decimal("32000.5")) == "32,000.50"
    assert yuan(0) == "0"
    assert yuan(None) == ""


def test_a_joint_branchs_page_leads_to_its_shared_work(login: Any, sw: Any) -> None:
    page = login("secretary").get("/console/orgs/SX-LH/").content.decode()
    assert 'href="/console/orgs/resources/"' in page
    assert 'href="/console/orgs/projects/"' in page
    # An ordinary branch in no alliance shares nothing.
    plain = login("outsider").get("/console/orgs/BS-ZB/").content.decode()
    assert 'id="shared-work"' not in plain

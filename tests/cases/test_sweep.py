"""The escalation sweep: overdue cases go up one tier, once; county cases are marked overdue."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from grassroots.audit.models import Event
from grassroots.cases import services as s
from grassroots.cases.models import Case, CaseEvent, Stage
from grassroots.cases.sweep import sweep
from tests.cases.conftest import MONDAY

DAY = datetime.timedelta(days=1)


def test_it_escalates_only_cases_past_their_deadline(world: Any, report: Any) -> None:
    late = report()  # due end of Wednesday 4 March
    fresh = report(reported_at=MONDAY + 2 * DAY, now=MONDAY + 2 * DAY)  # due Friday
    thursday = MONDAY + 3 * DAY
    result = sweep(now=thursday)
    assert (result.escalated, result.by_tier) == (1, {"village": 1})
    late.refresh_from_db()
    fresh.refresh_from_db()
    assert late.tier == "village" and late.missed_deadline and late.escalations == 1
    # environment: 3 working days at village tier from Thursday 5 March → Tuesday 10 March;
    # the due date promised at intake stays (Wednesday 4 March): the case is overdue.
    assert timezone.localdate(late.tier_due_at) == datetime.date(2026, 3, 10)
    assert timezone.localdate(late.due_at) == datetime.date(2026, 3, 4)
    assert late.is_overdue(thursday) and not fresh.is_overdue(thursday)
    assert late.tier_started_at == thursday
    assert late.hours_grid == pytest.approx(72.0)
    assert fresh.tier == "grid" and not fresh.missed_deadline
    event = late.events.last()
    assert (event.action, event.actor_name, event.from_tier, event.to_tier) == (
        "auto_escalate",
        "system",
        "grid",
        "village",
    )


def test_running_it_twice_escalates_nothing_twice(world: Any, report: Any) -> None:
    for _ in range(3):
        report()
    thursday = MONDAY + 3 * DAY
    assert sweep(now=thursday).escalated == 3
    assert sweep(now=thursday).escalated == 0
    assert CaseEvent.objects.filter(action="auto_escalate").count() == 3
    assert set(Case.objects.values_list("escalations", flat=True)) == {1}
    assert Event.objects.filter(reason="deadline sweep").count() == 1


def test_it_walks_up_every_tier_then_marks_the_case_overdue(world: Any, report: Any) -> None:
    case = report(category="safety", urgent=True)  # 2 h at grid, 4 village, 8 town, 24 county
    moments = [MONDAY + datetime.timedelta(hours=h) for h in (3, 8, 17, 42, 43)]
    tiers = []
    for moment in moments:
        sweep(now=moment)
        case.refresh_from_db()
        tiers.append((case.tier, case.overdue_at is not None))
    assert tiers == [
        ("village", False),
        ("town", False),
        ("county", False),
        ("county", True),
        ("county", True),
    ]
    assert case.events.filter(action="overdue").count() == 1
    assert case.is_open


def test_it_sends_dispatched_work_back_to_the_new_tiers_queue(world: Any, report: Any) -> None:
    u = world.users
    case = s.case_start(
        s.case_accept(report(), actor=u["worker"], now=MONDAY), actor=u["worker"], now=MONDAY
    )
    sweep(now=MONDAY + 3 * DAY)
    case.refresh_from_db()
    assert case.stage == Stage.ACCEPTED and case.assignee is None and case.version == 4


def test_it_leaves_closed_and_rejected_cases_alone(world: Any, report: Any) -> None:
    case = s.case_reject(report(), actor=world.users["worker"], reason="invalid", now=MONDAY)
    assert sweep(now=MONDAY + 10 * DAY).escalated == 0
    case.refresh_from_db()
    assert case.tier == "grid"


def test_deadlines_skip_the_national_day_holiday(world: Any, report: Any) -> None:
    # Reported Monday 30 September 2024: 1-7 October are holidays, Saturday 12 October works.
    start = timezone.make_aware(datetime.datetime(2024, 9, 30, 10, 0))
    case = report(reported_at=start, now=start)  # 2 working days: 8 and 9 October
    assert timezone.localdate(case.due_at) == datetime.date(2024, 10, 9)
    assert sweep(now=timezone.make_aware(datetime.datetime(2024, 10, 9, 23, 0))).escalated == 0
    assert sweep(now=timezone.make_aware(datetime.datetime(2024, 10, 10, 0, 1))).escalated == 1


def test_the_command_sweeps_at_the_given_moment(world: Any, report: Any) -> None:
    report()
    out = io.StringIO()
    call_command("cases", "sweep", "--now", "2026-03-05T09:00:00+08:00", stdout=out)
    assert out.getvalue().strip() == "escalated 1 (1 to village); overdue at county tier 0"
    out = io.StringIO()
    call_command("cases", "sweep", "--now", "2026-03-05T09:00:00+08:00", stdout=out)
    assert out.getvalue().startswith("escalated 0 (none)")
    with pytest.raises(CommandError, match="--now: not an ISO 8601 date-time: 'soon'"):
        call_command("cases", "sweep", "--now", "soon")

"""Two deadlines: each tier's own time limit (tier_due_at, which the sweep escalates by) and the
case's due date promised at intake (due_at), which never resets; "overdue" and on-time closure
are judged against the due date, in the lists, the indicators and the statistics buckets."""

from __future__ import annotations

import datetime
import importlib
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from grassroots.cases import services as s
from grassroots.cases import stats, sweep
from grassroots.cases.models import Case, CaseStatBucket, overdue_q
from tests.cases.conftest import MONDAY

H = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
WEDNESDAY_END = datetime.date(2026, 3, 4)  # environment: 2 working days at grid tier


def _local(moment: datetime.datetime) -> datetime.date:
    return timezone.localdate(moment)


def _escalated_by_hand(world: Any, report: Any) -> Case:
    u = world.users
    case = s.case_accept(report(), actor=u["worker"], now=MONDAY)
    return s.case_escalate(case, actor=u["worker"], reason="需要村里协调", now=MONDAY + 2 * H)


def test_it_starts_both_deadlines_at_the_first_tiers_limit(world: Any, report: Any) -> None:
    case = report()
    assert case.due_at == case.tier_due_at
    assert _local(case.due_at) == WEDNESDAY_END
    assert not case.due_fallback and not case.tier_due_fallback


def test_escalation_gives_the_tier_its_own_limit_and_keeps_the_due_date(
    world: Any, report: Any
) -> None:
    case = _escalated_by_hand(world, report)
    assert _local(case.tier_due_at) == datetime.date(2026, 3, 5)  # 3 days at village tier
    assert _local(case.due_at) == WEDNESDAY_END
    # The sweep goes by the tier's deadline: nothing on Thursday morning, although the case is
    # overdue by then; it is marked past its due date, and stays at the village.
    thursday = MONDAY + 3 * DAY
    result = sweep.sweep(now=thursday)
    assert (result.escalated, result.missed) == (0, 1)
    case.refresh_from_db()
    assert case.tier == "village" and case.missed_deadline and case.is_overdue(thursday)
    assert case.events.filter(action="auto_escalate").count() == 0
    # Friday: the village's deadline passed too; the due date still stays.
    result = sweep.sweep(now=MONDAY + 4 * DAY)
    assert (result.escalated, result.missed) == (1, 0)
    case.refresh_from_db()
    assert case.tier == "town" and _local(case.due_at) == WEDNESDAY_END
    event = case.events.get(action="auto_escalate")
    assert datetime.datetime.fromisoformat(event.data["tier_due"]) == case.tier_due_at


def test_it_judges_overdue_by_the_due_date_alone(world: Any, report: Any) -> None:
    """overdue_q (for queries) and Case.is_overdue (for one case) are one rule."""
    escalated = _escalated_by_hand(world, report)  # tier deadline Thursday, due Wednesday
    fresh = report(reported_at=MONDAY + 2 * DAY, now=MONDAY + 2 * DAY)  # due Friday
    closed = report()
    s.case_reject(closed, actor=world.users["worker"], reason="invalid")
    thursday = MONDAY + 3 * DAY
    found = set(Case.objects.filter(overdue_q(thursday)).values_list("pk", flat=True))
    assert found == {escalated.pk}
    assert set(Case.objects.overdue(thursday).values_list("pk", flat=True)) == found
    for case in Case.objects.all():
        assert case.is_overdue(thursday) == (case.pk in found)
    assert Case.objects.get(pk=fresh.pk).late_by(thursday) is None
    assert Case.objects.get(pk=escalated.pk).late_by(thursday) == (
        thursday - Case.objects.get(pk=escalated.pk).due_at
    )


def test_on_time_closure_is_judged_against_the_due_date(world: Any, report: Any) -> None:
    u = world.users
    case = _escalated_by_hand(world, report)
    # Handled by the village on Thursday: within the village's limit, after the due date.
    thursday = MONDAY + 3 * DAY
    case = s.case_start(case, actor=u["secretary"], now=thursday)
    case = s.case_handle(case, actor=u["secretary"], note="村里已协调", now=thursday)
    case = s.case_verify(case, actor=u["official"], now=thursday)
    case = s.case_close(case, actor=u["official"], now=thursday)
    assert case.closed_on_time is False
    assert case.late_by() == thursday - case.due_at
    on_time = _close_on_monday(world, report())
    assert on_time.closed_on_time is True and on_time.late_by() is None
    figures = stats.indicators("350426")
    assert figures["on_time_closure_rate"] == 0.5  # 1 of 2 closed by their due date


def _close_on_monday(world: Any, case: Case) -> Case:
    u = world.users
    case = s.case_start(s.case_accept(case, actor=u["worker"], now=MONDAY), actor=u["worker"])
    case = s.case_handle(case, actor=u["worker"], note="已处理", now=MONDAY + H)
    case = s.case_verify(case, actor=u["secretary"], now=MONDAY + H)
    return s.case_close(case, actor=u["secretary"], now=MONDAY + H)


def test_a_deferral_moves_both_deadlines(world: Any, report: Any) -> None:
    case = _escalated_by_hand(world, report)
    case = s.case_defer(case, actor=world.users["official"], days=2, reason="等待配件", now=MONDAY)
    assert case.deferred
    assert _local(case.due_at) == datetime.date(2026, 3, 6)  # Wednesday + 2 working days
    assert _local(case.tier_due_at) == datetime.date(2026, 3, 9)  # Thursday + 2: Monday


def test_the_sweep_keeps_the_buckets_equal_to_a_rebuild(world: Any, report: Any) -> None:
    _escalated_by_hand(world, report)
    report()
    report(urgent=True, category="safety")
    for moment in (MONDAY + 3 * H, MONDAY + 3 * DAY, MONDAY + 6 * DAY):
        sweep.sweep(now=moment)
        kept = sorted(CaseStatBucket.objects.values_list("scope_code", "day", *stats.COLUMNS))
        stats.rebuild_buckets()
        assert kept == sorted(
            CaseStatBucket.objects.values_list("scope_code", "day", *stats.COLUMNS)
        )
    assert stats.indicators("350426")["cases_total"] == 3


def test_the_sweeps_reads_use_their_partial_indexes(world: Any) -> None:
    """The sweep's two reads are ORM queries that the planner serves from the partial indexes
    they are made for: renaming an index, or a query the planner stops serving from it, fails
    here (SQLite plans without statistics, as in production)."""
    names = {index.name for index in Case._meta.indexes}
    assert {sweep.TIER_DUE_INDEX, sweep.PROMISE_INDEX} <= names
    now = timezone.now()
    for query, index in (
        (sweep.tier_deadline_passed(now).values("id"), sweep.TIER_DUE_INDEX),
        (sweep.newly_past_due(now).values("id"), sweep.PROMISE_INDEX),
    ):
        sql, params = query.query.sql_with_params()
        if connection.vendor != "sqlite":
            pytest.skip("PostgreSQL plans by its statistics; the indexes exist (checked above)")
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert f"USING INDEX {index}" in plan, plan


def _fill_migration() -> Any:
    return importlib.import_module(
        "grassroots.cases.migrations.0009_fill_tier_deadlines_and_due_dates"
    )


def test_the_migration_gives_escalated_cases_back_their_due_date(world: Any, report: Any) -> None:
    u = world.users
    late = _escalated_by_hand(world, report)
    late = s.case_start(late, actor=u["secretary"], now=MONDAY + 3 * DAY)
    late = s.case_handle(late, actor=u["secretary"], note="已协调", now=MONDAY + 3 * DAY)
    late = s.case_verify(late, actor=u["official"], now=MONDAY + 3 * DAY)
    late = s.case_close(late, actor=u["official"], now=MONDAY + 3 * DAY)
    open_one = _escalated_by_hand(world, report)
    urgent = report(category="safety", urgent=True)
    s.case_escalate(urgent, actor=u["worker"], reason="危险", now=MONDAY + H)
    queued = s.case_report(
        actor=None,
        channel="hotline",
        category="environment",
        description="镇区垃圾清运不及时",
        unit="350426100",
        reporter_phone="0598-6321234",
        reported_at=MONDAY,
        now=MONDAY,
    )
    s.case_escalate(queued, actor=u["official"], reason="需要县里处理", now=MONDAY + H)
    report()  # never escalated: left as it is
    before = {c.pk: (c.due_at, c.tier_due_at) for c in Case.objects.all()}
    # The state before: one deadline, the tier's; a late close judged against it (on time).
    for pk, (_due, tier_due) in before.items():
        Case.objects.filter(pk=pk).update(due_at=tier_due, tier_due_at=MONDAY)
    Case.objects.filter(pk=late.pk).update(closed_on_time=True)
    stats.rebuild_buckets()

    _fill_migration().fill(apps, None)

    for case in Case.objects.all():
        assert (case.due_at, case.tier_due_at) == before[case.pk], case.tracking_code
    assert Case.objects.get(pk=late.pk).closed_on_time is False
    assert Case.objects.get(pk=open_one.pk).is_overdue(MONDAY + 3 * DAY)
    kept = sorted(CaseStatBucket.objects.values_list("scope_code", "day", *stats.COLUMNS))
    stats.rebuild_buckets()
    assert kept == sorted(CaseStatBucket.objects.values_list("scope_code", "day", *stats.COLUMNS))
    _fill_migration().back(apps, None)
    assert {c.pk: c.due_at for c in Case.objects.all()} == {
        pk: tier_due for pk, (_due, tier_due) in before.items()
    }


def test_the_demo_shows_overdue_cases(world: Any) -> None:
    from grassroots.demo.cases import load_cases

    load_cases(60, seed=3)
    now = timezone.now()
    overdue = Case.objects.overdue(now)
    assert overdue.exists()
    assert all(case.missed_deadline for case in overdue)
    # Escalated by the sweep, their tiers have time again; their due dates have passed.
    assert overdue.filter(escalations__gt=0, tier_due_at__gt=now).exists()


def test_the_api_shows_both_deadlines_and_documents_them(
    world: Any, report: Any, client: Any
) -> None:
    from grassroots.accounts.models import ApiToken

    case = _escalated_by_hand(world, report)
    token = ApiToken.issue(world.users["secretary"])[1]
    headers = {"Authorization": f"Bearer {token}"}
    data = client.get(f"/api/v1/cases/{case.tracking_code}", headers=headers).json()
    ms = datetime.timedelta(milliseconds=1)  # JSON carries milliseconds
    assert abs(datetime.datetime.fromisoformat(data["due_at"]) - case.due_at) < ms
    assert abs(datetime.datetime.fromisoformat(data["tier_due_at"]) - case.tier_due_at) < ms
    assert data["overdue"] == case.is_overdue() and data["tier_due_fallback"] is False
    listed = client.get("/api/v1/cases", {"overdue": "true"}, headers=headers).json()
    assert [c["tracking_code"] for c in listed["items"]] == [case.tracking_code]
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["CaseOut"]
    assert "promise made to the reporter" in schema["properties"]["due_at"]["description"]
    assert "its own time limit" in schema["properties"]["tier_due_at"]["description"]

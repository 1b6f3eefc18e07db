"""Indicators: the definitions, the buckets kept in step by every service, the command."""

from __future__ import annotations

import datetime
import io
import json
import random
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.cases import services as s
from grassroots.cases import stats
from grassroots.cases.models import CaseStatBucket
from grassroots.cases.sweep import sweep
from tests.cases.conftest import MONDAY

H = datetime.timedelta(hours=1)
KEYS = {
    "cases_total",
    "closed",
    "closure_rate",
    "on_time_closure_rate",
    "rework_rate",
    "satisfaction_rate",
    "grid_tier_share",
    "avg_hours_by_tier",
}


def _close(
    case: Any, world: Any, *, handler: str = "worker", rating: int | None = None, hours: int = 4
) -> Any:
    u = world.users
    case = s.case_accept(case, actor=u[handler], now=MONDAY)
    case = s.case_start(case, actor=u[handler], now=MONDAY)
    case = s.case_handle(case, actor=u[handler], note="处理完毕", now=MONDAY + hours * H)
    checker = "official" if handler != "official" else "admin"
    case = s.case_verify(case, actor=u[checker], now=MONDAY + hours * H)
    case = s.case_close(case, actor=u[checker], now=MONDAY + hours * H)
    if rating is not None:
        case = s.case_rate(case, rating=rating, now=MONDAY + (hours + 1) * H)
    return case


def test_it_computes_each_indicator_by_its_definition(world: Any, report: Any) -> None:
    u = world.users
    _close(report(), world, rating=5, hours=4)  # grid, on time, satisfied
    second = _close(report(), world, rating=2, hours=6)  # grid, on time, unsatisfied
    s.case_reopen(second, reason="没修好", now=MONDAY + 8 * H)  # back to work: not closed
    late = report()
    sweep(now=MONDAY + 3 * datetime.timedelta(days=1))  # the open ones miss their deadline
    late.refresh_from_db()
    then = MONDAY + 3 * datetime.timedelta(days=1) + 2 * H
    late = s.case_accept(late, actor=u["secretary"], now=then)
    late = s.case_start(late, actor=u["secretary"], now=then)
    late = s.case_handle(late, actor=u["secretary"], note="村里处理", now=then)
    late = s.case_verify(late, actor=u["official"], now=then)
    s.case_close(late, actor=u["official"], now=then)  # village tier, late
    s.case_reject(report(), actor=u["worker"], reason="invalid")
    deferred = report()
    s.case_defer(deferred, actor=u["official"], days=5, reason="等待配件")

    figures = stats.indicators("350426")
    assert set(figures) >= KEYS
    assert figures["cases_total"] == 5
    assert figures["closed"] == 2
    assert figures["closure_rate"] == 0.5  # 2 / (5 − 1 rejected)
    # due: 2 closed + the reopened one that missed its deadline in the sweep = 3, none deferred
    # (the deferred one never missed); on time: 1 of them.
    assert figures["on_time_closure_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["rework_rate"] == 0.0
    assert figures["satisfaction_rate"] == 1.0  # the 2-star rating was withdrawn by the reopen
    assert figures["grid_tier_share"] == 0.5
    # grid: 4 h and 72 h (Monday to the Thursday sweep); village: 2 h for the late one.
    assert figures["avg_hours_by_tier"] == {
        "grid": 38.0,
        "village": 2.0,
        "town": None,
        "county": None,
    }


def test_it_keeps_buckets_equal_to_a_rebuild_from_the_cases(world: Any, report: Any) -> None:
    rng = random.Random(7)
    u = world.users
    grids = [world.grid_a11, world.grid_a12, world.grid_a21]
    cases = [report(grid=rng.choice(grids), urgent=rng.random() < 0.3) for _ in range(12)]
    for i, case in enumerate(cases):
        if i % 4 == 0:
            s.case_reject(case, actor=u["dispatcher"], reason="duplicate")
        elif i % 4 == 1:
            _close(case, world, handler="dispatcher", rating=rng.randint(1, 5))
        elif i % 4 == 2:
            s.case_defer(case, actor=u["official"], days=1, reason="延期一天")
    sweep(now=MONDAY + 2 * datetime.timedelta(days=1))
    for case in cases[1::4][:2]:
        s.case_reopen(case, reason="不满意", now=MONDAY + 30 * H)
    kept = sorted(CaseStatBucket.objects.values_list("scope_code", "day", *stats.COLUMNS))
    stats.rebuild_buckets()
    rebuilt = sorted(CaseStatBucket.objects.values_list("scope_code", "day", *stats.COLUMNS))
    assert kept == rebuilt
    assert sum(row[2] for row in rebuilt) == 12


def test_it_limits_indicators_to_the_scope_and_period(world: Any, report: Any) -> None:
    report(grid=world.grid_a11)
    report(grid=world.grid_b11)
    report(grid=world.grid_b11, reported_at=MONDAY + 10 * 24 * H, now=MONDAY + 10 * 24 * H)
    assert stats.indicators("350426100")["cases_total"] == 1
    assert stats.indicators("350426101")["cases_total"] == 2
    march_2 = datetime.date(2026, 3, 2)
    assert stats.indicators("350426", march_2, march_2)["cases_total"] == 2
    assert stats.indicators("350426", datetime.date(2026, 3, 3))["cases_total"] == 1
    empty = stats.indicators("350426", datetime.date(2027, 1, 1))
    assert empty["cases_total"] == 0 and empty["closure_rate"] is None


def test_the_command_prints_one_json_object(world: Any, report: Any) -> None:
    _close(report(), world, rating=4)
    out = io.StringIO()
    call_command(
        "cases", "stats", "--scope", "350426", "--since", "2026-03-01", "--json", stdout=out
    )
    figures = json.loads(out.getvalue())
    assert set(figures) >= KEYS
    assert figures["cases_total"] == 1 and figures["closure_rate"] == 1.0
    assert figures["avg_hours_by_tier"]["grid"] == 4.0
    with pytest.raises(CommandError, match="--scope: no unit or grid with code '999999'"):
        call_command("cases", "stats", "--scope", "999999")
    with pytest.raises(CommandError, match="--since: not a date"):
        call_command("cases", "stats", "--scope", "350426", "--since", "2026-13-01")
    out = io.StringIO()
    call_command("cases", "rebuild-stats", stdout=out)
    assert out.getvalue().strip() == "rebuilt 1 statistics buckets"

"""Two people acting on one case at once, on two database connections (PostgreSQL).

The issue asks for this on PostgreSQL, where the row lock is real: the second step waits for
the first to commit, then works on what the first wrote. With an expected version it is
refused instead of overwriting. (On SQLite, transactions here begin with the write lock, so
two steps cannot interleave at all; its in-memory test database cannot show that across
threads.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction

from grassroots.cases import services as s
from grassroots.cases.models import Case

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks across connections: PostgreSQL"
)


def _in_thread(target: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = target()
        except Exception as exc:  # reported to the test below
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_second_step_waits_and_builds_on_the_first(world: Any, report: Any) -> None:
    case = report()
    locked = threading.Event()

    def first() -> Case:
        with transaction.atomic():
            Case.objects.select_for_update().get(pk=case.pk)
            locked.set()
            time.sleep(0.5)  # the second step starts now and must wait
            return s.case_accept(case.pk, actor=world.users["worker"])

    def second() -> Case:
        locked.wait(5)
        return s.case_escalate(case.pk, actor=world.users["worker"], reason="需要村里协调")

    a, a_out = _in_thread(first)
    b, b_out = _in_thread(second)
    a.join(10)
    b.join(10)
    assert "error" not in a_out and "error" not in b_out, (a_out, b_out)
    case.refresh_from_db()
    assert (case.stage, case.tier, case.version) == ("accepted", "village", 3)
    assert list(case.events.values_list("action", flat=True)) == ["report", "accept", "escalate"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_step_on_an_old_version_is_refused_not_lost(world: Any, report: Any) -> None:
    case = report()
    seen = case.version
    locked = threading.Event()

    def first() -> Case:
        with transaction.atomic():
            Case.objects.select_for_update().get(pk=case.pk)
            locked.set()
            time.sleep(0.5)
            return s.case_accept(case.pk, actor=world.users["worker"])

    def second() -> Case:
        locked.wait(5)
        return s.case_reject(
            case.pk, actor=world.users["secretary"], reason="invalid", expected_version=seen
        )

    a, a_out = _in_thread(first)
    b, b_out = _in_thread(second)
    a.join(10)
    b.join(10)
    assert "error" not in a_out, a_out
    assert isinstance(b_out.get("error"), s.TransitionRefused), b_out
    case.refresh_from_db()
    assert (case.stage, case.version) == ("accepted", 2)

"""`grassroots worker`: runs the task queue and enqueues the sweep and the delivery periodically."""

from __future__ import annotations

import datetime
from io import StringIO
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from grassroots.cases.models import Case, Notification
from grassroots.cases.notify import tell_tier
from grassroots.cases.tasks import deliver_notifications, enqueue_once, sweep_deadlines
from grassroots.core.management.commands import worker as worker_command
from grassroots.core.management.commands.worker import Schedule
from tests.cases import factories as cf

DELIVER = "grassroots.cases.tasks.deliver_notifications"
SWEEP = "grassroots.cases.tasks.sweep_deadlines"


@pytest.fixture(autouse=True)
def in_test_transaction(monkeypatch: Any, settings: Any) -> None:
    """db_worker closes "old" connections between tasks, which would end the test's transaction
    on PostgreSQL; the tests run the worker inside it."""
    monkeypatch.setattr(
        "django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None
    )
    settings.NOTIFICATION_BACKENDS = ["console"]


def results(path: str) -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=path).order_by("enqueued_at"))


def test_once_runs_the_enqueued_tasks_and_the_periodic_ones(
    world, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        tell_tier([cf.case(world.grid_a12)], tier="grid", subject="Waiting", body="b")
    assert [r.status for r in results(DELIVER)] == ["READY"]
    # A case whose grid deadline passed four days ago: the sweep moves it to the village.
    late = cf.case(world.grid_a11, reported_at=timezone.now() - datetime.timedelta(days=7))

    call_command("worker", "--once", verbosity=0, stdout=StringIO())

    assert [r.status for r in results(SWEEP)] == ["SUCCESSFUL"]
    assert results(SWEEP)[0].return_value["escalated"] == 1
    assert Case.objects.get(pk=late.pk).tier == "village"
    # The waiting delivery was not enqueued twice; it ran after the sweep (which goes first)
    # and sent worker2's message and the two the sweep wrote: the secretary's (the case is
    # theirs now) and the worker's (the case left their grid).
    assert [r.status for r in results(DELIVER)] == ["SUCCESSFUL"]
    assert results(DELIVER)[0].return_value == {"sent": 3, "failed": 0, "gave_up": 0}
    assert {(n.recipient.username, n.status) for n in Notification.objects.all()} == {
        ("worker2", "sent"),
        ("secretary", "sent"),
        ("worker", "sent"),
    }
    out = capsys.readouterr().out
    assert "to worker2" in out and "to secretary" in out and "to worker " in out


def test_a_second_run_enqueues_the_periodic_tasks_again(world):
    for _ in range(2):
        call_command("worker", "--once", verbosity=0, stdout=StringIO())
    assert [r.status for r in results(SWEEP)] == ["SUCCESSFUL", "SUCCESSFUL"]
    assert [r.status for r in results(DELIVER)] == ["SUCCESSFUL", "SUCCESSFUL"]


def test_a_task_already_waiting_is_not_enqueued_again(db):
    first = enqueue_once(deliver_notifications)
    assert first is not None
    assert enqueue_once(deliver_notifications) is None
    assert enqueue_once(sweep_deadlines) is not None
    # Once the waiting copy runs (or ran), a new one may be enqueued.
    DBTaskResult.objects.filter(pk=first.id).update(status="RUNNING")
    assert enqueue_once(deliver_notifications) is not None


def test_the_schedule_says_what_is_due_and_how_long_to_wait():
    clock = SimpleNamespace(now=1000.0)
    schedule = Schedule({"sweep": 300, "deliver": 30}, clock=lambda: clock.now)
    assert schedule.due() == ["sweep", "deliver"]
    assert schedule.due() == []
    assert schedule.wait() == 30
    clock.now += 31
    assert schedule.due() == ["deliver"]
    assert schedule.wait() == 30
    clock.now += 29
    assert schedule.wait() == 1
    clock.now += 300
    assert schedule.due() == ["sweep", "deliver"]


class Stop(Exception):
    pass


def test_the_loop_enqueues_each_periodic_task_at_its_interval(world, monkeypatch):
    """Ten minutes of a worker on a fake clock: the sweep at 0, 300 and 600 s, the delivery
    every 30 s, each run by the loop itself."""
    clock = SimpleNamespace(now=0.0)

    def sleep(seconds: float) -> None:
        assert seconds > 0, "the loop must not spin"
        clock.now += seconds
        if clock.now > 600:
            raise Stop

    monkeypatch.setattr(
        worker_command, "time", SimpleNamespace(monotonic=lambda: clock.now, sleep=sleep)
    )
    monkeypatch.setattr(worker_command.Worker, "configure_signals", lambda self: None)
    with pytest.raises(Stop):
        call_command("worker", "--interval", "60", verbosity=0, stdout=StringIO())
    assert len(results(SWEEP)) == 3
    assert len(results(DELIVER)) == 21
    assert {r.status for r in DBTaskResult.objects.all()} == {"SUCCESSFUL"}


def test_it_refuses_a_negative_interval(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Must be zero or greater"):
        call_command("worker", "--once", "--sweep-every", "-1")

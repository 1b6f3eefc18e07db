"""Background work of the cases app, on Django's tasks API (django-tasks).

`grassroots worker` runs the queue and enqueues the periodic tasks below (see
core/management/commands/worker.py). Both are safe to run twice at once: the sweep escalates
nothing twice, and delivery claims each notification before sending it.
"""

from __future__ import annotations

from typing import Any

from django_tasks import task

from grassroots.audit.context import acting


@task()
def deliver_notifications() -> dict[str, int]:
    """Send the notifications that are due (new ones and retries)."""
    from .notify import deliver_all

    with acting(channel="task", label="task:deliver_notifications"):
        result = deliver_all()
    return {"sent": result.sent, "failed": result.failed, "gave_up": result.gave_up}


# Ahead of deliveries waiting in the queue, so that they carry the sweep's notifications too.
@task(priority=10)
def sweep_deadlines() -> dict[str, int]:
    """Escalate the cases whose tier's deadline passed (grassroots cases sweep)."""
    from .sweep import sweep

    with acting(channel="task", label="task:sweep_deadlines"):
        result = sweep()
    return {"escalated": result.escalated, "overdue": result.overdue}


# What `grassroots worker` enqueues, and its option giving the interval in seconds.
PERIODIC = {"sweep_every": sweep_deadlines, "deliver_every": deliver_notifications}


def enqueue_once(t: Any) -> Any:
    """Enqueue `t` unless the same task already waits in the queue to run (None then).

    Many writes in a row (an import telling a tier per case) and several workers each enqueueing
    the periodic tasks would otherwise fill the queue with copies. A waiting copy will see
    everything committed before it starts, so one is enough; a copy that is already running
    does not count.
    """
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    backend = t.get_backend()
    if isinstance(backend, DatabaseBackend):
        waiting = DBTaskResult.objects.ready().filter(
            backend_name=backend.alias, queue_name=t.queue_name, task_path=t.module_path
        )
        if waiting.exists():
            return None
    return t.enqueue()

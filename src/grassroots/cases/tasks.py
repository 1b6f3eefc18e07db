"""Background work of the cases app, on Django's tasks API (django-tasks).

`grassroots worker` runs the queue and enqueues the periodic tasks registered below (see
core/tasks.py and core/management/commands/worker.py). Both are safe to run twice at once: the sweep escalates
nothing twice, and delivery claims each notification before sending it. The modules that ask
for a task do it by name (queue.py), so this module may import them.
"""

from __future__ import annotations

from django_tasks import task

from grassroots.audit.context import acting
from grassroots.core.tasks import enqueue_once, register_periodic

from .notify import deliver_all
from .sweep import sweep

__all__ = ["deliver_notifications", "enqueue_once", "sweep_deadlines"]


@task()
def deliver_notifications() -> dict[str, int]:
    """Send the notifications that are due (new ones and retries)."""
    with acting(channel="task", label="task:deliver_notifications"):
        result = deliver_all()
    return {"sent": result.sent, "failed": result.failed, "gave_up": result.gave_up}


# Ahead of deliveries waiting in the queue, so that they carry the sweep's notifications too.
@task(priority=10)
def sweep_deadlines() -> dict[str, int]:
    """Escalate the cases whose tier's deadline passed (grassroots cases sweep)."""
    with acting(channel="task", label="task:sweep_deadlines"):
        result = sweep()
    return {"escalated": result.escalated, "overdue": result.overdue}


# What `grassroots worker` enqueues, with its option giving the interval in seconds.
register_periodic(
    "sweep_every",
    sweep_deadlines,
    every=300,
    help="seconds between two escalation sweeps (default 300)",
)
register_periodic(
    "deliver_every",
    deliver_notifications,
    every=30,
    help="seconds between two deliveries of due notifications (default 30)",
)

"""Background work of the orgs app: the daily branch life reminders (reminders.py), enqueued by
`grassroots worker` (core/tasks.py). Safe to run twice at once: nobody is reminded twice."""

from __future__ import annotations

from django_tasks import task

from grassroots.audit.context import acting
from grassroots.core.tasks import register_periodic

from .reminders import remind

__all__ = ["remind_branch_life"]


@task()
def remind_branch_life() -> dict[str, int]:
    """Remind the secretaries of the meetings still missing in periods about to end."""
    with acting(channel="task", label="task:remind_branch_life"):
        result = remind()
    return {
        "reminders": result.reminders,
        "people": len(result.told),
        "notifications": result.notifications,
        "unserved": len(result.unserved),
    }


register_periodic(
    "remind_every",
    remind_branch_life,
    every=86400,
    help="seconds between two runs of the branch life reminders (default 86400: daily)",
)

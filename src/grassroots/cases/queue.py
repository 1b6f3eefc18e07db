"""The cases app's background work, asked for by name.

tasks.py defines the tasks and imports the modules whose work they run (notify's delivery, the
sweep). Those modules ask for a task here by its path, the name under which the queue stores
and runs it, so that nothing below tasks.py imports it (tests/cases/test_worker.py checks that
each name resolves to its task).
"""

from __future__ import annotations

from django.db import transaction
from django.utils.module_loading import import_string

from grassroots.core.tasks import enqueue_once

DELIVER_NOTIFICATIONS = "grassroots.cases.tasks.deliver_notifications"
SWEEP_DEADLINES = "grassroots.cases.tasks.sweep_deadlines"


def enqueue_on_commit(path: str) -> None:
    """Enqueue the task named `path` once the current transaction commits (at once outside one).

    robust: a queue that cannot be written to is logged; the worker's periodic run of the task
    does the work anyway.
    """
    transaction.on_commit(lambda: enqueue_once(import_string(path)), robust=True)

"""Background work shared by every app, on Django's tasks API (django-tasks).

An app hands `grassroots worker` its periodic tasks by registering them here
(`register_periodic`, from its own tasks module, which its AppConfig imports), so that the worker
command in core imports no app above it. `enqueue_once` keeps the queue from filling with copies
of a task that already waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult


@dataclass(frozen=True)
class Periodic:
    """A task the worker enqueues every `every` seconds; `option` is the worker's option that
    changes the interval (`sweep_every` is `--sweep-every`)."""

    option: str
    task: Any
    every: float
    help: str


# Registered by the apps, in the order their tasks modules are imported.
PERIODIC: dict[str, Periodic] = {}


def register_periodic(option: str, task: Any, *, every: float, help: str) -> None:
    PERIODIC[option] = Periodic(option, task, every, help)


def enqueue_once(t: Any) -> Any:
    """Enqueue `t` unless the same task already waits in the queue to run (None then).

    Many writes in a row (an import telling a tier per case) and several workers each enqueueing
    the periodic tasks would otherwise fill the queue with copies. A waiting copy will see
    everything committed before it starts, so one is enough; a copy that is already running
    does not count.
    """
    backend = t.get_backend()
    if isinstance(backend, DatabaseBackend):
        waiting = DBTaskResult.objects.ready().filter(
            backend_name=backend.alias, queue_name=t.queue_name, task_path=t.module_path
        )
        if waiting.exists():
            return None
    return t.enqueue()

"""grassroots worker [--once] [--sweep-every S] [--deliver-every S] [--interval S]

Runs the background task queue (django-tasks' database backend, the same worker as its
`db_worker`) and enqueues the periodic work: the escalation sweep every --sweep-every seconds
(default 300) and the delivery of notifications every --deliver-every seconds (default 30).

One loop in one thread: enqueue what is due, run every ready task (db_worker's worker in batch
mode), sleep --interval seconds, again. Several workers may run at once (on several machines):
each task is claimed by one of them, the sweep escalates nothing twice, notifications are
claimed before they are sent, and a periodic task is not enqueued while a copy still waits.
SIGINT/SIGTERM finish the running task and stop. `--once` enqueues the periodic tasks, runs
everything ready and exits (for cron, and tests).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS
from django_tasks_db.management.commands.db_worker import (
    Worker,
    valid_backend_name,
    valid_interval,
)

from grassroots.core.tasks import PERIODIC, enqueue_once

logger = logging.getLogger("grassroots.worker")


class Schedule:
    """When each periodic task is next due, on a monotonic clock."""

    def __init__(self, every: dict[str, float], clock: Callable[[], float] | None = None):
        self.every = every
        self.clock = clock or time.monotonic
        now = self.clock()
        self.next = dict.fromkeys(every, now)  # everything is due at start

    def due(self) -> list[str]:
        now = self.clock()
        names = [name for name, at in self.next.items() if at <= now]
        for name in names:
            self.next[name] = now + self.every[name]
        return names

    def wait(self) -> float:
        """Seconds until the next periodic task is due."""
        return max(0.0, min(self.next.values()) - self.clock())


class Command(BaseCommand):
    help = "Run background tasks and the periodic escalation sweep and notification delivery."

    def add_arguments(self, parser: CommandParser) -> None:
        # One option per periodic task the apps registered (core/tasks.py).
        for periodic in PERIODIC.values():
            parser.add_argument(
                "--" + periodic.option.replace("_", "-"),
                dest=periodic.option,
                type=valid_interval,
                default=periodic.every,
                metavar="S",
                help=periodic.help,
            )
        parser.add_argument(
            "--interval",
            type=valid_interval,
            default=1,
            metavar="S",
            help="seconds to wait for new tasks when the queue is empty (default 1)",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="enqueue the periodic tasks, run every ready task, and exit",
        )
        parser.add_argument(
            "--queue-name", default="default", help="queues to run, comma-separated, or *"
        )
        parser.add_argument(
            "--backend",
            dest="backend_name",
            default=DEFAULT_TASK_BACKEND_ALIAS,
            type=valid_backend_name,
            help="the task backend (a database backend; default: default)",
        )
        parser.add_argument(
            "--worker-id",
            default="",
            help="unique among the running workers (default: random)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._configure_logging(options["verbosity"])
        worker = Worker(
            queue_names=options["queue_name"].split(","),
            excluded_queue_names=[],
            interval=0,
            batch=True,  # run() returns once nothing is ready: the loop below is ours
            backend_name=options["backend_name"],
            startup_delay=False,
            max_tasks=None,
            worker_id=options["worker_id"] or get_random_string(32),
        )
        schedule = Schedule({name: options[name] for name in PERIODIC}, clock=time.monotonic)

        def enqueue_due() -> None:
            for name in schedule.due():
                if enqueue_once(PERIODIC[name].task) is not None:
                    logger.debug("enqueued %s", PERIODIC[name].task.name)

        if options["once"]:
            enqueue_due()
            worker.run()
            return

        # A signal while a task runs lets it finish; while idle it exits at once.
        worker.configure_signals()
        logger.info("worker %s started", worker.worker_id)
        while worker.running:
            enqueue_due()
            worker.run()
            if worker.running:
                time.sleep(min(options["interval"], schedule.wait()))

    def _configure_logging(self, verbosity: int) -> None:
        # Messages go to the handlers of LOGGING (standard error); only their levels change.
        quiet = logging.WARNING
        levels = {
            # Each task started and finished.
            "django_tasks": logging.INFO if verbosity >= 1 else quiet,
            # db_worker's own messages, one per batch: only when asked for.
            "django_tasks_db": logging.INFO if verbosity >= 2 else quiet,
            "grassroots.worker": logging.DEBUG if verbosity >= 2 else logging.INFO,
            "grassroots.notify": logging.INFO if verbosity >= 1 else quiet,
        }
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level if verbosity else quiet)

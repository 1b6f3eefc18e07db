"""Fixtures for tests against a live server (Open311 clients, the browser).

Such tests run with `django_db(transaction=True, serialized_rollback=True)`: the server's
threads read committed data, and the database is flushed after each test. Import both
fixtures into the test module or conftest that needs them.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def audit_events_flushed_too() -> Iterator[None]:
    """The database is flushed after each test here. On SQLite a flush is a DELETE, which the
    append-only trigger refuses on audit events: they go first, the trigger put back as it was."""
    yield
    # The server's request threads close their (shared) connection after answering: let them
    # finish before the flush, and before the live server stops at the end of the session.
    gc.collect()  # a response caught in an exception's traceback cycle holds its socket open
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=5)
    if connection.vendor != "sqlite":
        return  # PostgreSQL flushes with TRUNCATE, which row triggers leave alone
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'audit_event%'"
        )
        triggers = cursor.fetchall()
        for name, _sql in triggers:
            cursor.execute(f"DROP TRIGGER {name}")
        cursor.execute("DELETE FROM audit_event")
        for _name, sql in triggers:
            cursor.execute(sql)


@pytest.fixture(autouse=True, scope="module")
def database_as_migrated_afterwards(django_db_blocker: Any) -> Iterator[None]:
    """The last flush here leaves the tables empty (a serialized rollback restores at the start
    of a test, not at its end): put back what the migrations filled in for any later test."""
    yield
    with django_db_blocker.unblock():
        serialized = getattr(connection, "_test_serialized_contents", None)
        if serialized:
            connection.creation.deserialize_db_from_string(serialized)

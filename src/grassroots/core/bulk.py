"""Bulk writes for imports: one prepared statement, many rows (executemany).

Django's bulk_create builds one statement per batch of a few dozen rows on SQLite; for a county
register that is most of the import time. These helpers keep the ORM's table and column names
but send rows through the DB-API's executemany, inside the caller's transaction.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable, Sequence, Sized
from contextlib import nullcontext
from itertools import islice
from typing import Any, TypeVar

from django.db import connection, models, transaction

_F = TypeVar("_F", bound=Callable[..., Any])

CHUNK = 20_000
# See indexes_to_rebuild.
REBUILD_INDEXES_MIN_ROWS = 50_000


def _chunks(rows: Iterable[Sequence[Any]], size: int = CHUNK) -> Iterable[list[Sequence[Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _columns(model: type[models.Model], fields: Sequence[str]) -> list[str]:
    qn = connection.ops.quote_name
    return [qn(model._meta.get_field(f).column) for f in fields]  # type: ignore[union-attr,arg-type]


def indexes_to_rebuild(model: type[models.Model], count: int | None) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the plain indexes worth dropping for this insert (SQLite).

    Inserting many rows into a table with several secondary indexes is mostly random B-tree
    inserts; building each index once afterwards sorts instead (1M residents: about 40 s of
    inserts become 6 s of inserts and 12 s of index builds). Worth it only when the rows are
    many and at least as many as the table holds. Unique indexes stay, so a duplicate still
    fails on the row that brings it.
    """
    if connection.vendor != "sqlite" or count is None or count < REBUILD_INDEXES_MIN_ROWS:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
        if cursor.fetchone()[0] > count:
            return []
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s"
            " AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE %%' ORDER BY name",
            [table],
        )
        return list(cursor.fetchall())


def insert_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """INSERT rows (values in `fields` order, already in database form). Returns the count."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = _columns(model, fields)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    count = 0
    rebuild = indexes_to_rebuild(model, len(rows) if isinstance(rows, Sized) else None)
    # Atomic while indexes are dropped: they are back, or nothing happened, whatever fails.
    with transaction.atomic() if rebuild else nullcontext(), connection.cursor() as cursor:
        for name, _create in rebuild:
            cursor.execute("DROP INDEX " + connection.ops.quote_name(name))
        for chunk in _chunks(rows):
            cursor.executemany(sql, chunk)
            count += len(chunk)
        for _name, create in rebuild:
            cursor.execute(create)
    return count


def insert_raw(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """executemany into a table the ORM does not know (a scratch table), or a model's table
    written set-wise with values already in the database's form; quoted names."""
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)})"
        f" VALUES ({', '.join(['%s'] * len(columns))})"
    )
    count = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(rows):
            cursor.executemany(sql, chunk)
            count += len(chunk)
    return count


def update_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """UPDATE by primary key; each row is (*values in `fields` order, pk)."""
    table = connection.ops.quote_name(model._meta.db_table)
    sets = ", ".join(f"{c} = %s" for c in _columns(model, fields))
    pk = connection.ops.quote_name(model._meta.pk.column)  # type: ignore[union-attr,arg-type]
    sql = f"UPDATE {table} SET {sets} WHERE {pk} = %s"
    count = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(rows):
            cursor.executemany(sql, chunk)
            count += len(chunk)
    return count


def db_datetime(value: Any) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def db_date(value: Any) -> Any:
    return None if value is None else value.isoformat()


def without_gc(function: _F) -> _F:
    """Run `function` with Python's cyclic garbage collector paused.

    An import holds millions of small dicts and tuples at once; the collector's full passes
    over them cost about 9 s of a county's 1M-resident import and find nothing (these objects
    hold no cycles). Reference counting still frees everything as usual; the collector runs
    again afterwards.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return wrapper  # type: ignore[return-value]

"""Bulk writes for imports: one prepared statement, many rows (executemany).

Django's bulk_create builds one statement per batch of a few dozen rows on SQLite; for a county
register that is most of the import time. These helpers keep the ORM's table and column names
but send rows through the DB-API's executemany, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from django.db import connection, models

CHUNK = 20_000


def _chunks(rows: Iterable[Sequence[Any]], size: int = CHUNK) -> Iterable[list[Sequence[Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _columns(model: type[models.Model], fields: Sequence[str]) -> list[str]:
    qn = connection.ops.quote_name
    return [qn(model._meta.get_field(f).column) for f in fields]  # type: ignore[union-attr,arg-type]


def insert_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """INSERT rows (values in `fields` order, already in database form). Returns the count."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = _columns(model, fields)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
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

"""Baselines measured in the same run as the code they are compared with.

bare_insert: the resident rows, already parsed, inserted with the sqlite3 module's executemany
into a table made from registry_resident's own DDL and indexes, in a separate database file
with the PRAGMAs of the application's connection. That is what SQLite costs; whatever the
import takes beyond it is parsing, checking and looking up.

naive_placement: each point tested against each grid in turn, bounding box first, with shapely's
scalar intersects: what code without a spatial index does.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Point

TABLE = "registry_resident"
CHUNK = 20_000


def _schema(source: sqlite3.Connection, table: str) -> tuple[str, list[str]]:
    create = source.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    ).fetchone()[0]
    indexes = [
        sql
        for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL ORDER BY name",
            [table],
        )
    ]
    return create, indexes


def read_rows(database: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The columns (without id) and rows of registry_resident, as the import stored them."""
    source = sqlite3.connect(database)
    try:
        columns = [r[1] for r in source.execute(f"PRAGMA table_info({TABLE})") if r[1] != "id"]
        rows = source.execute(f"SELECT {', '.join(columns)} FROM {TABLE} ORDER BY id").fetchall()
    finally:
        source.close()
    return columns, rows


def bare_insert(
    source_db: Path,
    target_db: Path,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    init_command: str,
    *,
    indexes_after: bool = False,
) -> float:
    """Seconds to insert `rows` into a fresh copy of registry_resident (one transaction).

    The tables its foreign keys point at are created with their ids (not timed), so the
    deferred foreign key checks run as they do in the application's database. With
    `indexes_after` the secondary indexes are built after the rows are in.
    """
    source = sqlite3.connect(source_db)
    create, indexes = _schema(source, TABLE)
    parents = {
        table: [r[0] for r in source.execute(f"SELECT id FROM {table}")]
        for table in ("registry_household", "territory_unit")
    }
    source.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target_db}{suffix}").unlink(missing_ok=True)
    db = sqlite3.connect(target_db, isolation_level=None)
    try:
        for pragma in filter(None, (p.strip() for p in init_command.split(";"))):
            db.execute(pragma)
        for table, ids in parents.items():
            db.execute(f'CREATE TABLE "{table}" ("id" integer NOT NULL PRIMARY KEY)')
            db.executemany(f'INSERT INTO "{table}" (id) VALUES (?)', [(i,) for i in ids])
        db.execute(create)
        if not indexes_after:
            for sql in indexes:
                db.execute(sql)
        sql = f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        start = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        for i in range(0, len(rows), CHUNK):
            db.executemany(sql, rows[i : i + CHUNK])
        if indexes_after:
            for index in indexes:
                db.execute(index)
        db.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        db.close()


def naive_placement(grids: list[tuple[Any, Any]], lons: list[float], lats: list[float]) -> float:
    """Seconds per point to find its grid by a loop over all grids with a bounding box test."""
    boxes = [(*polygon.bounds, key, polygon) for key, polygon in grids]
    start = time.perf_counter()
    for x, y in zip(lons, lats, strict=True):
        point = Point(x, y)
        for min_x, min_y, max_x, max_y, _key, polygon in boxes:
            if min_x <= x <= max_x and min_y <= y <= max_y and shapely.intersects(polygon, point):
                break
    return (time.perf_counter() - start) / max(1, len(lons))

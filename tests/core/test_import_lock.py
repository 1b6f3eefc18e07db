"""Imports write one at a time: two imports of one file at once never both create a record.

The pipeline (core/imports.py) matches rows to existing records inside its write transaction,
after the import lock: SQLite's one write lock (BEGIN IMMEDIATE), PostgreSQL's advisory lock.
Each test makes the second import reach the lock while the first holds it: the first pauses
inside its transaction (its "writing" progress), and the second ends its row check only then.
On SQLite two processes share a database file (the test database in memory cannot show it); on
PostgreSQL two threads, each with its own connection to the test database.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import translation

from grassroots.core.imports import ImportBusy
from tests import factories as f
from tests.core.test_settings_and_cli import ROOT

RESIDENTS = 3000
HOUSEHOLDS = 1000
GRID = "350426100001001"


def write_files(folder: Path) -> dict[str, Path]:
    """A village with one grid, HOUSEHOLDS households in it and RESIDENTS residents."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.csv" for name in ("units", "households", "residents")}
    paths["units"].write_text(
        "编码,名称\n350426,尤溪县\n350426100,城关镇\n350426100001,水东社区\n", encoding="utf-8"
    )
    paths["grids"] = folder / "grids.geojson"
    feature = {
        "type": "Feature",
        "properties": {"code": GRID, "name": "一网格", "kind": "综合"},
        "geometry": f.square(118.1, 26.1),
    }
    paths["grids"].write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8"
    )
    with paths["households"].open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["户编号", "地址", "网格编码"])
        writer.writerows([f"H{i}", f"西门路{i}号", GRID] for i in range(HOUSEHOLDS))
    with paths["residents"].open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["姓名", "身份证号", "户编号", "与户主关系"])
        for i in range(RESIDENTS):
            birth = datetime.date(1980, 1, 1) + datetime.timedelta(days=i // 1000)
            number = f.id_number(birth.strftime("%Y%m%d"), seq=i % 1000)
            writer.writerow([f"居民{i}", number, f"H{i % HOUSEHOLDS}", "户主" if i < 1000 else ""])
    return paths


# ---------------------------------------------------------------------------------------------
# SQLite: two processes on one database file

DRIVER = r"""
import json, os, sys, time
from pathlib import Path

import django

django.setup()
from grassroots.core.imports import ImportBusy
from grassroots.registry.imports import import_households, import_residents

kind, path, role, signal = sys.argv[1:5]


def progress(stage, rows):
    if role == "first" and stage == "writing":
        Path(signal).touch()  # the lock is held now
        time.sleep(float(os.environ.get("HOLD", "1")))
    if role == "second" and stage == "reading" and rows >= int(os.environ["ROWS"]):
        while not Path(signal).exists():
            time.sleep(0.02)


importer = {"households": import_households, "residents": import_residents}[kind]
try:
    result = importer(path, progress=progress)
except ImportBusy as exc:
    print(json.dumps({"busy": str(exc)}))
else:
    print(json.dumps({"created": result.created, "unchanged": result.unchanged,
                      "problems": [str(p) for p in result.problems]}))
"""


def run_both(tmp_path: Path, kind: str, rows: int, **env: str) -> list[dict[str, Any]]:
    """Start the import twice at once: the first pauses in its transaction, the second ends its
    check only then. Each one's outcome as it printed it."""
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    signal = tmp_path / f"{kind}.locked"
    children = [
        subprocess.Popen(
            [sys.executable, str(driver), kind, str(tmp_path / f"{kind}.csv"), role, str(signal)],
            env={**environment(tmp_path), "ROWS": str(rows), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role in ("first", "second")
    ]
    outcomes = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outcomes.append(json.loads(out))
    return outcomes


def environment(tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "grassroots.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'import.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(ROOT / "src"),
        "LANGUAGE_CODE": "en",
    }


def grassroots(tmp_path: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "grassroots", *args],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def count(tmp_path: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(tmp_path / "var" / "import.sqlite3") as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture
def sqlite_county(tmp_path: Path) -> Path:
    """A migrated SQLite database file with the territory, and the files to import."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write lock across processes")
    write_files(tmp_path)
    grassroots(tmp_path, "migrate", "--verbosity", "0")
    grassroots(tmp_path, "import", "units", str(tmp_path / "units.csv"))
    grassroots(tmp_path, "import", "grids", str(tmp_path / "grids.geojson"))
    return tmp_path


def test_it_stores_each_resident_once_when_two_sqlite_imports_run_at_once(sqlite_county):
    tmp_path = sqlite_county
    grassroots(tmp_path, "import", "households", str(tmp_path / "households.csv"))
    first, second = run_both(tmp_path, "residents", RESIDENTS)
    assert first == {"created": RESIDENTS, "unchanged": 0, "problems": []}
    # The second matched its rows after the first committed: every one was there.
    assert second == {"created": 0, "unchanged": RESIDENTS, "problems": []}
    assert count(tmp_path, "registry_resident") == RESIDENTS
    # An import event for each import (units, grids, households, twice the residents).
    assert count(tmp_path, "audit_event WHERE action = 'import'") == 5


def test_two_sqlite_household_imports_at_once_raise_no_integrity_error(sqlite_county):
    tmp_path = sqlite_county
    first, second = run_both(tmp_path, "households", HOUSEHOLDS)
    assert (first["created"], second["created"], second["unchanged"]) == (
        HOUSEHOLDS,
        0,
        HOUSEHOLDS,
    )
    assert count(tmp_path, "registry_household") == HOUSEHOLDS


def test_a_sqlite_import_that_waits_too_long_is_refused_with_a_message(sqlite_county):
    tmp_path = sqlite_county
    first, second = run_both(tmp_path, "households", HOUSEHOLDS, HOLD="4", IMPORT_LOCK_SECONDS="1")
    assert first["created"] == HOUSEHOLDS
    assert second == {
        "busy": "another import is being written and did not finish within 1 seconds "
        "(IMPORT_LOCK_SECONDS); nothing was written: try again later"
    }
    assert count(tmp_path, "registry_household") == HOUSEHOLDS


# ---------------------------------------------------------------------------------------------
# PostgreSQL: two connections

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the advisory lock across connections: PostgreSQL"
)


def run_in_threads(kind: str, path: Path, rows: int, hold: float = 0.5) -> list[dict[str, Any]]:
    """As run_both, with two threads (two connections) of this process."""
    from grassroots.registry.imports import import_households, import_residents

    importer = {"households": import_households, "residents": import_residents}[kind]
    locked = threading.Event()
    outcomes: list[dict[str, Any]] = [{}, {}]

    def progress_of(role: str) -> Any:
        def progress(stage: str, done: int) -> None:
            if role == "first" and stage == "writing":
                locked.set()
                time.sleep(hold)
            if role == "second" and stage == "reading" and done >= rows:
                locked.wait(30)

        return progress

    def run(index: int, role: str) -> None:
        try:
            with translation.override("en"):  # a new thread speaks the default language
                result = importer(path, progress=progress_of(role))
            outcomes[index] = {"created": result.created, "unchanged": result.unchanged}
        except Exception as exc:  # reported to the test
            outcomes[index] = {"error": exc}
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(["first", "second"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcomes


@pytest.fixture
def pg_county(tmp_path: Path) -> dict[str, Path]:
    from grassroots.territory.imports import import_grids, import_units

    paths = write_files(tmp_path)
    assert import_units(paths["units"]).ok and import_grids(paths["grids"]).ok
    return paths


@needs_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_stores_each_resident_once_when_two_postgresql_imports_run_at_once(pg_county):
    from grassroots.registry.imports import import_households
    from grassroots.registry.models import Resident

    assert import_households(pg_county["households"]).ok
    first, second = run_in_threads("residents", pg_county["residents"], RESIDENTS)
    assert first == {"created": RESIDENTS, "unchanged": 0}
    assert second == {"created": 0, "unchanged": RESIDENTS}
    assert Resident.objects.count() == RESIDENTS


@needs_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_postgresql_household_imports_at_once_raise_no_integrity_error(pg_county):
    from grassroots.registry.models import Household

    first, second = run_in_threads("households", pg_county["households"], HOUSEHOLDS)
    assert first == {"created": HOUSEHOLDS, "unchanged": 0}
    assert second == {"created": 0, "unchanged": HOUSEHOLDS}
    assert Household.objects.count() == HOUSEHOLDS


@needs_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_postgresql_import_that_waits_too_long_is_refused_with_a_message(pg_county, settings):
    from grassroots.registry.models import Household

    settings.IMPORT_LOCK_SECONDS = 1
    first, second = run_in_threads("households", pg_county["households"], HOUSEHOLDS, hold=3)
    assert first == {"created": HOUSEHOLDS, "unchanged": 0}
    assert isinstance(second["error"], ImportBusy)
    assert str(second["error"]) == (
        "another import is being written and did not finish within 1 seconds "
        "(IMPORT_LOCK_SECONDS); nothing was written: try again later"
    )
    assert Household.objects.count() == HOUSEHOLDS

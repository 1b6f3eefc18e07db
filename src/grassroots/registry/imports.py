"""Spreadsheet import of households and residents, through the import pipeline
(core/imports.py); the importers are in imports_households.py and imports_residents.py.

All-or-nothing: every row is read and checked first; if any row has a problem nothing is
written and each problem is reported as `row N: <column as written>: <reason>`. A valid file is
written in one transaction as an upsert (households by code, residents by ID number), so
importing the same file twice changes nothing the second time. The importer's `scope` bounds
what a file may touch: grids, households and units named in it must lie inside the scope, and a
row whose code or ID number matches a household or resident outside it is a problem, not an
update.

Both importers take an optional `progress(stage, rows)` callback for long imports (the web
console's import jobs): `("reading", n)` every PROGRESS_EVERY rows of the check and once when
it ends, then `("writing", n)` with the rows about to be written, once the write transaction
holds the import lock.
"""

from __future__ import annotations

from pathlib import Path

from grassroots.core.imports import ImportResult, Progress, run_import
from grassroots.core.scoping import Scope
from grassroots.core.tables import Table

from .imports_common import RELATIONS, RESIDENCIES, UnknownUnit, default_unit
from .imports_households import HouseholdImporter
from .imports_residents import ResidentImporter

__all__ = [
    "RELATIONS",
    "RESIDENCIES",
    "HouseholdImporter",
    "ImportResult",
    "ResidentImporter",
    "UnknownUnit",
    "default_unit",
    "import_households",
    "import_residents",
]


def import_households(
    source: str | Path | Table,
    *,
    scope: Scope | None = None,
    dry_run: bool = False,
    unit_code: str | None = None,
    progress: Progress | None = None,
    max_rows: int | None = None,
) -> ImportResult:
    """Check and upsert households by code. See the module docstring for the rules; a file of more
    than `max_rows` rows is refused (TableError)."""
    importer = HouseholdImporter(scope=scope, unit_code=unit_code)
    return run_import(importer, source, dry_run=dry_run, progress=progress, max_rows=max_rows)


def import_residents(
    source: str | Path | Table,
    *,
    scope: Scope | None = None,
    dry_run: bool = False,
    unit_code: str | None = None,
    progress: Progress | None = None,
    max_rows: int | None = None,
) -> ImportResult:
    """Check and upsert residents by ID number. See the module docstring for the rules; a file of
    more than `max_rows` rows is refused (TableError)."""
    importer = ResidentImporter(scope=scope, unit_code=unit_code)
    return run_import(importer, source, dry_run=dry_run, progress=progress, max_rows=max_rows)

"""The one import pipeline: every import of a file (units, grids, households, residents,
hotline work orders) runs through `run_import`, and an importer is a row validator plugged
into it (a subclass of `Importer`).

What the pipeline does, in order, the same for every kind:
1. open the file (`Importer.open`: a .csv in UTF-8, UTF-8 with BOM or GB18030, an .xlsx or
   .xls read by a sandboxed child process, see core/tables.py; grids read GeoJSON instead);
2. map the headers to the importer's columns (Chinese or English names; a missing, doubled or
   unknown column is said as today);
3. check every row (`Importer.check_row`), each problem named `row N: <column as written>:
   <reason>` (`feature N` for GeoJSON), reporting progress every PROGRESS_EVERY rows, then the
   rules across rows (`Importer.check_all`, e.g. placing points into grids), so that every
   problem of the file is said at once, listed by row;
4. if any row has a problem, stop: nothing is written (the errors file lists the rows);
5. match the rows to existing records (`Importer.match`: created, updated, unchanged). A dry
   run stops here. Otherwise the match runs INSIDE the write transaction, after the import
   lock is taken (`write_transaction`), so that two imports at once can never both create the
   same person: the second waits for the first to commit, then finds its rows;
6. write (`Importer.write`: bulk inserts and updates, one audit event per record) and the audit
   event of the import itself, in that one transaction; a problem found by the match or the
   write rolls everything back.

Cells holding several values (tags, a list of units) are split by `split_values` in every
import alike: 、 ; ； , or ，.

The kinds of import are registered by the apps that own them (`register`, in each app's
`imports` module), so that `grassroots import KIND FILE` (core/management/commands/import.py)
knows them all without core importing any app above it.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from django.apps import apps
from django.conf import settings
from django.db import OperationalError, connection, models, transaction
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _

from .bulk import without_gc
from .scoping import Scope
from .tables import Table, read_table, write_table
from .text import clean_text, compact

# Rows between two progress reports of the check.
PROGRESS_EVERY = 1000
# progress(stage, rows): ("reading", rows checked so far), then ("writing", rows to write).
Progress = Callable[[str, int], None]
# What separates the values of a multi-value cell, in every import.
VALUE_SEPARATORS = re.compile(r"[、;；,，]")
# The key of PostgreSQL's advisory lock held by the import being written (one for every kind:
# on SQLite, too, one import writes at a time).
LOCK_KEY = 0x47524153_494D5054  # "GRASIMPT"


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    reason: str
    # "row" for a spreadsheet; "feature" for GeoJSON, whose `column` names the feature.
    where: str = "row"

    def __str__(self) -> str:
        if self.where == "feature":
            return f"{self.column} [feature {self.row}]: {self.reason}"
        return f"row {self.row}: {self.column}: {self.reason}"


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    encoding: str | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    # Offending rows as read, for the --errors file: row number -> cells.
    bad_rows: dict[int, list[str]] = field(default_factory=dict)
    source_path: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def file_name(self) -> str:
        return Path(self.source_path).name if self.source_path else ""

    def first_problems(self, limit: int | None = None) -> list[Problem]:
        """The first `limit` problems by row (IMPORT_MAX_PROBLEMS_SHOWN by default): what an
        answer lists, with len(problems) as the total."""
        limit = settings.IMPORT_MAX_PROBLEMS_SHOWN if limit is None else limit
        return heapq.nsmallest(limit, self.problems, key=lambda p: p.row)

    def write_errors(self, path: str | Path) -> None:
        reasons: dict[int, list[str]] = {}
        for p in self.problems:
            reasons.setdefault(p.row, []).append(f"{p.column}: {p.reason}")
        missing = set(reasons) - set(self.bad_rows) - {1}
        if missing and self.source_path:
            # Problems found after the row pass (placement, registry lookups): read those rows again.
            for number, cells in read_table(self.source_path).rows:
                if number in missing:
                    self.bad_rows[number] = cells
        rows = [
            [number, *self.bad_rows.get(number, []), "; ".join(reasons[number])]
            for number in sorted(reasons)
        ]
        write_table(path, [_("row"), *self.headers, _("reason")], rows)


class ImportRefused(Exception):
    """The import as a whole is refused before any row is written: `parameter` names what is
    at fault ("file", or an option such as "unit"), for each door to say it its own way."""

    parameter = "file"


class ImportBusy(ImportRefused):
    """Another import held the write lock for longer than IMPORT_LOCK_SECONDS."""


@dataclass(frozen=True)
class Column:
    key: str
    labels: tuple[str, ...]  # accepted headers; the first is the Chinese one
    required: bool = False


def match_columns(
    table: Table | Source, columns: tuple[Column, ...], result: ImportResult
) -> dict[str, tuple[int, str]]:
    """key -> (cell index, header as written). Missing required columns become problems."""
    lookup = {}
    for column in columns:
        for label in column.labels:
            lookup[label.lower()] = column.key
    found: dict[str, tuple[int, str]] = {}
    for index, header in enumerate(table.headers):
        key = lookup.get(header.lower().replace(" ", ""))
        if key is None:
            if header:
                result.warnings.append(
                    _("column %(h)s is not known and is ignored") % {"h": header}
                )
            continue
        if key in found:
            result.problems.append(
                Problem(
                    1,
                    header,
                    _("the same column appears twice (also %(h)s)") % {"h": found[key][1]},
                )
            )
            continue
        found[key] = (index, header)
    for column in columns:
        if column.required and column.key not in found:
            result.problems.append(
                Problem(1, f"{column.labels[0]} ({column.labels[1]})", _("column is missing"))
            )
    return found


def split_values(raw: str) -> list[str]:
    """The values of a multi-value cell (tags, a list of units), separated by 、 ; ； , or ，
    in any import; each cleaned, empty ones dropped."""
    return [value for value in map(clean_text, VALUE_SEPARATORS.split(raw)) if value]


def parse_float(raw: str, low: float, high: float, what: str) -> tuple[float | None, str | None]:
    """A number between low and high from a cell (None when empty), or the reason it is not."""
    text = compact(raw)
    if not text:
        return None, None
    try:
        value = float(text)
    except ValueError:
        return None, _("%(what)s %(v)s is not a number") % {"what": what, "v": raw}
    if not (low <= value <= high):
        return None, _("%(what)s %(v)s is outside %(low)s to %(high)s") % {
            "what": what,
            "v": raw,
            "low": low,
            "high": high,
        }
    return value, None


def open_table(path_or_table: str | Path | Table, *, max_rows: int | None = None) -> Table:
    """A table already read (tests, the demo loader) or the file at that path, at most
    `max_rows` rows of it (see read_table)."""
    if isinstance(path_or_table, Table):
        return path_or_table
    return read_table(path_or_table, max_rows=max_rows)


# ---------------------------------------------------------------------------------------------
# The importer's contract


class Source(Protocol):
    """What `Importer.open` gives: headers (none for GeoJSON), the rows (number, record) as
    they are read, and the encoding of a CSV file."""

    headers: list[str]
    rows: Iterator[tuple[int, Any]]
    encoding: str | None


class Importer:
    """One kind of import, plugged into `run_import`. A subclass provides:

    - `kind`, `model` (whose type the import's audit event names), `columns` (empty for a
      reader of its own), `help`, `options` (of `grassroots import KIND`: "errors", "unit",
      "as_user"), and the audit trail's `record_event` and `acting` (grassroots.audit's
      services.record and context.acting: the audit app sits above core);
    - `check_row(number, record)`: check one row, keep what `match` and `write` need, and
      report each problem with `problem(number, key, reason)`;
    - `match()`: set result.created/updated/unchanged from the records existing now (problems
      found here stop the import too); `write()`: write, with one audit event per record.
    Optional: `open`, `check_columns`, `prepare` (lookups for the row pass), `check_all` (rules
    across rows), `event_changes`, `summary`.
    """

    kind: ClassVar[str]
    model: ClassVar[type[models.Model]]
    columns: ClassVar[tuple[Column, ...]] = ()
    help: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()
    # Whether --as-user also names who acts (an active account), not only the scope.
    user_acts: ClassVar[bool] = False
    record_event: ClassVar[Callable[..., Any]]
    acting: ClassVar[Callable[..., AbstractContextManager[Any]]]

    result: ImportResult
    # Column key -> header as written, and -> cell index (tables only).
    header: dict[str, str]
    index: dict[str, int]

    def __init__(self, *, scope: Scope | None = None) -> None:
        self.scope = scope or Scope.everything()
        self.header, self.index = {}, {}

    def open(self, source: Any, max_rows: int | None) -> Source:
        return open_table(source, max_rows=max_rows)

    def problem(self, number: int, key: str, reason: str) -> None:
        self.result.problems.append(Problem(number, self.header.get(key, key), reason))

    def check_columns(self) -> None:
        """Rules over the header row (columns that go together)."""

    def prepare(self) -> None:
        """Read what the row pass looks rows up in (grids, tags): before any row."""

    def check_row(self, number: int, record: Any) -> None:
        raise NotImplementedError

    def check_all(self) -> None:
        """Rules across the rows (placing points, overlaps), once every row is read; on the
        rows kept by check_row, whatever problems other rows had."""

    def match(self) -> None:
        raise NotImplementedError

    def write(self) -> None:
        raise NotImplementedError

    def event_changes(self) -> dict[str, Any]:
        """The changes of the import's own audit event."""
        result = self.result
        return {
            "file": result.file_name or None,
            "encoding": result.encoding,
            "rows": result.rows,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
        }

    def summary(self) -> str:
        """The last line of `grassroots import`."""
        result = self.result
        counts = {
            "kind": result.kind,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
        }
        if result.dry_run:
            line = _(
                "dry run, nothing written: would have %(kind)s: "
                "created %(created)d, updated %(updated)d, unchanged %(unchanged)d"
            )
        else:
            line = _("%(kind)s: created %(created)d, updated %(updated)d, unchanged %(unchanged)d")
        return line % counts


class _NothingWritten(Exception):
    """Rolls the write transaction back: the match or the write found problems."""


@without_gc
def run_import(
    importer: Importer,
    source: Any,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    max_rows: int | None = None,
) -> ImportResult:
    """Check and, unless `dry_run`, write a file with `importer`, all or nothing (see the module
    docstring). A file of more than `max_rows` rows is refused (TableError), and so is an
    import that waited IMPORT_LOCK_SECONDS for another one (ImportBusy)."""
    table = importer.open(source, max_rows)
    result = importer.result = ImportResult(
        importer.kind,
        dry_run=dry_run,
        encoding=table.encoding,
        headers=table.headers,
        source_path=None if isinstance(source, Table) else str(source),
    )
    if importer.columns:
        found = match_columns(table, importer.columns, result)
        importer.header = {key: label for key, (_i, label) in found.items()}
        importer.index = {key: i for key, (i, _label) in found.items()}
        if not result.problems:
            importer.check_columns()
        if result.problems:
            return result
    importer.prepare()
    _check_rows(importer, table, progress)
    importer.check_all()
    if result.problems or dry_run:
        if not result.problems:
            importer.match()
        return _refused(result) if result.problems else result
    try:
        with write_transaction():
            importer.match()
            if result.problems:
                raise _NothingWritten
            if progress is not None:
                progress("writing", result.created + result.updated)
            importer.write()
            if result.problems:
                raise _NothingWritten
            importer.record_event(
                "import",
                object_type=importer.model._meta.label_lower,
                object_repr=result.file_name,
                changes=importer.event_changes(),
            )
    except _NothingWritten:
        return _refused(result)
    return result


def _refused(result: ImportResult) -> ImportResult:
    """A result with problems: nothing is (or would be) written; the problems listed by row."""
    result.created = result.updated = 0
    result.problems.sort(key=lambda p: p.row)
    return result


def _check_rows(importer: Importer, table: Source, progress: Progress | None) -> None:
    """The row pass: every row checked, the offending ones kept for the errors file."""
    result = importer.result
    problems, bad_rows, check = result.problems, result.bad_rows, importer.check_row
    keep_cells = bool(importer.columns)
    rows = 0
    for number, record in table.rows:
        rows += 1
        if progress is not None and not rows % PROGRESS_EVERY:
            progress("reading", rows)
        before = len(problems)
        check(number, record)
        if len(problems) > before and keep_cells:
            bad_rows[number] = record
    result.rows = rows
    if progress is not None:
        progress("reading", rows)


# ---------------------------------------------------------------------------------------------
# The import lock


@contextmanager
def write_transaction() -> Iterator[None]:
    """One transaction that holds the import lock: imports write one at a time.

    SQLite: the transaction begins IMMEDIATE (settings), which takes the database's one write
    lock; a second import waits for it up to IMPORT_LOCK_SECONDS (the connection's busy
    timeout, raised for the BEGIN). PostgreSQL: pg_advisory_xact_lock(LOCK_KEY), waited for up
    to IMPORT_LOCK_SECONDS (lock_timeout), released at commit or rollback. Past the wait:
    ImportBusy, a message for the whole file, nothing written.
    """
    seconds = settings.IMPORT_LOCK_SECONDS
    locked = False
    try:
        with _sqlite_busy_timeout(seconds), transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = %s", [f"{seconds}s"])
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
                    cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
            locked = True
            yield
    except OperationalError as exc:
        if locked or not _lock_wait_ended(exc):
            raise
        raise ImportBusy(
            _(
                "another import is being written and did not finish within %(n)d seconds "
                "(IMPORT_LOCK_SECONDS); nothing was written: try again later"
            )
            % {"n": seconds}
        ) from None


@contextmanager
def _sqlite_busy_timeout(seconds: int) -> Iterator[None]:
    """SQLite: wait up to `seconds` for the write lock at BEGIN (when this opens the
    transaction), then go back to the connection's own busy timeout."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {before}")


def _lock_wait_ended(exc: OperationalError) -> bool:
    """Whether the error is the end of a wait for the lock (and not another failure)."""
    if connection.vendor == "postgresql":
        return getattr(exc.__cause__, "sqlstate", None) == "55P03"  # lock_not_available
    return "database is locked" in str(exc)


# ---------------------------------------------------------------------------------------------
# The kinds of import


_KINDS: dict[str, type[Importer]] = {}


def register(importer: type[Importer]) -> type[Importer]:
    """Make a kind of import known to `grassroots import` (a class decorator, used in the
    `imports` module of the app that owns the kind)."""
    _KINDS[importer.kind] = importer
    return importer


def import_kinds() -> dict[str, type[Importer]]:
    """Every registered kind, by name, in the order of INSTALLED_APPS (then of registration)."""
    autodiscover_modules("imports")
    apps_order = [config.name for config in apps.get_app_configs()]

    def app_index(importer: type[Importer]) -> int:
        module = importer.__module__
        return next(
            (i for i, name in enumerate(apps_order) if module.startswith(name + ".")),
            len(apps_order),
        )

    ordered = sorted(enumerate(_KINDS.values()), key=lambda item: (app_index(item[1]), item[0]))
    return {importer.kind: importer for _i, importer in ordered}

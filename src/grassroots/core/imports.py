"""What every spreadsheet import shares: columns known by several headers, problems named by
row and column, the result an importer answers, and a few cell parsers.

The rules (grassroots.registry.imports and grassroots.cases.imports follow them): every row is
read and checked first; if any row has a problem nothing is written, and each problem is
reported as `row N: <column as written>: <reason>`; a valid file is written in one transaction.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from .tables import Table, read_table, write_table
from .text import compact


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
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


@dataclass(frozen=True)
class Column:
    key: str
    labels: tuple[str, ...]  # accepted headers; the first is the Chinese one
    required: bool = False


def match_columns(
    table: Table, columns: tuple[Column, ...], result: ImportResult
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


def source_path(path_or_table: str | Path | Table) -> str | None:
    """The file's path, for messages and for reading offending rows again; None for a table."""
    return None if isinstance(path_or_table, Table) else str(path_or_table)


def report_to_command(command: Any, result: ImportResult, file: str, errors: str | None) -> None:
    """What an import command prints before its summary: the encoding read, warnings, the first
    IMPORT_MAX_PROBLEMS_SHOWN problems (the error file, when asked for, holds every one); a
    result with problems ends the command with exit status 1."""
    from django.core.management.base import CommandError

    if result.encoding:
        command.stderr.write(
            _("read %(file)s as %(encoding)s") % {"file": file, "encoding": result.encoding}
        )
    for warning in result.warnings:
        command.stderr.write(_("warning: %(w)s") % {"w": warning})
    shown = result.first_problems()
    for problem in shown:
        command.stdout.write(str(problem))
    if errors:
        result.write_errors(errors)
    more = len(result.problems) - len(shown)
    if more and errors:
        command.stdout.write(
            _("... and %(n)d more problem(s): %(file)s lists every one")
            % {"n": more, "file": errors}
        )
    elif more:
        command.stdout.write(
            _("... and %(n)d more problem(s): --errors OUT writes every one to a file")
            % {"n": more}
        )
    if result.problems:
        rows = len({p.row for p in result.problems})
        raise CommandError(
            _("%(n)d problem(s) in %(rows)d row(s) of %(total)d; nothing was written")
            % {"n": len(result.problems), "rows": rows, "total": result.rows},
            returncode=1,
        )

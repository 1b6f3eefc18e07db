"""Reading and writing the spreadsheets people actually keep (.csv in UTF-8 or GB18030, .xlsx,
the old binary .xls), and reading the features of a GeoJSON file.

Rows are numbered the way the user sees them in the spreadsheet: the header is row 1 (in an
Excel file, the first row holding a value). A file larger than settings.IMPORT_MAX_BYTES is
refused before any of it is read. Rows are read as they are iterated, never all at once: a CSV
file by the csv module (a record at most MAX_ROW_CHARS long), an .xlsx or .xls file by a child
process with limits of its own on memory and CPU time (core/xlsx.py), so that a crafted file
can end that process only. Past IMPORT_MAX_COLUMNS, or past `max_rows` rows, the reading stops
with a TableError naming the row and the setting.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import signal
import subprocess
import sys
import tempfile
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl import Workbook

from . import xlsx
from .text import clean_text

logger = logging.getLogger("grassroots.core.tables")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_DELIMITERS = (",", "\t", ";")
# A cell may be as long as its row (MAX_ROW_CHARS); the csv module's own limit of 128 KiB would
# otherwise stop a long cell with an error instead of a reason.
csv.field_size_limit(2**31 - 1)
# The longest row read (of an .xlsx file too): the csv module holds a whole record before giving
# it back, and a record of tiny cells costs some 20 times its length in memory.
MAX_ROW_CHARS = xlsx.MAX_ROW_CHARS
# Characters an .xlsx file cannot hold (openpyxl refuses them): C0 controls but tab and newlines.
_XLSX_ILLEGAL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


# (row number, cells) as a reader gives them, to be closed when the caller stops early.
Rows = Generator[tuple[int, list[str]], None, None]


class TableError(Exception):
    """The file as a whole cannot be read (unknown type, encoding, no header)."""


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]
    encoding: str | None = None
    source: str = ""
    # Cells the reader had to guess about (numbers that may have lost digits), by (row, col).
    notes: dict[tuple[int, int], str] = field(default_factory=dict)


def format_size(size: int) -> str:
    """1536 -> "1.5 KiB": sizes in messages about the import limit."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def check_size(path: Path) -> None:
    """Refuse a file larger than settings.IMPORT_MAX_BYTES, before anything reads it."""
    size = path.stat().st_size
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise TableError(
            _("%(file)s is %(size)s, more than the import limit of %(limit)s (IMPORT_MAX_BYTES)")
            % {"file": path.name, "size": format_size(size), "limit": format_size(limit)}
        )


def _detect_encoding(path: Path) -> str:
    """utf-8 (with or without BOM) or gb18030; anything else is refused."""
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8":
            with path.open("rb") as fh:
                return "utf-8-sig" if fh.read(3) == codecs.BOM_UTF8 else "utf-8"
        return encoding
    raise TableError(
        _("%(file)s is neither UTF-8 nor GB18030 text; save it as CSV UTF-8 or as .xlsx")
        % {"file": path.name}
    )


def _delimiter(header_line: str) -> str:
    """The delimiter of a CSV file: the one its header line uses most (comma on a tie).

    Headers hold no commas, tabs or semicolons, so the header line decides. csv.Sniffer is not
    used: it guesses from data cells (tags hold semicolons) and its regular expressions take
    minutes on a crafted sample of quotes and commas.
    """
    counts = {d: header_line.count(d) for d in CSV_DELIMITERS}
    best = max(CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def column_letters(number: int) -> str:
    """1 -> "A", 16384 -> "XFD": columns as a spreadsheet names them."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _too_many_columns(path: Path, row: int, column: int) -> TableError:
    return TableError(
        _(
            "%(file)s: row %(row)d has a value in column %(column)s, past the limit of "
            "%(limit)d columns (IMPORT_MAX_COLUMNS)"
        )
        % {
            "file": path.name,
            "row": row,
            "column": column_letters(column),
            "limit": settings.IMPORT_MAX_COLUMNS,
        }
    )


class _RowTooLong(Exception):
    pass


def _csv_rows(path: Path, encoding: str) -> Rows:
    with path.open(encoding=encoding, newline="") as fh:
        delimiter = _delimiter(fh.readline(65536))
        fh.seek(0)
        # Characters read for the record being parsed: the csv module builds a whole record
        # before giving it back, so a line of a million commas would become a million cells.
        used = 0

        def lines() -> Iterator[str]:
            nonlocal used
            while line := fh.readline(MAX_ROW_CHARS + 1):
                used += len(line)
                if used > MAX_ROW_CHARS:
                    raise _RowTooLong
                yield line

        reader = csv.reader(lines(), delimiter=delimiter)
        number = 0
        try:
            for cells in reader:
                number += 1
                used = 0
                yield number, cells
        except csv.Error as exc:
            raise TableError(
                _("%(file)s: row %(row)d cannot be read as CSV: %(e)s")
                % {"file": path.name, "row": reader.line_num, "e": exc}
            ) from None
        except _RowTooLong:
            raise _row_too_long(path, number + 1) from None


def _row_too_long(path: Path, row: int) -> TableError:
    return TableError(
        _("%(file)s: row %(row)d is longer than %(limit)d characters")
        % {"file": path.name, "row": row, "limit": MAX_ROW_CHARS}
    )


def _reader_command(path: Path) -> list[str]:
    """The child process that reads an .xlsx file (see core/xlsx.py): run by its file's path in
    isolated mode, so that neither the current folder nor PYTHON* variables change what runs."""
    return [
        sys.executable,
        "-I",
        str(Path(xlsx.__file__)),
        str(path),
        str(settings.IMPORT_MAX_COLUMNS),
        str(settings.IMPORT_READER_MEMORY),
        str(settings.IMPORT_READER_SECONDS),
    ]


def _xlsx_refusal(path: Path, answer: dict[str, Any]) -> TableError:
    if path.suffix.lower() == ".xls" and answer.get("error") == "unreadable":
        return TableError(
            _("%(file)s is not a readable .xls file: %(e)s")
            % {"file": path.name, "e": answer.get("detail")}
        )
    code = str(answer.get("error"))
    if code == "columns":
        return _too_many_columns(path, answer["row"], answer["column"])
    if code == "row_length":
        return _row_too_long(path, answer["row"])
    if code == "memory":
        return _out_of_memory(path)
    if code == "parts":
        message = _(
            "%(file)s holds %(n)d parts, more than the %(limit)d an .xlsx file of a table "
            "could need"
        ) % {"file": path.name, "n": answer["count"], "limit": answer["limit"]}
    elif code == "unzipped":
        message = _(
            "%(file)s unpacks to %(size)s, more than %(ratio)d times its size: it is refused "
            "as a possible zip bomb"
        ) % {"file": path.name, "size": format_size(answer["size"]), "ratio": answer["ratio"]}
    else:
        reasons = {
            "doctype": _("a part of it declares a document type"),
            "no_workbook": _("it holds no workbook"),
            "no_sheet": _("it holds no worksheet"),
            "row_number": _("%(row)s is no row number of a spreadsheet")
            % {"row": answer.get("row")},
        }
        message = _("%(file)s is not a readable .xlsx file: %(e)s") % {
            "file": path.name,
            "e": reasons.get(code) or answer.get("detail") or code,
        }
    return TableError(message)


def _out_of_memory(path: Path) -> TableError:
    return TableError(
        _("%(file)s needs more than %(limit)s of memory to read (IMPORT_READER_MEMORY)")
        % {"file": path.name, "limit": format_size(settings.IMPORT_READER_MEMORY)}
    )


def _reader_failure(path: Path, status: int) -> TableError:
    """Why the child ended without an answer: its CPU limit, its memory, or a crash."""
    if status == -signal.SIGXCPU:
        return TableError(
            _("%(file)s takes more than %(limit)d seconds to read (IMPORT_READER_SECONDS)")
            % {"file": path.name, "limit": settings.IMPORT_READER_SECONDS}
        )
    if status == xlsx.EXIT_MEMORY:
        return _out_of_memory(path)
    how = f"exit status {status}"
    if status < 0:
        try:
            how = signal.Signals(-status).name
        except ValueError:
            how = f"signal {-status}"
    return TableError(
        _("%(file)s could not be read: the reader stopped unexpectedly (%(how)s)")
        % {"file": path.name, "how": how}
    )


def _xlsx_rows(path: Path) -> Rows:
    """The rows of the first sheet of an .xlsx or .xls file, read by a child process
    (core/xlsx.py) a row at a time."""
    with tempfile.TemporaryFile() as errors:  # the child's own complaints, for the log
        try:
            child = subprocess.Popen(
                _reader_command(path),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
        except OSError as exc:
            raise TableError(
                _("%(file)s could not be read: the reader did not start (%(e)s)")
                % {"file": path.name, "e": exc}
            ) from None
        assert child.stdout is not None
        try:
            for line in child.stdout:
                try:
                    answer = json.loads(line)
                except ValueError:
                    break  # cut off mid-line: the child was killed
                if isinstance(answer, list):
                    yield answer[0], answer[1]
                elif "error" in answer:
                    raise _xlsx_refusal(path, answer)
                else:
                    return
            # The output ended without an answer: the child was killed, or crashed.
            status = child.wait()
            errors.seek(0)
            complaint = errors.read()[-2000:].decode(errors="replace")
            logger.warning("the .xlsx reader of %s ended with %s: %s", path, status, complaint)
            raise _reader_failure(path, status)
        finally:
            # Also when the caller stops early (a refused row, a table not read to its end).
            if child.poll() is None:
                child.kill()
            child.stdout.close()
            child.wait()


def read_table(path: str | Path, *, max_rows: int | None = None) -> Table:
    """The table in a .csv, .xlsx or .xls file, its rows read as they are iterated.

    `max_rows` caps the data rows (the doors that take uploads pass IMPORT_MAX_ROWS): a row
    with a value past it stops the reading with a TableError naming the row and the setting.
    A value past IMPORT_MAX_COLUMNS does the same, whatever the caller.
    """
    path = Path(path)
    if not path.exists():
        raise TableError(_("%(file)s does not exist") % {"file": path})
    check_size(path)
    suffix = path.suffix.lower()
    encoding = None
    if suffix in (".csv", ".txt", ".tsv"):
        encoding = _detect_encoding(path)
        raw: Rows = _csv_rows(path, encoding)
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        raw = _xlsx_rows(path)
    else:
        raise TableError(
            _("%(file)s: only .csv, .xlsx and .xls files can be imported") % {"file": path.name}
        )
    max_columns = settings.IMPORT_MAX_COLUMNS

    def capped(number: int, cells: list[str]) -> list[str]:
        """The cells up to IMPORT_MAX_COLUMNS; a value past it refuses the file."""
        if len(cells) > max_columns:
            for index in range(max_columns, len(cells)):
                if cells[index].strip():
                    raise _too_many_columns(path, number, index + 1)
            del cells[max_columns:]
        return cells

    try:
        try:
            number, header_row = next(raw)
        except StopIteration:
            raise TableError(_("%(file)s is empty") % {"file": path.name}) from None
        headers = [clean_text(h).lstrip("\ufeff") for h in capped(number, header_row)]
        while headers and not headers[-1]:
            headers.pop()
        if not any(headers):
            raise TableError(_("%(file)s has no header row") % {"file": path.name})
    except BaseException:
        raw.close()  # now, not when the exception's traceback lets go of it
        raise
    width = len(headers)
    last_row = None if max_rows is None else number + max_rows

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, cells in raw:
                if not any(c.strip() for c in cells):
                    continue
                if last_row is not None and number > last_row:
                    raise TableError(
                        _(
                            "%(file)s: row %(row)d is past the limit of %(limit)d rows per "
                            "file (IMPORT_MAX_ROWS); split the file"
                        )
                        % {"file": path.name, "row": number, "limit": max_rows}
                    )
                cells = capped(number, cells)
                if len(cells) < width:
                    cells = cells + [""] * (width - len(cells))
                yield number, cells
        finally:
            raw.close()

    return Table(headers=headers, rows=rows(), encoding=encoding, source=path.name)


@dataclass
class Features:
    """The features of a GeoJSON FeatureCollection, as a table gives rows: (number from 1,
    the feature as written, whatever it holds)."""

    rows: Iterator[tuple[int, Any]]
    headers: list[str] = field(default_factory=list)
    encoding: str | None = None


def read_features(path: str | Path) -> Features:
    """The features of a GeoJSON FeatureCollection file (UTF-8), refused (TableError) when it
    is larger than IMPORT_MAX_BYTES, unreadable, or no FeatureCollection."""
    path = Path(path)
    try:
        check_size(path)  # before reading it
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TableError(
            _("%(file)s is not readable GeoJSON: %(e)s") % {"file": path.name, "e": exc}
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        raise TableError(_("%(file)s is not a GeoJSON FeatureCollection") % {"file": path.name})
    return Features(rows=enumerate(data["features"], start=1))


def neutralize(value: object) -> str:
    """Make a cell safe to open in a spreadsheet: no formula may start it."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def write_table(path: str | Path, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Write .csv (UTF-8 with BOM, which Excel opens correctly) or .xlsx, formula-safe.

    An .xlsx file cannot hold control characters: they are dropped there (a .csv keeps them).
    """
    path = Path(path)
    is_xlsx = path.suffix.lower() == ".xlsx"

    def safe(value: object) -> str:
        text = "" if value is None else str(value)
        # Dropped before neutralizing: "\x01=1+1" must not become a formula.
        return neutralize(text.translate(_XLSX_ILLEGAL) if is_xlsx else text)

    safe_rows = [[safe(c) for c in row] for row in rows]
    safe_headers = [safe(h) for h in headers]
    if is_xlsx:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(safe_headers)
        for row in safe_rows:
            sheet.append(row)
        workbook.save(path)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(safe_headers)
    writer.writerows(safe_rows)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")

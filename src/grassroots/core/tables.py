"""Reading and writing the spreadsheets people actually keep (.csv in UTF-8 or GB18030, .xlsx).

Rows are numbered the way the user sees them in the spreadsheet: the header is row 1. A file
larger than settings.IMPORT_MAX_BYTES is refused before any of it is read.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from .text import clean_text

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_DELIMITERS = (",", "\t", ";")
# A cell may be as long as the file (which IMPORT_MAX_BYTES bounds); the csv module's own limit
# of 128 KiB would otherwise stop a long cell with an error instead of a reason.
csv.field_size_limit(2**31 - 1)
# Characters an .xlsx file cannot hold (openpyxl refuses them): C0 controls but tab and newlines.
_XLSX_ILLEGAL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


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


def _csv_rows(path: Path, encoding: str) -> Iterator[list[str]]:
    with path.open(encoding=encoding, newline="") as fh:
        delimiter = _delimiter(fh.readline(65536))
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            yield from reader
        except csv.Error as exc:
            raise TableError(
                _("%(file)s: row %(row)d cannot be read as CSV: %(e)s")
                % {"file": path.name, "row": reader.line_num, "e": exc}
            ) from None


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        # Excel keeps numbers as doubles: 18-digit ID numbers typed as numbers lose digits,
        # so only integers below 1e15 are safe to write back as digits.
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
    except Exception as exc:  # calamine raises its own error types for broken files
        raise TableError(
            _("%(file)s is not a readable .xlsx file: %(e)s") % {"file": path.name, "e": exc}
        ) from None
    for row in sheet.iter_rows():
        yield [_cell_text(v) for v in row]


def read_table(path: str | Path) -> Table:
    path = Path(path)
    if not path.exists():
        raise TableError(_("%(file)s does not exist") % {"file": path})
    check_size(path)
    suffix = path.suffix.lower()
    encoding = None
    if suffix in (".csv", ".txt", ".tsv"):
        encoding = _detect_encoding(path)
        raw: Iterator[list[str]] = _csv_rows(path, encoding)
    elif suffix in (".xlsx", ".xlsm"):
        raw = _xlsx_rows(path)
    else:
        raise TableError(
            _("%(file)s: only .csv and .xlsx files can be imported") % {"file": path.name}
        )
    try:
        header_row = next(raw)
    except StopIteration:
        raise TableError(_("%(file)s is empty") % {"file": path.name}) from None
    headers = [clean_text(h).lstrip("\ufeff") for h in header_row]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise TableError(_("%(file)s has no header row") % {"file": path.name})
    width = len(headers)

    def rows() -> Iterator[tuple[int, list[str]]]:
        for number, cells in enumerate(raw, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            yield number, cells

    return Table(headers=headers, rows=rows(), encoding=encoding, source=path.name)


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
    xlsx = path.suffix.lower() == ".xlsx"

    def safe(value: object) -> str:
        text = "" if value is None else str(value)
        # Dropped before neutralizing: "\x01=1+1" must not become a formula.
        return neutralize(text.translate(_XLSX_ILLEGAL) if xlsx else text)

    safe_rows = [[safe(c) for c in row] for row in rows]
    safe_headers = [safe(h) for h in headers]
    if xlsx:
        from openpyxl import Workbook

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

"""A streaming reader of an .xlsx file's first sheet (and a reader of an old binary .xls
file's), run in a child process of its own.

core/tables.py starts it as `python -I xlsx.py FILE MAX_COLUMNS MEMORY SECONDS` (the file by
path, so that it works from a source checkout or an installed wheel alike) and reads its
standard output: one JSON line `[row number, [cell texts]]` for each row holding a value, then
`{"end": true}`, or `{"error": CODE, ...}` naming why the file was refused. The child first limits
its own address space (MEMORY bytes) and CPU time (SECONDS): a hostile file that makes it run
out of either ends this process only, never the web server or the worker that asked.

Why not a library: python-calamine builds the whole sheet as one dense range before giving a
row back, so a 2 KB file holding cells A1 and XFD1048576 asked for 512 GiB and aborted the
process (a Rust allocation failure is no Python exception); openpyxl's read-only mode took
18 s for 200,000 rows of 10 cells where this takes 5. Here the sheet is parsed as it is unzipped
(expat, a chunk at a time), rows come back as they are completed, absent rows, empty cells and
the declared dimension cost nothing, and a value past MAX_COLUMNS stops the reading. What
accumulates is the shared-strings table, which the memory limit bounds.

Cell texts are those the import expects (the same as calamine's were): numbers as digits when
they are whole and below 10**15 (an 18-digit ID number typed as a number has lost digits and
stays in scientific notation, so the validator can say so), dates as ISO dates (with the time
when it has one), booleans as 1/0, error values (#N/A) as empty cells.

An .xls file (BIFF, Excel 97-2003) is read by xlrd instead (`read_xls_rows`), in the same
child under the same limits and with the same cell texts; xlrd reads the whole file first,
which the memory limit bounds (an .xls sheet holds at most 65,536 rows of 256 columns).

Standard library only (and xlrd for .xls): the child imports neither Django nor the rest of
Grassroots.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import posixpath
import pyexpat
import re
import resource
import sys
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any

# A workbook of one table holds a few dozen parts; far more is not a spreadsheet we read.
MAX_PARTS = 10_000
# Sheets compress about tenfold; a zip bomb a thousandfold. The floor lets small files of many
# repeated empty rows through (they are cheap to read anyway).
MAX_RATIO = 100
RATIO_FLOOR = 64 * 1024 * 1024
# Excel's own limits.
MAX_ROW_NUMBER = 1_048_576
MAX_COLUMN_NUMBER = 16_384
CHUNK = 1 << 16
# Exit status of a child that ran out of memory and could not even say so.
EXIT_MEMORY = 3
# The most characters a row's values may hold (as for a CSV record, see core/tables.py).
MAX_ROW_CHARS = 2 * 1024 * 1024

_OFFICE_DOCUMENT = "/officeDocument"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# Built-in number formats that show dates or times (ECMA-376 18.8.30), and those of East Asian
# locales (27-36, 50-58: 年/月/日 and 时/分/秒 in zh-CN); 46 ([h]:mm:ss) is a duration.
_DATE_FORMAT_IDS = frozenset([*range(14, 23), 45, 47, *range(27, 37), *range(50, 59)])
_DURATION_FORMAT_IDS = frozenset([46])
NUMBER, DATE, DURATION = 0, 1, 2
_EPOCH_1900 = datetime.date(1899, 12, 31)
_EPOCH_1904 = datetime.date(1904, 1, 1)
_MS_PER_DAY = 86_400_000
_LAST_DAY = 2_958_466  # 10000-01-01 in the 1900 system


class XlsxError(Exception):
    """The file is refused: `code` says why (core/tables.py words it), `params` the figures:
    unreadable (detail: the library's reason), doctype, no_workbook, no_sheet, row_number (row),
    columns (row, column, limit), row_length (row, limit), parts (count, limit), unzipped (size,
    ratio), memory."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params


def _lower_limit(which: int, soft: int, hard: int) -> None:
    current = resource.getrlimit(which)[1]
    if current != resource.RLIM_INFINITY:
        hard = min(hard, current)
        soft = min(soft, hard)
    # A system that refuses a limit (macOS and RLIMIT_AS) reads without it.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(which, (soft, hard))


def apply_limits(memory: int, seconds: int) -> None:
    """Limit this process's address space and CPU time (past it, SIGXCPU ends the process),
    and write no core file."""
    _lower_limit(resource.RLIMIT_AS, memory, memory)
    _lower_limit(resource.RLIMIT_CPU, seconds, seconds + 5)
    _lower_limit(resource.RLIMIT_CORE, 0, 0)


def column_number(reference: str) -> int:
    """The column of a reference: A1 -> 1, XFD1048576 -> 16384; 0 without letters."""
    number = 0
    for char in reference:
        code = ord(char)
        if 65 <= code <= 90:
            number = number * 26 + code - 64
        elif 97 <= code <= 122:
            number = number * 26 + code - 96
        else:
            break
        if number > MAX_COLUMN_NUMBER:
            break  # stop before a crafted reference of a million letters becomes a huge int
    return number


def _unescape(text: str) -> str:
    """OOXML writes control characters as _x000D_ (and a literal "_x" as _x005F_x)."""

    def char(match: re.Match[str]) -> str:
        code = int(match.group(1), 16)
        return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)

    return _ESCAPE.sub(char, text) if "_x" in text else text


def _local(name: str) -> str:
    return name[name.index(":") + 1 :] if ":" in name else name


def _refuse_doctype(*args: Any) -> None:
    # No part of an .xlsx file declares a document type; one that does may define entities.
    raise XlsxError("doctype")


def _parser() -> Any:
    parser = pyexpat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.buffer_text = True
    parser.buffer_size = CHUNK
    return parser


def _feed(stream: IO[bytes], parser: Any) -> Iterator[None]:
    """Parse the stream a chunk at a time, pausing after each chunk."""
    while chunk := stream.read(CHUNK):
        parser.Parse(chunk, False)
        yield
    parser.Parse(b"", True)


def _parse(
    book: zipfile.ZipFile,
    name: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> None:
    """Run handlers (local element names) over one whole part."""
    parser = _parser()
    parser.StartElementHandler = lambda n, a: start(_local(n), a)
    if end is not None:
        parser.EndElementHandler = lambda n: end(_local(n))
    if text is not None:
        parser.CharacterDataHandler = text
    with book.open(name) as stream:
        for _pause in _feed(stream, parser):
            pass


def _relationships(book: zipfile.ZipFile, part: str, names: dict[str, str]) -> dict[str, str]:
    """Id -> (type, target part name) of the relationships of `part`."""
    folder, base = posixpath.split(part)
    rels = names.get(posixpath.join(folder, "_rels", base + ".rels").lower())
    found: dict[str, str] = {}
    if rels is None:
        return found

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == "Relationship" and attrs.get("TargetMode") != "External":
            target = attrs.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
            found[attrs.get("Id", "")] = attrs.get("Type", "") + " " + posixpath.normpath(path)

    _parse(book, rels, start)
    return found


def _by_type(relationships: dict[str, str], kind: str) -> str | None:
    for value in relationships.values():
        rel_type, _space, target = value.partition(" ")
        if rel_type.endswith(kind):
            return target
    return None


def _workbook(book: zipfile.ZipFile, names: dict[str, str]) -> tuple[str, dict[str, str], bool]:
    """(workbook part, its relationships, whether dates count from 1904); the first sheet's
    relationship id is in relationships[""]."""
    root = _relationships(book, "", names)
    part = _by_type(root, _OFFICE_DOCUMENT) or "xl/workbook.xml"
    if part.lower() not in names:
        raise XlsxError("no_workbook")
    state: dict[str, Any] = {"sheet": None, "1904": False}

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == "sheet" and state["sheet"] is None:
            for key, value in attrs.items():
                if _local(key) == "id":  # r:id, whatever the prefix
                    state["sheet"] = value
        elif name == "workbookPr":
            state["1904"] = attrs.get("date1904", "").lower() in ("1", "true")

    _parse(book, names[part.lower()], start)
    relationships = _relationships(book, part, names)
    sheet = relationships.get(state["sheet"] or "", "").partition(" ")[2]
    if not sheet:
        raise XlsxError("no_sheet")
    relationships[""] = sheet
    return part, relationships, state["1904"]


def _format_kind(code: str) -> int:
    """DATE, DURATION or NUMBER for a custom number format (the rules calamine follows)."""
    escaped = quoted = ampm = hms = False
    brackets = 0
    previous = " "
    for char in code:
        if escaped:
            escaped = False
        elif char in "_\\*":
            escaped = True  # the next character is literal (or fill, or a width)
        elif quoted:
            quoted = char != '"'
        elif char == '"':
            quoted = True
        elif char == ";":
            return NUMBER  # the first section decides
        elif char == "[":
            brackets += 1
        elif char == "]" and brackets == 1 and hms:
            return DURATION
        elif char == "]":
            brackets = max(0, brackets - 1)
        elif brackets == 0 and not ampm and char in "aA":
            ampm = True
        elif brackets == 0 and (char in "pmPM/" if ampm else char in "dmhysDMHYS"):
            return DATE
        elif not (hms and char.lower() == previous.lower()):
            hms = previous == "[" and char in "mhsMHS"
        previous = char
    return NUMBER


def _styles(book: zipfile.ZipFile, part: str | None) -> list[int]:
    """The kind (NUMBER, DATE, DURATION) of each cell style, by its index."""
    kinds: list[int] = []
    if part is None:
        return kinds
    codes: dict[str, str] = {}
    xf_ids: list[str] = []
    inside: list[bool] = [False]

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == "numFmt":
            codes[attrs.get("numFmtId", "")] = attrs.get("formatCode", "")
        elif name == "cellXfs":
            inside[0] = True
        elif name == "xf" and inside[0]:
            xf_ids.append(attrs.get("numFmtId", "0"))

    def end(name: str) -> None:
        if name == "cellXfs":
            inside[0] = False

    _parse(book, part, start, end)
    for xf_id in xf_ids:
        if xf_id in codes:
            kinds.append(_format_kind(codes[xf_id]))
        elif xf_id.isdigit() and int(xf_id) in _DATE_FORMAT_IDS:
            kinds.append(DATE)
        elif xf_id.isdigit() and int(xf_id) in _DURATION_FORMAT_IDS:
            kinds.append(DURATION)
        else:
            kinds.append(NUMBER)
    return kinds


def _shared_strings(book: zipfile.ZipFile, part: str | None) -> list[str]:
    strings: list[str] = []
    if part is None:
        return strings
    parts: list[str] = []
    # [collecting text, inside a phonetic run (its reading, not part of the text)]
    state = [False, False]

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == "t" and not state[1]:
            state[0] = True
        elif name == "si":
            parts.clear()
        elif name == "rPh":
            state[1] = True

    def end(name: str) -> None:
        if name == "t":
            state[0] = False
        elif name == "si":
            strings.append(_unescape("".join(parts)))
        elif name == "rPh":
            state[1] = False

    def text(data: str) -> None:
        if state[0]:
            parts.append(data)

    _parse(book, part, start, end, text)
    return strings


def number_text(value: float) -> str:
    """Whole numbers below 10**15 as digits (larger doubles have lost digits), else repr."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def date_text(value: float, kind: int, date1904: bool) -> str | None:
    """The text of a number shown as a date, time or duration; None when it is no date."""
    if value != value or abs(value) >= _LAST_DAY:  # NaN, or past the year 9999
        return None
    milliseconds = round(value * _MS_PER_DAY)
    if kind == DURATION:
        return str(datetime.timedelta(milliseconds=milliseconds))
    if value < 0:
        return None
    days, rest = divmod(milliseconds, _MS_PER_DAY)
    time = (datetime.datetime.min + datetime.timedelta(milliseconds=rest)).time()
    if value < 1:
        return str(time)
    if date1904:
        day = _EPOCH_1904 + datetime.timedelta(days=days)
    elif days >= 61:
        day = _EPOCH_1900 + datetime.timedelta(days=days - 1)  # Excel's 29 February 1900
    else:
        day = _EPOCH_1900 + datetime.timedelta(days=min(days, 59))
    if value.is_integer():
        return day.isoformat()
    return datetime.datetime.combine(day, time).isoformat()


def _iso_text(text: str) -> str:
    """A cell of type "d" (an ISO 8601 date written as text)."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    if moment.time() == datetime.time():
        return moment.date().isoformat()
    return moment.isoformat()


def _item(items: list[Any], index: str, default: Any) -> Any:
    """items[index] for an index written as text; the default for anything else (-1 too)."""
    index = index.strip()
    if index.isdigit() and len(index) < 10 and int(index) < len(items):
        return items[int(index)]
    return default


def _cell_text(
    kind: str, raw: str, style: str | None, shared: list[str], styles: list[int], date1904: bool
) -> str:
    if kind == "s":
        return str(_item(shared, raw, ""))
    if kind in ("inlineStr", "str"):
        return _unescape(raw)
    if kind == "b":
        return "1" if raw.strip() in ("1", "true", "TRUE") else "0"
    if kind == "e" or not raw:
        return ""
    if kind == "d":
        return _iso_text(raw)
    try:
        value = float(raw)
    except ValueError:
        return raw
    if style is not None:
        format_kind = _item(styles, style, NUMBER)
        if format_kind != NUMBER:
            text = date_text(value, format_kind, date1904)
            if text is not None:
                return text
    return number_text(value)


def _check_archive(book: zipfile.ZipFile, size: int) -> None:
    entries = book.infolist()
    if len(entries) > MAX_PARTS:
        raise XlsxError("parts", count=len(entries), limit=MAX_PARTS)
    unzipped = sum(entry.file_size for entry in entries)
    # zipfile stops each part at its declared size, so the declared sizes bound the reading.
    if unzipped > max(RATIO_FLOOR, MAX_RATIO * size):
        raise XlsxError("unzipped", size=unzipped, ratio=MAX_RATIO)


def read_rows(path: str, max_columns: int) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of each row of the first sheet that holds a value; cells are texts,
    "" where a row has no value, up to its last value. Raises XlsxError."""
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise XlsxError("unreadable", detail=f"{type(exc).__name__}: {exc}") from None
    with book:
        _check_archive(book, os.path.getsize(path))
        names = {name.lower(): name for name in book.namelist()}
        _part, relationships, date1904 = _workbook(book, names)
        sheet = names.get(relationships[""].lower())
        if sheet is None:
            raise XlsxError("no_sheet")
        styles_part = _by_type(relationships, "/styles")
        strings_part = _by_type(relationships, "/sharedStrings")
        styles = _styles(book, names.get((styles_part or "").lower()))
        shared = _shared_strings(book, names.get((strings_part or "").lower()))
        with book.open(sheet) as stream:
            yield from _sheet_rows(stream, shared, styles, date1904, max_columns)


def read_xls_rows(path: str, max_columns: int) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of each row of an .xls file's first sheet that holds a value, the
    cells as read_rows gives them. Raises XlsxError."""
    import xlrd  # only for .xls: the child reading an .xlsx file stays standard library only

    try:
        # xlrd's warnings go to the parent's log, never into the rows written to stdout.
        book = xlrd.open_workbook(path, on_demand=True, logfile=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - xlrd raises many kinds for a broken file
        raise XlsxError("unreadable", detail=f"{type(exc).__name__}: {exc}"[:300]) from None
    try:
        if not book.nsheets:
            raise XlsxError("no_sheet")
        sheet = book.sheet_by_index(0)
        date1904 = book.datemode == 1
        for index in range(sheet.nrows):
            cells = [_xls_text(cell, date1904) for cell in sheet.row(index)]
            while cells and not cells[-1]:
                cells.pop()
            if not cells:
                continue
            if len(cells) > max_columns:
                raise XlsxError("columns", row=index + 1, column=len(cells), limit=max_columns)
            if sum(map(len, cells)) > MAX_ROW_CHARS:
                raise XlsxError("row_length", row=index + 1, limit=MAX_ROW_CHARS)
            yield index + 1, cells
    finally:
        book.release_resources()


# xlrd's cell types: empty, text, number, date, boolean, error, blank.
_XLS_EMPTY, _XLS_TEXT, _XLS_NUMBER, _XLS_DATE, _XLS_BOOLEAN = 0, 1, 2, 3, 4


def _xls_text(cell: Any, date1904: bool) -> str:
    kind, value = cell.ctype, cell.value
    if kind == _XLS_TEXT:
        return str(value)
    if kind == _XLS_NUMBER:
        return number_text(float(value))
    if kind == _XLS_DATE:
        return date_text(float(value), DATE, date1904) or number_text(float(value))
    if kind == _XLS_BOOLEAN:
        return "1" if value else "0"
    return ""  # empty, blank, or an error value (#N/A)


def _sheet_rows(
    stream: IO[bytes], shared: list[str], styles: list[int], date1904: bool, max_columns: int
) -> Iterator[tuple[int, list[str]]]:
    done: list[tuple[int, list[str]]] = []
    cells: dict[int, str] = {}
    parts: list[str] = []
    columns: dict[str, int] = {}  # column letters -> number, for the few a sheet uses
    # Where the parser is: the row and column numbers, the cell's type and style, whether text
    # is being collected (inside <v>, or <t> of an inline string but not of its phonetic run).
    row = column = row_chars = 0
    kind = "n"
    style: str | None = None
    collecting = phonetic = False
    # Element names as the sheet writes them: with the prefix of its root element, if any
    # ("x:c"), which the first call sets. Other prefixes (extensions) are not ours.
    C = V = T = ROW = RPH = ""

    def root(name: str, attrs: dict[str, str]) -> None:
        nonlocal C, V, T, ROW, RPH
        prefix = name[: name.index(":") + 1] if ":" in name else ""
        C, V, T, ROW, RPH = (prefix + n for n in ("c", "v", "t", "row", "rPh"))
        parser.StartElementHandler = start

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal row, column, row_chars, kind, style, collecting, phonetic
        if name == C:
            reference = attrs.get("r")
            if reference:
                letters = reference.rstrip("0123456789")
                number = columns.get(letters)
                if number is None:
                    number = column_number(letters)
                    if len(columns) < MAX_COLUMN_NUMBER:
                        columns[letters] = number
                column = number or column + 1
            else:
                column += 1
            kind = attrs.get("t", "n")
            style = attrs.get("s")
            parts.clear()
        elif name == V or (name == T and not phonetic):
            collecting = True
        elif name == ROW:
            written = attrs.get("r")
            if written is None:
                row += 1
            elif written.isdigit() and len(written) <= 7:
                row = int(written)
            else:
                row = 0
            if not 1 <= row <= MAX_ROW_NUMBER:
                raise XlsxError("row_number", row=str(written)[:20])
            column = row_chars = 0
            cells.clear()
        elif name == RPH:
            phonetic = True

    def end(name: str) -> None:
        nonlocal collecting, phonetic, row_chars
        if name == C:
            if not parts:
                return
            raw = "".join(parts)
            if kind == "s":
                value = _item(shared, raw, "")
            elif kind == "n" and style is None:
                try:
                    value = number_text(float(raw))
                except ValueError:
                    value = raw
            else:
                value = _cell_text(kind, raw, style, shared, styles, date1904)
            if value:
                if column > max_columns:
                    raise XlsxError("columns", row=row, column=column, limit=max_columns)
                row_chars += len(value)
                if row_chars > MAX_ROW_CHARS:
                    raise XlsxError("row_length", row=row, limit=MAX_ROW_CHARS)
                cells[column] = value
        elif name in (V, T):
            collecting = False
        elif name == ROW:
            if cells:
                line = [""] * max(cells)
                for number, value in cells.items():
                    line[number - 1] = value
                done.append((row, line))
        elif name == RPH:
            phonetic = False

    def text(data: str) -> None:
        if collecting:
            parts.append(data)

    parser = _parser()
    parser.StartElementHandler = root
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    for _pause in _feed(stream, parser):
        if done:
            yield from done
            done.clear()
    yield from done


# The first bytes of an OLE2 compound file, which an .xls workbook is.
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _reader_of(path: str) -> Callable[[str, int], Iterator[tuple[int, list[str]]]]:
    """read_xls_rows for an .xls file, read_rows for an .xlsx file, whatever the file is named
    (exports often name an .xlsx file .xls): by its first bytes, else by its suffix."""
    try:
        with open(path, "rb") as stream:
            start = stream.read(len(_OLE2))
    except OSError:
        start = b""
    if start == _OLE2 or (not start.startswith(b"PK") and path.lower().endswith(".xls")):
        return read_xls_rows
    return read_rows


def _refusal(exc: BaseException) -> dict[str, Any]:
    """The answer for an exception that ended the reading."""
    if isinstance(exc, XlsxError):
        return {"error": exc.code, **exc.params}
    if isinstance(exc, MemoryError) or (
        isinstance(exc, pyexpat.ExpatError)
        and exc.code == pyexpat.errors.codes[pyexpat.errors.XML_ERROR_NO_MEMORY]
    ):
        return {"error": "memory"}
    # Broken XML or deflate data, an encrypted part...: a reason, never a traceback.
    return {"error": "unreadable", "detail": f"{type(exc).__name__}: {exc}"[:300]}


def main(argv: list[str]) -> int:
    path, max_columns, memory, seconds = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    apply_limits(memory, seconds)
    out = open(sys.stdout.fileno(), "wb", buffering=CHUNK, closefd=False)  # noqa: SIM115
    try:
        try:
            for number, cells in _reader_of(path)(path, max_columns):
                out.write(json.dumps([number, cells], ensure_ascii=False).encode() + b"\n")
            answer: dict[str, Any] = {"end": True}
        except Exception as exc:  # noqa: BLE001 - whatever the file did, the parent hears why
            answer = _refusal(exc)
        out.write(json.dumps(answer).encode() + b"\n")
        out.flush()
    except BrokenPipeError:
        pass  # the parent stopped listening (a refused row, a table not read to its end)
    except MemoryError:
        return EXIT_MEMORY
    return 0


if __name__ == "__main__":
    try:
        status = main(sys.argv[1:])
    except MemoryError:
        status = EXIT_MEMORY
    # Skip the interpreter's clean-up: nothing is left to flush, and the parent may be gone.
    os._exit(status)

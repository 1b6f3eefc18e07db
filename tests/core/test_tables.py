"""Reading and writing spreadsheets: encodings, delimiters, the size limit, formula-safe output."""

from __future__ import annotations

import csv
import io
import itertools
import re

import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from grassroots.core import tables
from grassroots.core.tables import (
    FORMULA_PREFIXES,
    TableError,
    format_size,
    neutralize,
    read_table,
    write_table,
)

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
COUNTER = itertools.count()
HOSTILE_PIECES = [
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\x00",
    "\x01=cmd",
    "\x1b",
    "\u202e",
    "'; DROP TABLE x; --",
    '"',
    ",",
    ";",
    "\n",
    "中文",
    "＝1+1",
]
CELL = st.one_of(
    st.text(max_size=20),
    st.sampled_from(HOSTILE_PIECES),
    st.lists(st.sampled_from(HOSTILE_PIECES), max_size=3).map("".join),
)


def csv_bytes(rows, encoding="utf-8", delimiter=","):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode(encoding)


def read(tmp_path, data, suffix=".csv"):
    path = tmp_path / f"t{next(COUNTER)}{suffix}"
    path.write_bytes(data)
    table = read_table(path)
    return table, list(table.rows)


# Encodings


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_it_detects_utf8_with_or_without_bom_and_gb18030(tmp_path, encoding):
    table, rows = read(tmp_path, csv_bytes([["姓名", "地址"], ["赵光菊", "水东"]], encoding))
    assert table.encoding == encoding
    assert table.headers == ["姓名", "地址"]
    assert rows == [(2, ["赵光菊", "水东"])]


@pytest.mark.parametrize(
    "data",
    [
        "姓名,地址\n赵光菊,水东\n".encode("utf-16"),
        "name,address\ncafé,rue\n".encode("latin-1"),
        b"\xff\xfe\x00\x00garbage",
        bytes(range(256)),
    ],
    ids=["utf-16", "latin-1", "utf-32-ish", "binary"],
)
def test_it_refuses_other_encodings_with_a_clear_message(tmp_path, data):
    with pytest.raises(TableError) as info:
        read(tmp_path, data)
    assert "is neither UTF-8 nor GB18030 text; save it as CSV UTF-8 or as .xlsx" in str(info.value)


@BOUNDED
@given(
    rows=st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=4),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
@example(rows=[["a\x00b", "=1+1", "低保;残疾"]], encoding="utf-8")
def test_it_reads_back_every_cell_as_written(tmp_path, rows, encoding):
    # "中文" in the header: GB18030 bytes of it are not UTF-8, so the encoding is unambiguous.
    table, read_rows = read(tmp_path, csv_bytes([["中文", "b", "c"], *rows], encoding))
    assert table.encoding == encoding
    expected = [row for row in rows if any(cell.strip() for cell in row)]
    assert [cells for _number, cells in read_rows] == expected


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_it_takes_the_delimiter_from_the_header_line(tmp_path, delimiter):
    rows = [["姓名", "标签", "地址"], ["赵光菊", "低保;残疾", "水东, 1号"]]
    table, read_rows = read(tmp_path, csv_bytes(rows, delimiter=delimiter))
    assert table.headers == rows[0]
    assert read_rows == [(2, rows[1])]


def test_it_does_not_guess_the_delimiter_from_data_cells(tmp_path, monkeypatch, settings):
    # csv.Sniffer guessed from cells (tags hold semicolons) and its patterns take most of a
    # minute on 64 KiB of quotes and commas: a crafted file must not get that far.
    def refuse(*args, **kwargs):
        raise AssertionError("csv.Sniffer must not be used")

    monkeypatch.setattr(csv, "Sniffer", refuse)
    settings.IMPORT_MAX_COLUMNS = 65536  # the row has 32,769 cells
    hostile = ',"' * 32768
    table, read_rows = read(tmp_path, ("a,b\n" + hostile + "\n").encode())
    assert table.headers == ["a", "b"] and len(read_rows) == 1


def test_it_reads_a_one_megabyte_cell(tmp_path):
    huge = "赵" * (1024 * 1024)
    _table, read_rows = read(tmp_path, csv_bytes([["姓名", "地址"], [huge, "x"]]))
    assert read_rows == [(2, [huge, "x"])]


def test_it_names_the_row_of_a_cell_it_cannot_read(tmp_path, monkeypatch):
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(10)
        with pytest.raises(TableError) as info:
            read(tmp_path, csv_bytes([["a", "b"], ["1", "2"], ["x" * 20, "y"]]))
    finally:
        csv.field_size_limit(limit)
    assert re.fullmatch(
        r"t\d+\.csv: row 3 cannot be read as CSV: field larger than field limit \(10\)",
        str(info.value),
    )


# Rows and columns


def test_it_refuses_csv_rows_past_the_row_limit_naming_the_row_and_the_setting(tmp_path):
    data = csv_bytes([["a", "b"], ["1", "2"], ["", ""], ["3", "4"]])
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    assert [n for n, _cells in read_table(path, max_rows=3).rows] == [2, 4]
    with pytest.raises(TableError) as info:
        list(read_table(path, max_rows=2).rows)
    assert str(info.value) == (
        "r.csv: row 4 is past the limit of 2 rows per file (IMPORT_MAX_ROWS); split the file"
    )
    # Without max_rows (the command line) any number of rows is read.
    assert len(list(read_table(path).rows)) == 2


def test_empty_rows_past_the_row_limit_do_not_count(tmp_path):
    _table, rows = read(tmp_path, b"a,b\n1,2\n" + b",\n" * 100)
    assert rows == [(2, ["1", "2"])]
    path = tmp_path / "e.csv"
    path.write_bytes(b"a,b\n1,2\n" + b",\n" * 100)
    assert list(read_table(path, max_rows=1).rows) == [(2, ["1", "2"])]


def test_it_refuses_a_value_past_the_column_limit(tmp_path, settings):
    settings.IMPORT_MAX_COLUMNS = 3
    with pytest.raises(TableError) as info:
        read(tmp_path, csv_bytes([["a", "b"], ["1", "2", "", "", "x"]]))
    assert re.fullmatch(
        r"t\d+\.csv: row 2 has a value in column E, past the limit of 3 columns "
        r"\(IMPORT_MAX_COLUMNS\)",
        str(info.value),
    )
    with pytest.raises(TableError) as info:
        read(tmp_path, csv_bytes([["a", "b", "c", "d"], ["1"]]))
    assert "row 1 has a value in column D, past the limit of 3 columns" in str(info.value)
    # Empty cells past the limit (a spreadsheet's formatted columns) are dropped.
    table, rows = read(tmp_path, csv_bytes([["a", "b", "", "", ""], ["1", "2", "", " ", ""]]))
    assert table.headers == ["a", "b"] and rows == [(2, ["1", "2", ""])]


def test_a_line_of_commas_is_refused_before_it_becomes_a_million_cells(tmp_path):
    # 2 MiB of commas would be two million cells (some 16 MB) in one row, 256 MiB two hundred
    # million: the csv module builds a whole record before anything can count its cells.
    path = tmp_path / "c.csv"
    path.write_bytes(b"a,b\n1,2\n" + b"," * (3 * 1024 * 1024) + b"\n")
    with pytest.raises(TableError) as info:
        list(read_table(path).rows)
    assert str(info.value) == "c.csv: row 3 is longer than 2097152 characters"


def test_a_record_of_many_short_lines_is_refused_too(tmp_path):
    # Quoted newlines make one record of many lines: the length counts them all.
    path = tmp_path / "q.csv"
    path.write_bytes(b"a,b\n" + b'"\n",' * (1024 * 1024) + b"x\n")
    with pytest.raises(TableError) as info:
        list(read_table(path).rows)
    assert str(info.value) == "q.csv: row 2 is longer than 2097152 characters"


# The size limit


def test_it_refuses_a_file_larger_than_the_limit_before_reading_it(tmp_path, settings, monkeypatch):
    settings.IMPORT_MAX_BYTES = 100
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 50)  # 204 bytes

    def unread(*args, **kwargs):
        raise AssertionError("the file must not be read")

    monkeypatch.setattr(tables, "_detect_encoding", unread)
    monkeypatch.setattr(tables, "_xlsx_rows", unread)
    for name in ("big.csv", "big.xlsx"):
        path = path.rename(tmp_path / name)
        with pytest.raises(TableError) as info:
            read_table(path)
        assert str(info.value) == (
            f"{name} is 204 B, more than the import limit of 100 B (IMPORT_MAX_BYTES)"
        )


def test_it_reads_a_file_of_exactly_the_limit(tmp_path, settings):
    data = csv_bytes([["a", "b"], ["1", "2"]])
    settings.IMPORT_MAX_BYTES = len(data)
    assert read(tmp_path, data)[1] == [(2, ["1", "2"])]


def test_it_writes_sizes_for_people():
    assert [format_size(n) for n in (0, 1023, 1024, 1536, 50 * 1024 * 1024, 60_000_000)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "50.0 MiB",
        "57.2 MiB",
    ]


# Formula-safe output


@BOUNDED
@given(st.one_of(CELL, st.none(), st.integers(), st.floats()))
def test_it_neutralizes_any_cell_that_could_start_a_formula(value):
    safe = neutralize(value)
    text = "" if value is None else str(value)
    assert not safe.startswith(FORMULA_PREFIXES)
    assert safe in (text, "'" + text)
    assert neutralize(safe) == safe


@BOUNDED
@given(
    headers=st.lists(CELL, min_size=1, max_size=3),
    rows=st.lists(st.lists(st.one_of(CELL, st.integers()), min_size=3, max_size=3), max_size=3),
)
@example(headers=["=h"], rows=[["\x01=cmd", "-1", "@x"]])
def test_it_writes_csv_and_xlsx_that_open_without_formulas(tmp_path, headers, rows):
    n = next(COUNTER)
    write_table(tmp_path / f"e{n}.csv", headers, rows)
    text = (tmp_path / f"e{n}.csv").read_bytes().decode("utf-8-sig")
    read_back = list(csv.reader(io.StringIO(text, newline="")))
    assert read_back == [
        [neutralize(h) for h in headers],
        *[[neutralize(c) for c in r] for r in rows],
    ]

    write_table(tmp_path / f"e{n}.xlsx", headers, rows)
    sheet = openpyxl.load_workbook(tmp_path / f"e{n}.xlsx").active
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.value
            assert not str(cell.value or "").startswith(FORMULA_PREFIXES)

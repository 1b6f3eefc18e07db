""".xlsx files are read by a child process, a row at a time: cell texts as the import expects
them, rows numbered as the sheet numbers them, and crafted files (the far corner cell, a zip
bomb, a document type, a sheet that takes too much memory or time) refused with a reason while
the process that asked goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grassroots.core import tables, xlsx
from grassroots.core.tables import TableError, read_table

from .xlsx_files import MAIN, cell, far_corner, row, text_row, write_xlsx

ROOT = Path(__file__).resolve().parents[2]


def rows_of(path: Path, **kwargs):
    table = read_table(path, **kwargs)
    return table.headers, list(table.rows)


def refusal(path: Path, **kwargs) -> str:
    with pytest.raises(TableError) as info:
        rows_of(path, **kwargs)
    return str(info.value)


# What cells read as

DATE_FORMATS = [0, 14, 22, 20, 46, 31, 57, 164, 165, 166, 49]
CUSTOM = {164: 'yyyy"年"m"月"d"日"', 165: "0.00", 166: "[h]:mm"}


def style(number_format: int) -> int:
    return DATE_FORMATS.index(number_format)


@pytest.mark.parametrize(
    ("raw", "number_format", "text"),
    [
        ("13800138000", 0, "13800138000"),
        ("1.5", 0, "1.5"),
        ("0.30000000000000004", 0, "0.30000000000000004"),
        ("1e-7", 0, "1e-07"),
        ("123456789012345", 0, "123456789012345"),
        # An ID number typed as a number has lost its last digits: the validator must see so.
        ("350426196501011000", 0, "3.50426196501011e+17"),
        ("1234567890123456", 0, "1234567890123456.0"),
        ("23743", 14, "1965-01-01"),
        ("23743.5", 22, "1965-01-01T12:00:00"),
        ("0.5", 20, "12:00:00"),
        ("0.9999999", 20, "23:59:59.991000"),
        ("60", 14, "1900-02-28"),  # Excel's 29 February 1900
        ("61", 14, "1900-03-01"),
        ("1.5", 46, "1 day, 12:00:00"),
        ("23743", 31, "1965-01-01"),  # yyyy"年"m"月"d"日" of a Chinese Excel
        ("23743", 57, "1965-01-01"),
        ("23743", 164, "1965-01-01"),
        ("23743", 165, "23743"),
        ("0.25", 166, "6:00:00"),
        ("23743", 49, "23743"),  # text format (@)
        ("350426196501011000", 14, "3.50426196501011e+17"),  # no date: the number
        ("-5", 14, "-5"),
    ],
)
def test_it_reads_numbers_and_dates_as_the_import_expects(tmp_path, raw, number_format, text):
    path = write_xlsx(
        tmp_path / "n.xlsx",
        text_row(1, "值") + row(2, cell("A2", raw, style=style(number_format))),
        formats=DATE_FORMATS,
        custom_formats=CUSTOM,
    )
    assert rows_of(path) == (["值"], [(2, [text])])


def test_it_counts_dates_from_1904_when_the_workbook_says_so(tmp_path):
    path = write_xlsx(
        tmp_path / "d.xlsx",
        text_row(1, "日期") + row(2, cell("A2", "23743", style=1)),
        formats=[0, 14],
        date1904=True,
    )
    assert rows_of(path)[1] == [(2, ["1969-01-02"])]


def test_it_reads_every_kind_of_text_cell(tmp_path):
    shared = [
        "<si><t>共享</t></si>",
        # Rich text in runs; the phonetic reading (rPh) is no part of the text.
        "<si><r><t>富</t></r><r><rPr><b/></rPr><t>文本</t></r>"
        '<rPh sb="0" eb="1"><t>フ</t></rPh></si>',
        '<si><t xml:space="preserve">  空格  </t></si>',
        "<si><t>a_x000D_b_x005F_x0009_c</t></si>",
    ]
    cells = [
        cell("A2", "0", "s"),
        cell("B2", "1", "s"),
        cell("C2", "2", "s"),
        cell("D2", "3", "s"),
        cell("E2", "1", "b"),
        cell("F2", "0", "b"),
        cell("G2", "#N/A", "e"),
        '<c r="H2" t="str"><f>A1&amp;"x"</f><v>公式</v></c>',
        '<c r="I2" t="inlineStr"><is><r><t>行</t></r><r><t>内</t></r></is></c>',
        cell("J2", "2024-01-02T00:00:00", "d"),
        cell("K2", "2024-01-02T03:04:05", "d"),
        '<c r="L2" s="0"/>',  # styled, no value
        '<c r="M2"><f>1+1</f><v>2</v></c>',
    ]
    path = write_xlsx(tmp_path / "t.xlsx", text_row(1, "A") + row(2, *cells), shared=shared)
    assert rows_of(path)[1] == [
        (
            2,
            [
                "共享",
                "富文本",
                "  空格  ",
                "a\rb_x0009_c",
                "1",
                "0",
                "",
                "公式",
                "行内",
                "2024-01-02",
                "2024-01-02T03:04:05",
                "",
                "2",
            ],
        )
    ]


def test_it_reads_a_reference_to_no_shared_string_or_style_as_no_value_or_format(tmp_path):
    cells = [
        cell("A2", "-1", "s"),
        cell("B2", "9" * 5000, "s"),
        cell("C2", "7", "s"),
        '<c r="D2" s="-1"><v>23743</v></c>',
        '<c r="E2" s="x"><v>23743</v></c>',
    ]
    path = write_xlsx(
        tmp_path / "i.xlsx",
        text_row(1, "a") + row(2, *cells),
        shared=["<si><t>共享</t></si>"],
        formats=[0, 14],
    )
    assert rows_of(path)[1] == [(2, ["", "", "", "23743", "23743"])]


def test_it_numbers_rows_as_the_sheet_does(tmp_path):
    # Rows and cells without a reference follow the one before; absent rows are skipped; the
    # header is the first row holding a value.
    sheet = (
        row(3, cell("A3", "姓名", "inlineStr"), cell("C3", "地址", "inlineStr"))
        + row(None, cell("", "赵光菊", "inlineStr"), cell("", "x", "inlineStr"))
        + row(9, cell("C9", "水东", "inlineStr"))
    )
    path = write_xlsx(tmp_path / "r.xlsx", sheet)
    assert rows_of(path) == (
        ["姓名", "", "地址"],
        [(4, ["赵光菊", "x", ""]), (9, ["", "", "水东"])],
    )


def test_it_reads_a_sheet_written_with_a_namespace_prefix(tmp_path):
    path = write_xlsx(
        tmp_path / "p.xlsx", text_row(1, "a", "b") + text_row(2, "1", "2"), prefix="x"
    )
    assert rows_of(path) == (["a", "b"], [(2, ["1", "2"])])


def test_it_takes_no_notice_of_a_huge_declared_dimension(tmp_path):
    path = write_xlsx(
        tmp_path / "d.xlsx",
        text_row(1, "a", "b") + text_row(2, "1", "2"),
        dimension="A1:XFD1048576",
    )
    assert rows_of(path) == (["a", "b"], [(2, ["1", "2"])])


def test_many_empty_styled_rows_cost_nothing_and_count_for_no_limit(tmp_path):
    # Formatting applied down to the sheet's last row: 200,000 rows of styled empty cells.
    empty = "".join(
        f'<row r="{n}" s="1" customFormat="1"><c r="A{n}" s="1"/><c r="B{n}" s="1"/></row>'
        for n in range(3, 200_003)
    )
    path = write_xlsx(
        tmp_path / "e.xlsx", text_row(1, "a", "b") + text_row(2, "1", "2") + empty, formats=[0, 14]
    )
    assert rows_of(path, max_rows=1) == (["a", "b"], [(2, ["1", "2"])])


# Limits


def test_it_refuses_the_far_corner_cell_by_the_column_limit(tmp_path):
    path = far_corner(tmp_path / "far.xlsx")
    assert path.stat().st_size < 4096
    assert refusal(path) == (
        "far.xlsx: row 1048576 has a value in column XFD, past the limit of 256 columns "
        "(IMPORT_MAX_COLUMNS)"
    )


def test_the_process_that_reads_the_far_corner_file_survives(tmp_path):
    # The previous reader aborted the process (SIGABRT) here: run it as a server would.
    path = far_corner(tmp_path / "far.xlsx")
    code = (
        "import django; django.setup()\n"
        "from grassroots.core.tables import TableError, read_table\n"
        "try:\n"
        f"    list(read_table({str(path)!r}).rows)\n"
        "except TableError as exc:\n"
        "    print('refused:', exc)\n"
        "print('still serving')\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "grassroots.settings",
        "VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(ROOT / "src"),
        "LANGUAGE_CODE": "en",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "refused: far.xlsx: row 1048576 has a value in column XFD, past the limit of 256 "
        "columns (IMPORT_MAX_COLUMNS)",
        "still serving",
    ]


def test_the_column_limit_is_a_setting(tmp_path, settings):
    path = write_xlsx(tmp_path / "c.xlsx", text_row(1, "a", "b", "c") + text_row(2, "1", "2", "3"))
    settings.IMPORT_MAX_COLUMNS = 3
    assert rows_of(path)[1] == [(2, ["1", "2", "3"])]
    settings.IMPORT_MAX_COLUMNS = 2
    assert refusal(path) == (
        "c.xlsx: row 1 has a value in column C, past the limit of 2 columns (IMPORT_MAX_COLUMNS)"
    )


def test_it_refuses_rows_past_the_row_limit_naming_the_row_and_the_setting(tmp_path):
    path = write_xlsx(
        tmp_path / "r.xlsx",
        text_row(1, "a") + text_row(2, "1") + text_row(3, "2") + text_row(5, "3"),
    )
    assert len(rows_of(path, max_rows=4)[1]) == 3
    assert refusal(path, max_rows=3) == (
        "r.xlsx: row 5 is past the limit of 3 rows per file (IMPORT_MAX_ROWS); split the file"
    )


def test_it_refuses_a_row_longer_than_a_csv_record_may_be(tmp_path):
    path = write_xlsx(
        tmp_path / "l.xlsx", text_row(1, "a", "b") + text_row(2, "x" * 2_000_000, "y" * 200_000)
    )
    assert refusal(path) == "l.xlsx: row 2 is longer than 2097152 characters"


def test_it_refuses_a_zip_bomb_before_reading_it(tmp_path):
    # 70 MB of spaces in the sheet pack into 70 KB: a thousandfold.
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData>' + " " * 70_000_000 + "</sheetData></worksheet>"
    ).encode()
    path = write_xlsx(tmp_path / "bomb.xlsx", sheet=sheet)
    size = path.stat().st_size
    assert size < 200_000
    assert refusal(path) == (
        "bomb.xlsx unpacks to 66.8 MiB, more than 100 times its size: it is refused as a "
        "possible zip bomb"
    )


def test_it_refuses_a_file_of_too_many_parts(tmp_path):
    path = write_xlsx(
        tmp_path / "parts.xlsx",
        text_row(1, "a"),
        extra={f"xl/media/{i}.bin": b"" for i in range(xlsx.MAX_PARTS)},
    )
    assert refusal(path) == (
        "parts.xlsx holds 10007 parts, more than the 10000 an .xlsx file of a table could need"
    )


def test_it_refuses_a_document_type_declaration(tmp_path):
    # The start of "a billion laughs": entities that expand a thousandfold at each level.
    sheet = (
        '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr">'
        "<is><t>&b;</t></is></c></row></sheetData></worksheet>"
    ).encode()
    path = write_xlsx(tmp_path / "dtd.xlsx", sheet=sheet)
    assert refusal(path) == (
        "dtd.xlsx is not a readable .xlsx file: a part of it declares a document type"
    )


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a zip", b""])
def test_it_refuses_a_file_that_is_no_zip(tmp_path, content):
    path = tmp_path / "x.xlsx"
    path.write_bytes(content)
    assert refusal(path) == (
        "x.xlsx is not a readable .xlsx file: BadZipFile: File is not a zip file"
    )


def test_it_refuses_a_zip_without_a_workbook(tmp_path):
    path = tmp_path / "z.xlsx"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("readme.txt", "hello")
    assert refusal(path) == "z.xlsx is not a readable .xlsx file: it holds no workbook"


def test_it_refuses_a_workbook_without_a_worksheet(tmp_path):
    path = write_xlsx(tmp_path / "w.xlsx", text_row(1, "a"))
    with zipfile.ZipFile(path, "a") as book:
        # A second, empty relationships part: found first by its lower-case name.
        book.writestr("XL/_RELS/WORKBOOK.XML.RELS", "<Relationships/>")
    assert refusal(path) == "w.xlsx is not a readable .xlsx file: it holds no worksheet"


@pytest.mark.parametrize("number", ["0", "1048577", "-1", "9" * 5000])
def test_it_refuses_a_row_number_no_spreadsheet_has(tmp_path, number):
    path = write_xlsx(tmp_path / "n.xlsx", text_row(1, "a") + row(number, cell("", "1")))
    assert refusal(path) == (
        f"n.xlsx is not a readable .xlsx file: {number[:20]} is no row number of a spreadsheet"
    )


def test_it_refuses_broken_xml_with_the_parsers_reason(tmp_path):
    path = write_xlsx(tmp_path / "b.xlsx", sheet=b"<worksheet><sheetData><row>")
    assert refusal(path) == (
        "b.xlsx is not a readable .xlsx file: ExpatError: no element found: line 1, column 27"
    )


def test_it_refuses_a_file_that_needs_more_memory_than_the_reader_may_use(tmp_path, settings):
    # 1.5 million shared strings (27 MB, 30 KB packed) take some 90 MB as Python strings.
    path = write_xlsx(
        tmp_path / "m.xlsx", text_row(1, "a"), shared=["<si><t>ab</t></si>"] * 1_500_000
    )
    settings.IMPORT_READER_MEMORY = 64 * 1024 * 1024
    assert (
        refusal(path) == "m.xlsx needs more than 64.0 MiB of memory to read (IMPORT_READER_MEMORY)"
    )
    settings.IMPORT_READER_MEMORY = 1024**3
    assert rows_of(path)[0] == ["a"]


def test_it_refuses_a_file_that_takes_more_time_than_the_reader_may_use(tmp_path, settings):
    # Fifteen million empty cells (60 MB, 60 KB packed): some seconds of parsing.
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'
        + "<c/>" * 15_000_000
        + "</row></sheetData></worksheet>"
    ).encode()
    path = write_xlsx(tmp_path / "slow.xlsx", sheet=sheet)
    settings.IMPORT_READER_SECONDS = 1
    assert refusal(path) == "slow.xlsx takes more than 1 seconds to read (IMPORT_READER_SECONDS)"


def test_a_reader_that_crashes_is_a_refusal_not_a_crash(tmp_path, monkeypatch, caplog):
    path = write_xlsx(tmp_path / "a.xlsx", text_row(1, "a"))

    def abort(path: Path) -> list[str]:
        return [
            sys.executable,
            "-c",
            "import os, resource as r; r.setrlimit(r.RLIMIT_CORE, (0, 0)); os.abort()",
        ]

    monkeypatch.setattr(tables, "_reader_command", abort)
    assert refusal(path) == "a.xlsx could not be read: the reader stopped unexpectedly (SIGABRT)"
    assert f"the .xlsx reader of {path} ended with -6" in caplog.text


def test_a_reader_that_cannot_start_is_a_refusal(tmp_path, monkeypatch):
    path = write_xlsx(tmp_path / "a.xlsx", text_row(1, "a"))
    monkeypatch.setattr(tables, "_reader_command", lambda path: [str(tmp_path / "no-python")])
    assert refusal(path) == (
        "a.xlsx could not be read: the reader did not start ([Errno 2] No such file or "
        f"directory: '{tmp_path / 'no-python'}')"
    )


def test_the_reader_stops_when_the_table_is_not_read_to_its_end(tmp_path, monkeypatch):
    # 50,000 rows: more than the pipe and the reader's buffer hold.
    path = write_xlsx(tmp_path / "s.xlsx", [text_row(n, str(n)) for n in range(1, 50_000)])
    started = []
    popen = subprocess.Popen

    def spy(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", spy)
    table = read_table(path)
    assert next(table.rows) == (2, ["2"])
    [child] = started
    assert child.poll() is None  # still reading, held back by the pipe
    del table
    assert child.returncode is not None


def test_the_reader_runs_alone_from_any_folder_without_the_environment(tmp_path):
    # As from an installed wheel: the file by its path, in isolated mode, no PYTHONPATH.
    path = write_xlsx(tmp_path / "w.xlsx", text_row(1, "姓名") + text_row(2, "赵光菊"))
    command = tables._reader_command(path)
    assert command[:3] == [sys.executable, "-I", str(Path(xlsx.__file__))]
    done = subprocess.run(command, cwd=tmp_path, env={}, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        [1, ["姓名"]],
        [2, ["赵光菊"]],
        {"end": True},
    ]


def test_the_reader_limits_its_own_memory_and_time():
    code = (
        "import resource, sys\n"
        f"sys.path.insert(0, {str(Path(xlsx.__file__).parent)!r})\n"
        "import xlsx\n"
        "xlsx.apply_limits(100 * 2**20, 7)\n"
        "print(resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CPU))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == f"({100 * 2**20}, {100 * 2**20}) (7, 12)"


# The old binary .xls (Excel 97-2003): read by xlrd in the same child process


def write_xls(path: Path, rows: list[list[object]], styles: dict[int, str] | None = None) -> Path:
    """An .xls file (xlwt) of `rows`; `styles` gives a number format to columns by index."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    formats = {c: xlwt.easyxf(num_format_str=f) for c, f in (styles or {}).items()}
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            if value is not None:
                sheet.write(r, c, value, *([formats[c]] if c in formats else []))
    book.save(str(path))
    return path


def test_it_reads_an_xls_file_as_it_reads_an_xlsx_file(tmp_path):
    import datetime

    path = write_xls(
        tmp_path / "r.xls",
        [
            ["姓名", "身份证号", "手机号", "迁出日期", "在册"],
            ["张三", "110105194912310021", 13800138000, datetime.date(2020, 3, 5), True],
            [],
            ["=李四", None, 1.5, datetime.datetime(2020, 3, 5, 12, 0), False],
        ],
        styles={3: "YYYY-MM-DD"},
    )
    headers, rows = rows_of(path)
    assert headers == ["姓名", "身份证号", "手机号", "迁出日期", "在册"]
    # Numbers as digits, dates as ISO dates, booleans as 1/0; the empty row is skipped.
    assert rows == [
        (2, ["张三", "110105194912310021", "13800138000", "2020-03-05", "1"]),
        (4, ["=李四", "", "1.5", "2020-03-05T12:00:00", "0"]),
    ]
    assert read_table(path).encoding is None


def test_it_refuses_an_xls_file_it_cannot_read_with_a_reason(tmp_path):
    path = tmp_path / "x.xls"
    path.write_bytes(b"<html>an export that is no workbook</html>")
    assert refusal(path) == (
        "x.xls is not a readable .xls file: XLRDError: Unsupported format, or corrupt file: "
        "Expected BOF record; found b'<html>an'"
    )


def test_it_reads_an_xlsx_file_named_xls_by_what_it_holds(tmp_path):
    # Exports often name an .xlsx file .xls (and the reverse).
    xlsx_named_xls = write_xlsx(tmp_path / "a.xls", [text_row(1, "code", "name")])
    assert rows_of(xlsx_named_xls) == (["code", "name"], [])
    xls_named_xlsx = write_xls(tmp_path / "b.xlsx", [["code", "name"], ["350426", "尤溪县"]])
    assert rows_of(xls_named_xlsx) == (["code", "name"], [(2, ["350426", "尤溪县"])])


def test_it_refuses_an_xls_value_past_the_column_limit(tmp_path, settings):
    settings.IMPORT_MAX_COLUMNS = 3
    path = write_xls(tmp_path / "w.xls", [["a", "b", "c"], ["1", None, None, None, "x"]])
    assert refusal(path) == (
        "w.xls: row 2 has a value in column E, past the limit of 3 columns (IMPORT_MAX_COLUMNS)"
    )


def test_it_reads_an_xls_file_in_the_child_under_its_limits(tmp_path, monkeypatch):
    seen = []
    command = tables._reader_command

    def spy(path):
        seen.append(path)
        return command(path)

    monkeypatch.setattr(tables, "_reader_command", spy)
    path = write_xls(tmp_path / "c.xls", [["code", "name"], ["350426", "尤溪县"]])
    assert rows_of(path)[1] == [(2, ["350426", "尤溪县"])]
    assert seen == [path]

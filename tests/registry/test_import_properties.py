"""Property tests: whatever the cells hold, an import either reports problems and writes
nothing, or writes every row; it never crashes."""

from __future__ import annotations

import csv
import io
import itertools

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from grassroots.core.tables import Table
from grassroots.core.text import clean_text, compact
from grassroots.core.validators import validate_name
from grassroots.registry.imports import import_households, import_residents
from grassroots.registry.models import Household, Resident
from tests import factories as f

HOSTILE_PIECES = [
    "",
    " ",
    "'; DROP TABLE registry_resident; --",
    "1 OR 1=1",
    "' UNION SELECT id_number FROM registry_resident --",
    '=HYPERLINK("http://x")',
    "=1+1",
    "+86",
    "-0",
    "@SUM(A1)",
    "\x00",
    "\x01\x1b[2J",
    "\x7f\x9f",
    "\r\n",
    "\u202e",
    "\u200f",
    "\u200b",
    "\ufeff",
    "\u3000",
    "ｘ",
    "１３８００１３８０００",
    "٣٥٠٤٢٦",
    "NaN",
    "1e308",
    "350426199001011235",
    "350426100001001",
    "HA11-1",
    "户主",
    "户籍",
    "低保;;；",
    "2024-02-30",
]
HOSTILE = st.one_of(
    st.text(max_size=30),
    st.sampled_from(HOSTILE_PIECES),
    st.lists(st.sampled_from(HOSTILE_PIECES), max_size=3).map("".join),
)
BOUNDED = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MEGABYTE = 1024 * 1024
COUNTER = itertools.count()

RESIDENT_HEADERS = ["姓名", "身份证号", "手机号", "户编号", "与户主关系", "居住类型", "标签"]
HOUSEHOLD_HEADERS = ["户编号", "地址", "网格编码", "经度", "纬度", "标签"]


def table(headers, rows):
    return Table(headers=headers, rows=iter((n, r) for n, r in enumerate(rows, start=2)))


def snapshot(model):
    return sorted(model.objects.values_list(*[f.attname for f in model._meta.concrete_fields]))


def assert_all_or_nothing(importer, model, headers, rows, source=None):
    """Problems (each naming a row of the file and one of its columns) and nothing written, or
    no problem and every row written."""
    before = snapshot(model)
    result = importer(source if source is not None else table(headers, rows))
    after = snapshot(model)
    if result.problems:
        assert after == before
        for p in result.problems:
            assert 2 <= p.row <= len(rows) + 1, p
            assert p.column in headers, p
            assert p.reason.strip(), p
    else:
        assert len(after) - len(before) == result.created
        assert result.created + result.updated + result.unchanged == result.rows
    return result


@BOUNDED
@given(st.lists(st.lists(HOSTILE, min_size=7, max_size=7), min_size=1, max_size=4))
def test_it_never_crashes_or_half_writes_residents(world, rows):
    assert_all_or_nothing(import_residents, Resident, RESIDENT_HEADERS, rows)


@BOUNDED
@given(st.lists(st.lists(HOSTILE, min_size=6, max_size=6), min_size=1, max_size=4))
def test_it_never_crashes_or_half_writes_households(world, rows):
    assert_all_or_nothing(import_households, Household, HOUSEHOLD_HEADERS, rows)


@BOUNDED
@given(name=st.text(min_size=1, max_size=20).filter(lambda s: s.strip()))
def test_it_stores_any_printable_name_with_a_valid_id_number(world, name):
    number = f.id_number()
    result = import_residents(table(["姓名", "身份证号"], [[name, number]]))
    if not result.problems:
        stored = Resident.objects.with_id_number(number).get()
        assert stored.name and len(stored.name) <= 50
        assert "\x00" not in stored.name


# Through real files: CSV in each accepted encoding, cells quoted as a spreadsheet writes them.


def csv_file(tmp_path, headers, rows, encoding):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    path = tmp_path / f"import-{next(COUNTER)}.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "gb18030"])


@BOUNDED
@given(
    rows=st.lists(st.lists(HOSTILE, min_size=7, max_size=7), min_size=1, max_size=4),
    encoding=ENCODINGS,
)
def test_it_never_crashes_or_half_writes_residents_from_a_file(world, tmp_path, rows, encoding):
    rows = [row for row in rows if any(c.strip() for c in row)] or [["甲", *[""] * 6]]
    path = csv_file(tmp_path, RESIDENT_HEADERS, rows, encoding)
    assert_all_or_nothing(import_residents, Resident, RESIDENT_HEADERS, rows, source=path)


@BOUNDED
@given(
    rows=st.lists(st.lists(HOSTILE, min_size=6, max_size=6), min_size=1, max_size=4),
    encoding=ENCODINGS,
)
def test_it_never_crashes_or_half_writes_households_from_a_file(world, tmp_path, rows, encoding):
    rows = [row for row in rows if any(c.strip() for c in row)] or [["H", *[""] * 5]]
    path = csv_file(tmp_path, HOUSEHOLD_HEADERS, rows, encoding)
    assert_all_or_nothing(import_households, Household, HOUSEHOLD_HEADERS, rows, source=path)


# Valid rows whose free text is hostile: every row is written, cleaned, or every problem named.

FREE_TEXT = HOSTILE.filter(lambda s: 0 < len(clean_text(s)) <= 50)


def _not_plain(name: str) -> bool:
    try:
        validate_name(clean_text(name))
    except ValidationError:
        return True
    return False


@BOUNDED
@given(
    rows=st.lists(
        st.tuples(
            FREE_TEXT,
            st.sampled_from(["", " ", "\u3000"]),
            st.sampled_from(["HA11-1", "HA11-2", "ＨＡ１１-１"]),
            st.sampled_from(["户主", "子女", "其他", "", "=1+1"]),
        ),
        min_size=1,
        max_size=4,
    ),
    encoding=ENCODINGS,
)
@example(
    rows=[("赵\x00光菊", "", "HA11-1", "户主"), ("\u202e李白", " ", "HA11-2", "子女")],
    encoding="gb18030",
)
def test_it_writes_every_valid_resident_with_a_cleaned_name(world, tmp_path, rows, encoding):
    numbers = [f.id_number() for _row in rows]
    cells = [
        [name, spaces + number + spaces, "", household, relation, "户籍", ""]
        for (name, spaces, household, relation), number in zip(rows, numbers, strict=True)
    ]
    path = csv_file(tmp_path, RESIDENT_HEADERS, cells, encoding)
    result = assert_all_or_nothing(import_residents, Resident, RESIDENT_HEADERS, cells, source=path)
    if result.problems:
        # Only =1+1 as a relation, and names holding markup or text-direction marks, are refused.
        for problem in result.problems:
            if problem.column == "姓名":
                assert problem.reason.startswith("A name may not contain")
                assert _not_plain(rows[problem.row - 2][0])
            else:
                assert problem.column == "与户主关系"
        return
    for (name, _s, household, _r), number in zip(rows, numbers, strict=True):
        stored = Resident.objects.with_id_number(number).get()
        assert stored.name == clean_text(name)
        assert stored.household.code == compact(household)


@BOUNDED
@given(
    rows=st.lists(
        st.tuples(st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,11}", fullmatch=True), FREE_TEXT),
        min_size=1,
        max_size=4,
        unique_by=lambda row: row[0],
    )
)
@example(rows=[("X1", "'; DROP TABLE registry_household; --"), ("X2", "=1+1\x00")])
def test_it_writes_every_valid_household_with_a_cleaned_address(world, tmp_path, rows):
    cells = [[code, address, "350426100001001", "", "", ""] for code, address in rows]
    path = csv_file(tmp_path, HOUSEHOLD_HEADERS, cells, "utf-8")
    result = assert_all_or_nothing(
        import_households, Household, HOUSEHOLD_HEADERS, cells, source=path
    )
    assert not result.problems
    for code, address in rows:
        assert Household.objects.get(code=code).address == clean_text(address)


# One-megabyte cells: a few explicit examples, one per column.

HUGE = {
    "digits": "9" * MEGABYTE,
    "chinese": "赵" * MEGABYTE,
    "nul": "\x00" * MEGABYTE,
    "sql": ("'; DROP TABLE registry_resident; --" * (MEGABYTE // 35 + 1))[:MEGABYTE],
}


def assert_named(result, column, huge):
    """The problem names row 2 and the column; a megabyte of NUL is an empty cell instead."""
    if not clean_text(huge):
        assert all(p.row == 2 for p in result.problems)
        return
    assert [(p.row, p.column) for p in result.problems] == [(2, column)]


@pytest.mark.parametrize("huge", HUGE.values(), ids=HUGE.keys())
def test_it_names_a_one_megabyte_cell_in_every_resident_column(world, tmp_path, huge):
    good = ["甲", f.id_number(), "13800138000", "HA11-1", "子女", "户籍", ""]
    for column in range(len(RESIDENT_HEADERS)):
        row = list(good)
        row[column] = huge
        path = csv_file(tmp_path, RESIDENT_HEADERS, [row], "utf-8")
        result = assert_all_or_nothing(
            import_residents, Resident, RESIDENT_HEADERS, [row], source=path
        )
        assert_named(result, RESIDENT_HEADERS[column], huge)


@pytest.mark.parametrize("huge", HUGE.values(), ids=HUGE.keys())
def test_it_names_a_one_megabyte_cell_in_every_household_column(world, tmp_path, huge):
    good = ["X1", "某村某组", "350426100001001", "118.105", "26.105", ""]
    for column in range(len(HOUSEHOLD_HEADERS)):
        row = list(good)
        row[column] = huge
        path = csv_file(tmp_path, HOUSEHOLD_HEADERS, [row], "utf-8")
        result = assert_all_or_nothing(
            import_households, Household, HOUSEHOLD_HEADERS, [row], source=path
        )
        assert_named(result, HOUSEHOLD_HEADERS[column], huge)

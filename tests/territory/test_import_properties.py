"""Property tests of the unit and grid importers: whatever the file holds, an import either
reports problems (each naming its row or feature) and writes nothing, or writes every row."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from grassroots.core.tables import TableError
from grassroots.core.text import clean_text, compact
from grassroots.territory.imports import NAME_MAX_LENGTH, import_grids, import_units
from grassroots.territory.models import Grid, Unit
from tests.factories import square

BOUNDED = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MEGABYTE = 1024 * 1024

HOSTILE_PIECES = [
    "",
    " ",
    "'; DROP TABLE territory_unit; --",
    "1 OR 1=1",
    "\x00",
    "\x01\x1b[2J",
    "\u202e",
    "\u200f",
    "\u3000",
    "=1+1",
    "@SUM(A1)",
    "+1",
    "-1",
    "３５０４２６",
    "٣٥٠٤٢٦",
    "350426",
    "村",
    "社区",
    "街道",
    "county",
]
HOSTILE = st.one_of(
    st.text(max_size=20),
    st.sampled_from(HOSTILE_PIECES),
    st.lists(st.sampled_from(HOSTILE_PIECES), max_size=4).map("".join),
)
# Codes under the world's county (350426, with town 350426100 and village 350426100001) and
# next to it, in ASCII digits or in other scripts' digits.
NEAR_CODE = st.one_of(
    st.sampled_from(["35", "3504", "350426", "350427", "350426100", "350426100001"]).flatmap(
        lambda prefix: st.text(alphabet="0123456789", max_size=6).map(lambda tail: prefix + tail)
    ),
    st.text(alphabet="0123456789٣５", min_size=1, max_size=12),
)
COUNTER = itertools.count()

ROW_PROBLEM = re.compile(r"^row (\d+): (code|name|level): .+", re.DOTALL)
FEATURE_PROBLEM = re.compile(r"\[feature (\d+)\]: .+", re.DOTALL)


def units_file(tmp_path, rows, encoding="utf-8"):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["code", "name", "level"])
    writer.writerows(rows)
    path = tmp_path / f"units-{next(COUNTER)}.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def assert_units_all_or_nothing(path, rows):
    before = {u.code: u.name for u in Unit.objects.all()}
    try:
        result = import_units(path)
    except TableError as exc:
        # The file as a whole is refused (e.g. the header row is broken): a message, no write.
        assert str(exc)
        result = None
    after = {u.code: u.name for u in Unit.objects.all()}
    if result is None or result.problems:
        assert after == before
        for problem in result.problems if result else []:
            match = ROW_PROBLEM.match(str(problem))
            assert match, problem
            assert 2 <= int(match[1]) <= len(rows) + 1
        return
    # Every row is written, its code in ASCII digits and its name cleaned (blank rows skipped).
    for code, name, *_level in (row for row in rows if any(c.strip() for c in row)):
        assert after[compact(code)] == clean_text(name)
        assert compact(code).isascii() and compact(code).isdigit()
    assert result.created == len(set(after) - set(before))


@BOUNDED
@given(rows=st.lists(st.tuples(st.one_of(NEAR_CODE, HOSTILE), HOSTILE, HOSTILE), max_size=5))
@example(rows=[("350426100٠٠٢", "阿拉伯数字村", "村")])  # other scripts' digits
@example(rows=[("350426100003", "=1+1", "")])
def test_it_imports_units_or_reports_every_bad_row(world, tmp_path, rows):
    assert_units_all_or_nothing(units_file(tmp_path, rows), rows)


@BOUNDED
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["350426100", "350426101"]).flatmap(
                lambda town: st.from_regex(r"[0-9]{3}", fullmatch=True).map(lambda n: town + n)
            ),
            HOSTILE.filter(lambda s: clean_text(s)),
            st.sampled_from(["", "村", "社区", "village"]),
        ),
        min_size=1,
        max_size=5,
        unique_by=lambda row: row[0],
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_it_writes_every_valid_unit_whatever_its_name_holds(world, tmp_path, rows, encoding):
    assert_units_all_or_nothing(units_file(tmp_path, rows, encoding), rows)


# Grids

GEOMETRY = st.one_of(
    st.builds(
        square,
        st.floats(117.0, 119.0),
        st.floats(25.0, 27.0),
        st.sampled_from([0.001, 0.01, 0.5]),
    ),
    st.sampled_from(
        [
            None,
            {},
            [],
            "Polygon",
            {"type": "Polygon"},
            {"type": "Polygon", "coordinates": []},
            {"type": "Polygon", "coordinates": [[]]},
            {"type": "Polygon", "coordinates": [[[1, 2]]]},
            {"type": "Polygon", "coordinates": "x"},
            {"type": "Polygon", "coordinates": [[["a", "b"], [1, 2], [3, 4], ["a", "b"]]]},
            {"type": "Polygon", "coordinates": [[[float("nan"), 0], [1, 0], [1, 1], [0, 0]]]},
            {"type": "Polygon", "coordinates": [[[1e308, 0], [1, 0], [1, 1], [1e308, 0]]]},
            {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]},
            {"type": "Point", "coordinates": [118, 26]},
            {"type": "GeometryCollection", "geometries": []},
        ]
    ),
)
GRID_CODE = st.one_of(
    st.sampled_from(["350426100001", "350426100002", "350426101201", "350426999999"]).flatmap(
        lambda village: st.from_regex(r"[0-9]{3}", fullmatch=True).map(lambda n: village + n)
    ),
    st.just("350426100001٠٠٩"),
    HOSTILE,
)
SCALAR = st.one_of(HOSTILE, st.integers(), st.floats(), st.none(), st.booleans())
PROPERTIES = st.one_of(
    st.fixed_dictionaries(
        {"code": GRID_CODE, "name": HOSTILE},
        optional={"kind": st.one_of(st.sampled_from(["综合", "专属", "dedicated", ""]), SCALAR)},
    ),
    st.dictionaries(st.sampled_from(["code", "name", "kind"]), SCALAR, max_size=3),
    SCALAR,
    st.lists(SCALAR, max_size=2),
)
FEATURE = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("Feature"), "properties": PROPERTIES, "geometry": GEOMETRY}
    ),
    SCALAR,
    st.lists(SCALAR, max_size=2),
)


def grids_file(tmp_path, features):
    path = tmp_path / f"grids-{next(COUNTER)}.geojson"
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


@BOUNDED
@given(features=st.lists(FEATURE, max_size=5))
@example(features=[1, "x", None, [], {"properties": []}])
@example(
    features=[
        {
            "type": "Feature",
            "properties": {"code": "350426100001٠٠٩", "name": "阿拉伯数字网格"},
            "geometry": square(118.5, 26.5),
        }
    ]
)
def test_it_imports_grids_or_reports_every_bad_feature(world, tmp_path, features):
    before = set(Grid.objects.values_list("code", "name"))
    result = import_grids(grids_file(tmp_path, features))
    after = set(Grid.objects.values_list("code", "name"))
    if result.problems:
        assert after == before
        for problem in result.problems:
            match = FEATURE_PROBLEM.search(str(problem))
            assert match, problem
            assert 1 <= int(match[1]) <= len(features)
        return
    written = {
        (compact(f["properties"]["code"]), clean_text(f["properties"]["name"])) for f in features
    }
    assert written <= after
    assert all(code.isascii() and code.isdigit() for code, _name in after)
    assert result.created == len({c for c, _n in after} - {c for c, _n in before})


@pytest.mark.parametrize(
    "huge",
    [
        "9" * MEGABYTE,
        "村" * MEGABYTE,
        "\x00" * MEGABYTE,
        ("'; DROP TABLE x; --" * 60000)[:MEGABYTE],
    ],
    ids=["digits", "chinese", "nul", "sql"],
)
def test_it_refuses_one_megabyte_cells_without_failing(world, tmp_path, huge):
    for rows in ([(huge, "名", "")], [("350426100009", huge, "")], [("350426100009", "名", huge)]):
        path = units_file(tmp_path, rows)
        assert_units_all_or_nothing(path, rows)
    features = [
        {"type": "Feature", "properties": {"code": huge, "name": "网格"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "350426100001009", "name": huge}},
    ]
    result = import_grids(grids_file(tmp_path, features))
    assert result.problems and Grid.objects.count() == 4


def test_it_refuses_a_name_longer_than_the_database_holds(world, tmp_path):
    # SQLite would store it and PostgreSQL fail on it: the importer says so first.
    assert Unit._meta.get_field("name").max_length == NAME_MAX_LENGTH
    assert Grid._meta.get_field("name").max_length == NAME_MAX_LENGTH
    long = "村" * (NAME_MAX_LENGTH + 1)
    result = import_units(units_file(tmp_path, [("350426100009", long, "")]))
    assert [str(p) for p in result.problems] == ["row 2: name: name is longer than 100 characters"]
    feature = {
        "type": "Feature",
        "properties": {"code": "350426100001009", "name": long},
        "geometry": square(118.5, 26.5),
    }
    result = import_grids(grids_file(tmp_path, [feature]))
    assert [str(p) for p in result.problems] == [
        f"grid 350426100001009 ({long}) [feature 1]: name is longer than 100 characters"
    ]
    assert (Unit.objects.count(), Grid.objects.count()) == (6, 4)

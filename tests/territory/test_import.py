"""grassroots import units / grids."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.territory.geometry import GridIndex, parse_polygon
from grassroots.territory.models import Grid, Unit
from tests.factories import square


def run(*args):
    out = io.StringIO()
    try:
        call_command("import", *[str(a) for a in args], stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def run_raising(*args):
    out = io.StringIO()
    call_command("import", *[str(a) for a in args], stdout=out, stderr=io.StringIO())
    return out.getvalue()


def feature(code, name, polygon, kind="综合"):
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "kind": kind},
        "geometry": polygon,
    }


def write_grids(path, *features):
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False)
    )
    return path


def test_it_imports_units_deriving_parents_and_levels(db, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(
        "code,name,level\n350426,尤溪县,区县\n350426100,城关镇,\n350426001,城关街道,街道\n350426100001,水东社区,社区\n350426100201,半山村,村\n"
    )
    assert run("units", path) == (0, "units: created 5, updated 0, unchanged 0\n")
    village = Unit.objects.get(code="350426100201")
    assert (
        village.parent.code == "350426100"
        and village.level == "village"
        and village.kind == "village"
    )
    assert Unit.objects.get(code="350426001").kind == "street"
    assert Unit.objects.get(code="350426100001").kind == "community"
    assert Unit.objects.get(code="350426").parent is None
    assert run("units", path)[1] == "units: created 0, updated 0, unchanged 5\n"


def test_it_refuses_units_with_bad_codes_levels_or_missing_parents(db, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(
        "code,name,level\n350426,尤溪县,\n35042610,坏,\n350426999001,孤村,村\n350426100,城关镇,村\n"
    )
    code, out = run("units", path)
    assert code == 1
    # Listed by row, like every import's problems (the parent check comes after the rows).
    assert out.splitlines() == [
        "row 3: code: code 35042610 must be 2, 4, 6, 9 or 12 digits",
        "row 4: code: parent unit 350426999 does not exist (import it first or in the same file)",
        "row 5: level: a 9-digit code is a town, not a village",
    ]
    assert not Unit.objects.exists()


def test_it_imports_grids_and_checks_them(db, tmp_path):
    Unit.objects.create(code="350426", name="尤溪县", level="county", kind="county")
    town = Unit.objects.create(
        code="350426100",
        name="城关镇",
        level="town",
        kind="town",
        parent=Unit.objects.get(code="350426"),
    )
    Unit.objects.create(
        code="350426100001", name="水东社区", level="village", kind="community", parent=town
    )
    path = write_grids(
        tmp_path / "g.geojson",
        feature("350426100001001", "一网格", square(118.0, 26.0)),
        feature("350426100001002", "二网格", square(118.01, 26.0), kind="专属"),
    )
    assert run("grids", path) == (0, "grids: created 2, updated 0, unchanged 0\n")
    g = Grid.objects.get(code="350426100001002")
    assert g.kind == "dedicated" and g.unit.code == "350426100001"
    assert (g.min_lon, g.max_lat) == (118.01, 26.01)
    assert run("grids", path)[1] == "grids: created 0, updated 0, unchanged 2\n"

    bad = write_grids(
        tmp_path / "bad.geojson",
        feature("350426100002001", "外村网格", square(119.0, 26.0)),
        feature("350426100001003", "重叠网格", square(118.005, 26.005)),
        feature(
            "350426100001004",
            "自交网格",
            {
                "type": "Polygon",
                "coordinates": [
                    [[118.1, 26.1], [118.2, 26.2], [118.2, 26.1], [118.1, 26.2], [118.1, 26.1]]
                ],
            },
        ),
        feature("3504261000010", "短码", square(118.3, 26.0)),
        feature("350426100001005", "点", {"type": "Point", "coordinates": [118, 26]}),
    )
    code, out = run("grids", bad)
    assert code == 1
    lines = out.splitlines()
    # Listed by feature, like every import's problems (overlaps are found after the features).
    assert lines == [
        "grid 350426100002001 (外村网格) [feature 1]: code does not start with the code of an existing village/community (350426100002)",
        "grid 350426100001003 (重叠网格) [feature 2]: overlaps existing grid 350426100001001",
        "grid 350426100001003 (重叠网格) [feature 2]: overlaps existing grid 350426100001002",
        lines[3],
        "grid 3504261000010 (短码) [feature 4]: code must be 15 digits",
        "grid 350426100001005 (点) [feature 5]: geometry must be a GeoJSON Polygon or MultiPolygon",
    ]
    assert lines[3].startswith(
        "grid 350426100001004 (自交网格) [feature 3]: polygon is not valid: Self-intersection"
    )
    assert Grid.objects.count() == 2


def test_it_allows_grids_that_share_a_border(db):
    index = GridIndex(
        [("a", parse_polygon(square(0, 0, 1))), ("b", parse_polygon(square(1, 0, 1)))]
    )
    # A point on the shared border goes to the first grid; outside points go nowhere.
    assert index.locate([0.5, 1.0, 1.5, 5], [0.5, 0.5, 0.5, 5]) == ["a", "a", "b", None]


def test_it_refuses_a_file_that_is_not_a_feature_collection(db, tmp_path):
    path = tmp_path / "g.geojson"
    path.write_text('{"type": "Feature"}')
    # Refused as a whole, like a spreadsheet that cannot be read: the command's error message.
    with pytest.raises(CommandError) as refused:
        run_raising("grids", path)
    assert (refused.value.returncode, str(refused.value)) == (
        1,
        "g.geojson is not a GeoJSON FeatureCollection",
    )
    path.write_text("{nope")
    with pytest.raises(CommandError, match="^g.geojson is not readable GeoJSON"):
        run_raising("grids", path)
    assert not Grid.objects.exists()


def test_it_names_bad_levels_kinds_and_geometry(db, tmp_path):
    units = tmp_path / "units.csv"
    units.write_text("code,name,level\n350426,尤溪县,省会\n")
    assert run("units", units)[1].strip() == (
        "row 2: level: 省会 is not a level (use 区县, 乡镇, 街道, 村, 社区 or county, town, village)"
    )
    units.write_text("code,name\n350426,尤溪县\n350426100,城关镇\n350426100001,水东社区\n")
    assert run("units", units)[0] == 0
    grids = write_grids(
        tmp_path / "g.geojson",
        feature("350426100001001", "一网格", square(118.0, 26.0), kind="特别"),
        feature("350426100001002", "二网格", square(218.0, 26.0)),
        feature(
            "350426100001003",
            "线",
            {"type": "Polygon", "coordinates": [[[118, 26], [118.1, 26], [118, 26]]]},
        ),
        feature("350426100001004", "四网格", square(118.5, 26.0)),
        feature("350426100001004", "重复", square(118.6, 26.0)),
    )
    code, out = run("grids", grids)
    assert code == 1
    lines = out.splitlines()
    assert (
        lines[0]
        == "grid 350426100001001 (一网格) [feature 1]: kind must be 综合 or 专属 (comprehensive or dedicated)"
    )
    assert (
        lines[1]
        == "grid 350426100001002 (二网格) [feature 2]: coordinates are not WGS84 longitude/latitude (bounds 218, 26, 218.01, 26.01)"
    )
    assert lines[2].startswith("grid 350426100001003 (线) [feature 3]: polygon is not valid:")
    assert (
        lines[3]
        == "grid 350426100001004 (重复) [feature 5]: the same code appears twice in the file"
    )
    assert not Grid.objects.exists()


def test_it_audits_each_unit_and_grid_written_and_each_import(db, tmp_path):
    from grassroots.audit.models import Event

    units = tmp_path / "units.csv"
    units.write_text("code,name\n350426,尤溪县\n350426100,城关镇\n350426100001,水东社区\n")
    grids = write_grids(
        tmp_path / "g.geojson", feature("350426100001001", "一网格", square(118.0, 26.0))
    )
    assert run("units", units)[0] == 0 and run("grids", grids)[0] == 0
    village = Unit.objects.get(code="350426100001")
    [created] = Event.objects.filter(object_type="territory.unit", object_id=str(village.pk))
    assert (created.action, created.channel, created.scope_code) == (
        "create",
        "import",
        village.code,
    )
    assert created.changes == {
        "code": [None, "350426100001"],
        "name": [None, "水东社区"],
        "level": [None, "village"],
        "kind": [None, "community"],
        "parent": [None, village.parent_id],
    }
    grid = Grid.objects.get()
    [event] = Event.objects.filter(object_type="territory.grid", action="create")
    assert (event.object_id, event.object_repr) == (str(grid.pk), "一网格 (350426100001001)")
    assert event.changes["boundary"] == [None, square(118.0, 26.0)]
    imports = Event.objects.filter(action="import").order_by("pk")
    assert [(e.object_type, e.object_repr, e.changes) for e in imports] == [
        (
            "territory.unit",
            "units.csv",
            {
                "file": "units.csv",
                "encoding": "utf-8",
                "rows": 3,
                "created": 3,
                "updated": 0,
                "unchanged": 0,
            },
        ),
        (
            "territory.grid",
            "g.geojson",
            {
                "file": "g.geojson",
                "encoding": None,
                "rows": 1,
                "created": 1,
                "updated": 0,
                "unchanged": 0,
            },
        ),
    ]
    # A change is one update event with the fields before and after; the same file, none.
    units.write_text("code,name\n350426,尤溪县\n350426100,城关镇\n350426100001,水东村\n")
    assert run("units", units)[1] == "units: created 0, updated 1, unchanged 2\n"
    [updated] = Event.objects.filter(object_type="territory.unit", action="update")
    assert (updated.object_id, updated.changes) == (
        str(village.pk),
        {"name": ["水东社区", "水东村"], "kind": ["community", "village"]},
    )
    assert run("grids", grids)[1] == "grids: created 0, updated 0, unchanged 1\n"
    assert not Event.objects.filter(object_type="territory.grid", action="update").exists()

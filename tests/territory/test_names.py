"""Names are plain text and household codes are codes (issue 11, items 8 and 11): markup,
control and text-direction characters are refused wherever a name comes in, and a household
code is letters and digits with - . _ inside (no `<svg onload=…>`, no `=1+1`)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from grassroots.core.validators import validate_household_code, validate_name
from grassroots.registry.models import Household, Resident
from grassroots.territory.models import Grid, Unit
from tests import factories as f

from .test_import import feature, write_grids

MARKUP = '水东<meta http-equiv="refresh" content="0;url=https://evil.example/">网格'


def _reason(char):
    return f"A name may not contain {char}: no markup, control or text-direction characters"


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", *[str(a) for a in args], stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue()


@pytest.mark.parametrize(
    ("name", "char"),
    [
        (MARKUP, "<"),
        ("a>b", ">"),
        ("水东\x07社区", "U+0007"),
        ("水东\u202e区社", "U+202E"),
        ("水东\u2066网格", "U+2066"),
        ("x\x85y", "U+0085"),
    ],
)
def test_it_refuses_names_that_are_not_plain_text(name, char):
    with pytest.raises(ValidationError) as exc:
        validate_name(name)
    assert exc.value.messages == [_reason(char)]


@pytest.mark.parametrize(
    "name", ["水东一网格", "A&B 科技有限公司", "O'Brien", "阿卜杜·热合曼", "第(1)网格"]
)
def test_it_takes_real_names(name):
    validate_name(name)


@given(st.text(min_size=1, max_size=40))
def test_any_text_with_markup_or_controls_is_refused(text):
    bad = any(c in "<>" or ord(c) < 32 or 127 <= ord(c) <= 159 for c in text) or any(
        c in text for c in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    )
    try:
        validate_name(text)
    except ValidationError:
        assert bad
    else:
        assert not bad


@pytest.mark.parametrize(
    "code",
    ["<svg onload=alert(1)>", "=1+1", "+1", "-1", "@SUM(A1)", "HA 11", "户1", "a" * 33, "", ".x"],
)
def test_it_refuses_codes_that_are_not_household_codes(code):
    with pytest.raises(ValidationError) as exc:
        validate_household_code(code)
    assert exc.value.messages[0].startswith("A household code has at most 32 letters and digits")


@pytest.mark.parametrize("code", ["HA11-1", "350426100001001-0001", "a_b.c", "9"])
def test_it_takes_household_codes(code):
    validate_household_code(code)


def test_the_unit_and_grid_imports_refuse_markup(db, tmp_path):
    units = tmp_path / "units.csv"
    units.write_text("code,name\n350426,尤溪县\n350426100,<b>城关镇</b>\n", encoding="utf-8")
    code, out = run("units", units)
    assert code == 1
    assert f"row 3: name: {_reason('<')}" in out
    assert not Unit.objects.exists()
    run("units", write_units(tmp_path))
    grids = write_grids(
        tmp_path / "grids.geojson", feature("350426100001001", MARKUP, f.square(118.1, 26.1))
    )
    code, out = run("grids", grids)
    assert code == 1
    assert _reason("<") in out
    assert not Grid.objects.exists()


def write_units(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(
        "code,name\n350426,尤溪县\n350426100,城关镇\n350426100001,水东社区\n", encoding="utf-8"
    )
    return path


def test_a_town_official_cannot_name_a_grid_with_markup(world, login):
    grid = world.grid_a11
    page = reverse("admin:territory_grid_change", args=[grid.pk])
    client = login("official")
    form = client.get(page)
    assert form.status_code == 200
    response = client.post(
        page,
        {
            "code": grid.code,
            "name": MARKUP,
            "kind": grid.kind,
            "unit": grid.unit_id,
            "boundary": json.dumps(grid.boundary),
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert _reason("<") in response.content.decode().replace("&lt;", "<")
    grid.refresh_from_db()
    assert grid.name == "水东一网格"


def test_the_household_import_refuses_codes_that_are_not_codes(world, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(
        "户编号,地址,网格编码\n"
        f"<svg onload=alert(1)>,西门路1号,{world.grid_a11.code}\n"
        f"=1+1,西门路2号,{world.grid_a11.code}\n"
        f"OK-1,西门路3号,{world.grid_a11.code}\n",
        encoding="utf-8",
    )
    code, out = run("households", path)
    assert code == 1
    assert "row 2: 户编号: A household code has at most 32 letters and digits" in out
    assert "row 3: 户编号: A household code has at most 32 letters and digits" in out
    assert "row 4" not in out
    assert not Household.objects.filter(code="OK-1").exists()


def test_the_resident_import_refuses_names_with_markup(world, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "姓名,身份证号,户编号,与户主关系,居住类型\n"
        f"<img src=x>,{f.id_number('19800101', seq=801)},HA11-1,子女,户籍\n",
        encoding="utf-8",
    )
    code, out = run("residents", path)
    assert code == 1
    assert f"row 2: 姓名: {_reason('<')}" in out
    assert not Resident.objects.filter(name__contains="img").exists()

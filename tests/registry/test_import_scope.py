"""An import touches only the importer's area: naming another area's household or resident by
its code or ID number is a problem for that row, never an update."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from grassroots.core.imports import Problem
from grassroots.core.scoping import Scope
from grassroots.registry.imports import import_households, import_residents
from grassroots.registry.models import Household, Resident
from tests import factories as f

from .test_import import HOUSEHOLD_HEADER, RESIDENT_HEADER, run, write


def secretary(world):
    return Scope.for_user(world.users["secretary"])


def test_it_refuses_to_take_over_a_household_outside_the_scope_by_its_code(world, tmp_path):
    grid = world.grid_a11.code
    path = write(
        tmp_path / "h.csv",
        HOUSEHOLD_HEADER + f"N1,新户,{grid},,,\nHB11-1,改地址,{grid},,,\nHA11-1,改地址,{grid},,,\n",
    )
    result = import_households(path, scope=secretary(world))
    assert result.problems == [Problem(3, "户编号", "household HB11-1 is outside your area")]
    assert (result.created, result.updated) == (0, 0)
    hb = Household.objects.get(code="HB11-1")
    assert hb.address != "改地址" and hb.grid == world.grid_b11
    assert Household.objects.get(code="HA11-1").address != "改地址"
    assert not Household.objects.filter(code="N1").exists()
    assert world.residents["周杰伦"].scope_code == world.grid_b11.code


def test_it_refuses_an_outside_household_named_without_a_grid_or_with_a_unit(world, tmp_path):
    # Without a grid column the household would keep its territory: still not the importer's.
    path = write(tmp_path / "h.csv", "户编号,地址\nHB11-1,改地址\n")
    for unit in (None, world.village_a1.code):
        result = import_households(path, scope=secretary(world), unit_code=unit)
        assert [str(p) for p in result.problems] == [
            "row 2: 户编号: household HB11-1 is outside your area"
        ]
    assert Household.objects.get(code="HB11-1").address != "改地址"


def test_it_still_updates_any_household_for_the_whole_registry(world, tmp_path):
    path = write(tmp_path / "h.csv", f"户编号,地址,网格编码\nHB11-1,改地址,{world.grid_a11.code}\n")
    result = import_households(path, scope=Scope.everything())
    assert (result.problems, result.updated) == ([], 1)
    assert Household.objects.get(code="HB11-1").grid == world.grid_a11


def test_it_refuses_to_move_or_update_a_resident_who_lives_outside_the_scope(world, tmp_path):
    outside = world.residents["周杰伦"]  # lives in HB11-1, town B
    inside = world.residents["赵光菊"]
    for text in (
        RESIDENT_HEADER
        + f"周杰伦,{outside.id_number},13700137000,HA11-1,户主,,\n"
        + f"赵光菊,{inside.id_number},13700137001,HA11-1,户主,,\n",
        "姓名,身份证号,手机号\n"
        + f"周杰伦,{outside.id_number},13700137000\n"
        + f"赵光菊,{inside.id_number},13700137001\n",
    ):
        path = write(tmp_path / "r.csv", text)
        result = import_residents(path, scope=secretary(world), unit_code=world.village_a1.code)
        assert [str(p) for p in result.problems] == [
            "row 2: 身份证号: the resident with this ID number lives outside your area"
        ]
        assert (result.created, result.updated) == (0, 0)
    outside.refresh_from_db()
    inside.refresh_from_db()
    assert outside.household.code == "HB11-1" and outside.scope_code == world.grid_b11.code
    assert outside.phone == "13800138000" and inside.phone == "13800138000"


def test_it_refuses_a_resident_without_household_outside_the_scope(world, tmp_path):
    number = f.id_number()
    f.resident("流动丁", None, number=number, unit_=world.village_b1)
    path = write(tmp_path / "r.csv", f"姓名,身份证号\n流动丁,{number}\n")
    result = import_residents(path, scope=secretary(world), unit_code=world.village_a1.code)
    assert [str(p) for p in result.problems] == [
        "row 2: 身份证号: the resident with this ID number lives outside your area"
    ]
    assert Resident.objects.with_id_number(number).get().unit == world.village_b1


def test_it_updates_residents_inside_the_scope(world, tmp_path):
    r = world.residents["赵光菊"]
    path = write(
        tmp_path / "r.csv",
        f"姓名,身份证号,手机号,户编号\n赵光菊,{r.id_number},13700137000,HA12-1\n",
    )
    result = import_residents(path, scope=secretary(world))
    assert (result.problems, result.updated) == ([], 1)
    r.refresh_from_db()
    assert r.household.code == "HA12-1" and r.phone == "13700137000"


def test_the_command_refuses_them_for_the_user_it_imports_as(world, tmp_path):
    path = write(tmp_path / "h.csv", f"户编号,地址,网格编码\nHB11-1,改地址,{world.grid_a11.code}\n")
    code, out, _ = run("households", path, "--as-user", "secretary")
    assert code == 1 and out.strip() == "row 2: 户编号: household HB11-1 is outside your area"
    number = world.residents["周杰伦"].id_number
    path = write(tmp_path / "r.csv", RESIDENT_HEADER + f"周杰伦,{number},,HA11-1,户主,,\n")
    code, out, _ = run("residents", path, "--as-user", "secretary")
    assert code == 1
    assert out.strip() == (
        "row 2: 身份证号: the resident with this ID number lives outside your area"
    )


def test_the_scope_check_reads_no_more_for_more_rows(world, tmp_path):
    grid = world.grid_a11.code
    for i in range(2, 21):
        f.household(f"HB11-{i}", world.grid_b11)

    def queries(n, kind="h"):
        if kind == "h":
            text = HOUSEHOLD_HEADER + "".join(f"HB11-{i},改,{grid},,,\n" for i in range(1, n + 1))
            importer = import_households
        else:
            people = [f.resident(f"外{i}", world.households["HB11-1"]) for i in range(n)]
            text = RESIDENT_HEADER + "".join(f"{p.name},{p.id_number},,HA11-1,,,\n" for p in people)
            importer = import_residents
        path = write(tmp_path / f"{kind}{n}.csv", text)
        with CaptureQueriesContext(connection) as ctx:
            result = importer(path, scope=secretary(world))
        assert len(result.problems) == n
        return len(ctx.captured_queries)

    assert queries(1) == queries(20)
    assert queries(1, "r") == queries(20, "r")

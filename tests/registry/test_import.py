"""Spreadsheet import of households and residents: the rules in issue #2, item 4."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.registry.models import Household, Resident
from tests import factories as f

HOUSEHOLD_HEADER = "户编号,地址,网格编码,经度,纬度,标签\n"
RESIDENT_HEADER = "姓名,身份证号,手机号,户编号,与户主关系,居住类型,标签\n"


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", *[str(a) for a in args], stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


def test_it_imports_households_and_is_idempotent(world, tmp_path):
    g = world.grid_a21
    path = write(
        tmp_path / "h.csv",
        HOUSEHOLD_HEADER
        + f"N1,西门路1号,{g.code},,,低保；独居老人\n"
        + f"N2,西门路2号,,{g.min_lon + 0.005},{g.min_lat + 0.005},\n",
    )
    code, out, _err = run("households", path)
    assert code == 0
    assert "created 2, updated 0, unchanged 0" in out
    n1, n2 = Household.objects.get(code="N1"), Household.objects.get(code="N2")
    assert n1.grid == g and n1.tag_list == ["低保", "独居老人"] and n1.scope_code == g.code
    assert n2.grid == g  # placed by its coordinates
    code, out, _err = run("households", path)
    assert "created 0, updated 0, unchanged 2" in out


def test_it_updates_changed_households_and_moves_their_members(world, tmp_path):
    h = world.households["HA11-1"]
    path = write(
        tmp_path / "h.csv", "户编号,地址,网格编码\n" + f"HA11-1,新地址,{world.grid_a21.code}\n"
    )
    code, out, _err = run("households", path)
    assert code == 0 and "created 0, updated 1, unchanged 0" in out
    h.refresh_from_db()
    assert h.address == "新地址" and h.grid == world.grid_a21
    member = world.residents["赵光菊"]
    member.refresh_from_db()
    assert member.scope_code == world.grid_a21.code and member.unit == world.village_a2
    # The members' move is recorded too, under their new place.
    from grassroots.audit.models import Event

    moved = Event.objects.get(object_type="registry.resident", object_id=str(member.pk))
    assert moved.changes["scope_code"] == [world.grid_a11.code, world.grid_a21.code]
    assert moved.scope_code == world.grid_a21.code


def test_it_reports_every_bad_row_by_spreadsheet_row_and_column_and_writes_nothing(world, tmp_path):
    path = write(
        tmp_path / "h.csv",
        "户编号,地址,网格编码,经度,纬度,标签\n"
        "OK1,好地址,350426100001001,,,\n"
        ",没有编号,350426100001001,,,\n"
        "OK3,,350426100001001,,,\n"
        "OK4,地址,999999999999999,,,\n"
        "OK5,地址,,200,26.1,\n"
        "OK6,地址,,119.9,20.1,\n"
        "OK1,重复,350426100001001,,,\n"
        "OK8,地址,350426100001001,,,不存在的标签\n",
    )
    code, out, err = run("households", path, "--dry-run")
    assert code == 1
    assert out.splitlines() == [
        "row 3: 户编号: household code is empty",
        "row 4: 地址: address is empty",
        "row 5: 网格编码: grid 999999999999999 does not exist",
        "row 6: 经度: longitude 200 is outside -180 to 180",
        "row 7: 经度: the point (119.9, 20.1) lies in no grid",
        "row 8: 户编号: duplicate of row 2",
        "row 9: 标签: unknown tag 不存在的标签 (known tags: "
        + "、".join(
            sorted(
                [
                    "低保",
                    "特困",
                    "独居老人",
                    "空巢老人",
                    "留守儿童",
                    "残疾人",
                    "优抚对象",
                    "社区矫正",
                    "刑满释放",
                    "严重精神障碍",
                    "吸毒人员",
                    "党员",
                    "退役军人",
                    "脱贫户",
                    "出租房",
                ]
            )
        )
        + ")",
    ]
    assert "nothing was written" in err
    before = Household.objects.count()
    code, out2, _ = run("households", path)
    assert code == 1 and out2 == out
    assert Household.objects.count() == before
    assert not Household.objects.filter(code="OK1").exists()


def test_it_uses_the_headers_as_written_in_english_too(world, tmp_path):
    path = write(tmp_path / "h.csv", "Code,Address,Grid_Code\nE1,,350426100001001\n")
    code, out, _ = run("households", path)
    assert code == 1 and out.strip() == "row 2: Address: address is empty"


def test_it_names_a_missing_required_column(world, tmp_path):
    path = write(tmp_path / "r.csv", "姓名,手机号\n张三,13800138000\n")
    code, out, _ = run("residents", path)
    assert code == 1 and out.strip() == "row 1: 身份证号 (id_number): column is missing"


def test_it_puts_households_without_grid_or_coordinates_in_a_unit(world, tmp_path):
    from grassroots.core.scoping import Scope
    from grassroots.registry.coverage import coverage_report

    path = write(tmp_path / "h.csv", HOUSEHOLD_HEADER + "U1,某村某组,,,,\n")
    # The only top-level unit (the county) takes them, and the audit lists them.
    code, out, _ = run("households", path)
    assert code == 0
    assert Household.objects.get(code="U1").unit == world.county
    assert "U1" in [
        s.label for s in coverage_report(Scope.everything()).samples["households_without_grid"]
    ]
    code, out, _ = run("households", path, "--unit", world.village_b1.code)
    assert code == 0 and "updated 1" in out
    h = Household.objects.get(code="U1")
    assert h.grid is None and h.unit == world.village_b1 and h.scope_code == world.village_b1.code


def test_it_refuses_households_without_grid_when_the_unit_is_ambiguous(world, tmp_path):
    f.unit("350427", "另一个县")
    path = write(tmp_path / "h.csv", HOUSEHOLD_HEADER + "U1,某村某组,,,,\n")
    code, out, _ = run("households", path)
    assert code == 1
    assert out.strip() == (
        "row 2: 网格编码: no grid code and no coordinates: give one "
        "(or import with --unit CODE for households without a grid)"
    )


def test_it_imports_residents_with_messy_values_and_derives_fields(world, tmp_path):
    number = f.id_number("19900101", seq=123)
    messy = " ".join([number[:6], number[6:14], number[14:].lower()])
    messy = messy.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    path = write(
        tmp_path / "r.csv",
        RESIDENT_HEADER
        + f"趙 明,{messy},１３９ ００１３ ９０００,HA11-1,子女,户籍,留守儿童;党员\n",
    )
    code, out, _ = run("residents", path)
    assert code == 0 and "created 1, updated 0, unchanged 0" in out
    r = Resident.objects.with_id_number(number).get()
    assert r.name == "趙 明" and r.name_key == "赵明" and r.name_initials == "zm"
    assert r.phone == "13900139000" and r.sex == "M" and str(r.birth_date) == "1990-01-01"
    assert (
        r.household.code == "HA11-1"
        and r.relation == "child"
        and r.scope_code == world.grid_a11.code
    )
    assert r.tag_list == ["党员", "留守儿童"]
    assert run("residents", path)[1].strip().endswith("created 0, updated 0, unchanged 1")


def test_it_upserts_residents_by_id_number(world, tmp_path):
    r = world.residents["赵光菊"]
    path = write(tmp_path / "r.csv", f"姓名,身份证号,手机号\n赵光菊,{r.id_number},13700137000\n")
    code, out, _ = run("residents", path)
    assert code == 0 and "created 0, updated 1, unchanged 0" in out
    r.refresh_from_db()
    assert r.phone == "13700137000" and r.household.code == "HA11-1"  # absent column kept


def test_it_flags_duplicate_id_numbers_after_the_first(world, tmp_path):
    number = f.id_number()
    path = write(
        tmp_path / "r.csv",
        RESIDENT_HEADER
        + f"甲,{number},,HA11-1,户主,,\n乙,{number.lower()},,HA11-1,配偶,,\n丙,{number},,HA11-1,子女,,\n",
    )
    code, out, _ = run("residents", path)
    assert code == 1
    assert out.splitlines() == [
        "row 3: 身份证号: duplicate of row 2",
        "row 4: 身份证号: duplicate of row 2",
    ]


def test_it_reports_bad_resident_values(world, tmp_path):
    ok = f.id_number()
    path = write(
        tmp_path / "r.csv",
        RESIDENT_HEADER
        + "甲,110105194912310021,,HA11-1,户主,,\n"
        + f"乙,{f.id_number()},12345,HA11-1,配偶,,\n"
        + f"丙,{f.id_number()},,NOPE,子女,,\n"
        + f"丁,{f.id_number()},,HA11-1,邻居,,\n"
        + f"戊,{f.id_number()},,HA11-1,子女,外星,\n"
        + f",{ok},,HA11-1,子女,,\n",
    )
    code, out, _ = run("residents", path)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "row 2: 身份证号: ID number check character is wrong (expected X)"
    assert lines[1] == "row 3: 手机号: Mobile number must be 11 digits starting with 13 to 19"
    assert lines[2] == "row 4: 户编号: household NOPE does not exist"
    assert lines[3].startswith("row 5: 与户主关系: 邻居 is not a known relation")
    assert lines[4].startswith("row 6: 居住类型: 外星 is not a known residency type")
    assert lines[5] == "row 7: 姓名: name is empty"


def test_it_allows_floating_residents_without_household(world, tmp_path):
    number = f.id_number()
    path = write(tmp_path / "r.csv", RESIDENT_HEADER + f"流动甲,{number},,,,流动,\n")
    # One top-level unit (the county): residents without a household land there.
    code, out, _ = run("residents", path)
    assert code == 0, out
    r = Resident.objects.with_id_number(number).get()
    assert r.household is None and r.unit == world.county and r.residency == "floating"
    code, out, _ = run("residents", path, "--unit", world.village_b1.code)
    r.refresh_from_db()
    assert r.unit == world.village_b1


def test_it_refuses_rows_outside_the_importing_users_scope(world, tmp_path):
    path = write(tmp_path / "r.csv", RESIDENT_HEADER + f"甲,{f.id_number()},,HB11-1,户主,,\n")
    code, out, _ = run("residents", path, "--as-user", "worker")
    assert code == 1 and out.strip() == "row 2: 户编号: household HB11-1 does not exist"


def test_it_reads_gb18030_and_bom_csv(world, tmp_path):
    for encoding, name in (("gb18030", "gb.csv"), ("utf-8-sig", "bom.csv")):
        number = f.id_number()
        path = write(tmp_path / name, RESIDENT_HEADER + f"张三,{number},,HA11-1,户主,,\n", encoding)
        code, _out, err = run("residents", path)
        assert code == 0
        assert f"as {encoding}" in err
        assert Resident.objects.with_id_number(number).filter(name="张三").exists()


def test_it_refuses_files_in_other_encodings(world, tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(RESIDENT_HEADER.encode("utf-16"))
    code, _out, err = run("residents", path)
    assert code == 1 and "neither UTF-8 nor GB18030" in err


def test_it_imports_xlsx_and_writes_an_error_file(world, tmp_path):
    good, bad = f.id_number(), "110105194912310021"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号", "手机号", "户编号", "与户主关系", "居住类型", "标签"])
    ws.append(["好人", good, 13800138000, "HA11-1", "户主", "户籍", None])
    ws.append(["@坏人", bad, None, "HA11-1", "配偶", "户籍", None])
    path = tmp_path / "r.xlsx"
    wb.save(path)
    errors = tmp_path / "errors.csv"
    code, out, _ = run("residents", path, "--errors", errors)
    assert (
        code == 1
        and out.strip() == "row 3: 身份证号: ID number check character is wrong (expected X)"
    )
    rows = list(csv.reader(io.StringIO(errors.read_text(encoding="utf-8-sig"))))
    assert rows[0] == [
        "row",
        "姓名",
        "身份证号",
        "手机号",
        "户编号",
        "与户主关系",
        "居住类型",
        "标签",
        "reason",
    ]
    assert rows[1][0] == "3" and rows[1][1] == "'@坏人"  # formula neutralized
    assert rows[1][-1] == "身份证号: ID number check character is wrong (expected X)"
    ws.delete_rows(3)
    wb.save(path)
    code, out, _ = run("residents", path, "--errors", tmp_path / "e.xlsx")
    assert code == 0 and "created 1" in out
    assert Resident.objects.with_id_number(good).get().phone == "13800138000"


def test_it_prints_the_first_problems_and_writes_them_all_with_errors(world, tmp_path, settings):
    settings.IMPORT_MAX_PROBLEMS_SHOWN = 2
    path = write(tmp_path / "h.csv", "户编号,地址,网格编码\n" + ",甲,350426100001001\n" * 4)
    code, out, err = run("households", path)
    assert code == 1 and out.splitlines() == [
        "row 2: 户编号: household code is empty",
        "row 3: 户编号: household code is empty",
        "... and 2 more problem(s): --errors OUT writes every one to a file",
    ]
    assert err.endswith("4 problem(s) in 4 row(s) of 4; nothing was written")
    errors = tmp_path / "e.csv"
    code, out, _err = run("households", path, "--errors", errors)
    assert out.splitlines()[2] == f"... and 2 more problem(s): {errors} lists every one"
    rows = list(csv.reader(io.StringIO(errors.read_text(encoding="utf-8-sig"))))
    assert [r[0] for r in rows] == ["row", "2", "3", "4", "5"]


def test_the_command_line_has_no_row_limit(world, tmp_path, settings):
    # IMPORT_MAX_ROWS is for uploads: a county's million residents come by the command line.
    settings.IMPORT_MAX_ROWS = 1
    path = write(
        tmp_path / "h.csv",
        "户编号,地址,网格编码\n" + "".join(f"N{i},某地,350426100001001\n" for i in range(3)),
    )
    code, out, _err = run("households", path)
    assert code == 0 and "created 3" in out


def test_it_writes_nothing_when_a_late_row_is_bad(world, tmp_path):
    lines = [f"人{i},{f.id_number(seq=i)},,HA11-1,子女,,\n" for i in range(200)]
    lines.append("坏,123,,HA11-1,子女,,\n")
    path = write(tmp_path / "r.csv", RESIDENT_HEADER + "".join(lines))
    before = Resident.objects.count()
    code, out, _ = run("residents", path)
    assert code == 1 and out.startswith("row 202: 身份证号:")
    assert Resident.objects.count() == before


@pytest.mark.parametrize("dry", [True, False])
def test_it_prints_counts_on_dry_run_without_writing(world, tmp_path, dry):
    number = f.id_number()
    path = write(tmp_path / "r.csv", RESIDENT_HEADER + f"张三,{number},,HA11-1,户主,,\n")
    args = ["residents", path] + (["--dry-run"] if dry else [])
    code, out, _ = run(*args)
    assert code == 0 and "created 1, updated 0, unchanged 0" in out
    assert Resident.objects.with_id_number(number).exists() is (not dry)
    assert ("dry run" in out) is dry


@pytest.mark.chinese
def test_it_explains_problems_in_chinese_by_default(world, tmp_path):
    path = write(tmp_path / "h.csv", HOUSEHOLD_HEADER + "X1,,350426100001001,,,\n")
    code, out, _ = run("households", path)
    assert code == 1 and out.strip() == "row 2: 地址: 地址为空"


def test_it_imports_an_old_binary_xls_file(world, tmp_path):
    from tests.core.test_xlsx import write_xls

    number = f.id_number()
    path = write_xls(
        tmp_path / "r.xls",
        [
            ["姓名", "身份证号", "手机号", "户编号", "与户主关系"],
            ["张三", number, 13800138000, "HA11-1", "配偶"],
            ["李四", "123", None, "HA11-1", "子女"],
        ],
    )
    code, out, err = run("residents", path, "--errors", tmp_path / "e.csv")
    assert code == 1 and out.splitlines() == [
        "row 3: 身份证号: ID number must have 18 characters, not 3"
    ]
    assert err.endswith("1 problem(s) in 1 row(s) of 2; nothing was written")
    rows = list(csv.reader(io.StringIO((tmp_path / "e.csv").read_text(encoding="utf-8-sig"))))
    assert rows[1][:3] == ["3", "李四", "123"]
    write_xls(
        path, [["姓名", "身份证号", "手机号", "户编号"], ["张三", number, 13800138000, "HA11-1"]]
    )
    code, out, _err = run("residents", path)
    assert code == 0 and out.strip() == "residents: created 1, updated 0, unchanged 0"
    assert Resident.objects.with_id_number(number).get().phone == "13800138000"


@pytest.mark.parametrize("separator", ["、", ";", "；", ",", "，"])
def test_it_splits_every_multi_value_cell_the_same_way(world, tmp_path, separator):
    path = tmp_path / "h.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(
            [
                ["户编号", "地址", "网格编码", "标签"],
                ["T1", "某地", world.grid_a11.code, f"低保{separator} 独居老人"],
            ]
        )
    assert run("households", path)[0] == 0
    assert Household.objects.get(code="T1").tag_list == ["低保", "独居老人"]


def test_it_names_the_kinds_it_imports(world):
    from grassroots.core.imports import import_kinds

    assert list(import_kinds()) == [
        "units",
        "grids",
        "households",
        "residents",
        "hotline",
        "orgs",
        "members",
    ]

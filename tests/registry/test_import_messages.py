"""Every problem an import can report, with the words the user reads."""

from __future__ import annotations

from tests import factories as f

from .test_import import HOUSEHOLD_HEADER, RESIDENT_HEADER, run, write


def test_it_refuses_an_id_number_the_registry_holds_twice(world, tmp_path):
    twin = world.residents["赵光菊"].id_number
    f.resident("重复登记", world.households["HA12-1"], number=twin)
    path = write(tmp_path / "r.csv", RESIDENT_HEADER + f"赵光菊,{twin},,HA11-1,户主,,\n")
    code, out, _ = run("residents", path)
    assert code == 1
    assert out.strip() == (
        "row 2: 身份证号: this ID number belongs to 2 residents in the registry; "
        "resolve the duplicate first"
    )


def test_it_needs_a_place_for_a_new_household_when_no_unit_is_implied(world, tmp_path):
    f.unit("350427", "另一个县")
    path = write(tmp_path / "h.csv", "户编号,地址\nNEW1,某地\n")
    code, out, _ = run("households", path)
    assert code == 1
    assert out.strip() == "row 2: 户编号: a new household needs a grid code or coordinates"


def test_it_needs_a_unit_for_a_new_resident_without_household(world, tmp_path):
    f.unit("350427", "另一个县")
    path = write(tmp_path / "r.csv", RESIDENT_HEADER + f"流动乙,{f.id_number()},,,,流动,\n")
    code, out, _ = run("residents", path)
    assert code == 1
    assert out.strip() == (
        "row 2: 户编号: no household code: import with --unit CODE to say where this resident lives"
    )


def test_it_refuses_a_relation_without_a_household(world, tmp_path):
    path = write(tmp_path / "r.csv", RESIDENT_HEADER + f"甲,{f.id_number()},,,配偶,,\n")
    code, out, _ = run("residents", path)
    assert code == 1
    assert out.strip() == "row 2: 与户主关系: a relation to the head needs a household code"


def test_it_refuses_a_longitude_column_without_latitude(world, tmp_path):
    path = write(tmp_path / "h.csv", "户编号,地址,经度\nX1,某地,118.1\n")
    code, out, _ = run("households", path)
    assert code == 1
    assert out.strip() == "row 1: 纬度 (lat): longitude and latitude columns go together"


def test_it_refuses_the_same_column_twice(world, tmp_path):
    path = write(tmp_path / "r.csv", "姓名,身份证号,身份证号码\n甲,1,2\n")
    code, out, _ = run("residents", path)
    assert code == 1
    assert out.strip() == "row 1: 身份证号码: the same column appears twice (also 身份证号)"


def test_it_refuses_a_bad_date(world, tmp_path):
    path = write(tmp_path / "r.csv", f"姓名,身份证号,迁出日期\n甲,{f.id_number()},去年\n")
    code, out, _ = run("residents", path)
    assert code == 1
    assert out.strip() == "row 2: 迁出日期: 去年 is not a date (use YYYY-MM-DD)"


def test_it_reads_several_date_formats(world, tmp_path):
    from grassroots.registry.models import Resident

    number = f.id_number()
    path = write(tmp_path / "r.csv", f"姓名,身份证号,迁出日期\n甲,{number},2020年3月5日\n")
    assert run("residents", path)[0] == 0
    assert str(Resident.objects.with_id_number(number).get().moved_out_on) == "2020-03-05"


def test_it_names_an_unknown_user_for_as_user(world, tmp_path):
    path = write(tmp_path / "h.csv", HOUSEHOLD_HEADER)
    code, _out, err = run("households", path, "--as-user", "nobody")
    assert "--as-user: no user named nobody" in err


def test_it_warns_about_unknown_columns(world, tmp_path):
    path = write(tmp_path / "r.csv", f"姓名,身份证号,备注\n甲,{f.id_number()},好人\n")
    code, _out, err = run("residents", path)
    assert code == 0
    assert "warning: column 备注 is not known and is ignored" in err


def test_it_is_a_command_error_not_a_crash_for_a_missing_file(world, tmp_path):
    code, _out, err = run("residents", tmp_path / "missing.csv")
    assert code == 1 and "missing.csv does not exist" in err


def test_it_refuses_an_unknown_or_out_of_scope_unit(world, tmp_path):
    path = write(tmp_path / "r.csv", RESIDENT_HEADER + f"流动丙,{f.id_number()},,,,流动,\n")
    code, _out, err = run("residents", path, "--unit", "999999999999")
    assert code == 1 and "--unit: no unit with code 999999999999" in err
    code, _out, err = run(
        "residents", path, "--unit", world.village_b1.code, "--as-user", "secretary"
    )
    assert code == 1 and f"--unit: no unit with code {world.village_b1.code}" in err

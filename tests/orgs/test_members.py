"""Party members (issue 13, item 2): the members' import (registry links, transfers, posts and
skills, conversions), masked numbers, who sees which members, and the secretary vacancy."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from grassroots.audit.models import Event
from grassroots.orgs import selectors
from grassroots.orgs.imports import import_orgs
from grassroots.orgs.imports_members import import_members
from grassroots.orgs.models import Member, MemberPost, Transfer
from tests import factories as f

ORGS = (
    "组织编码,名称,类型,上级组织,所属单位\n"
    "CG-DW,城关镇党委,党委,,350426100\n"
    "SD-ZB,水东社区党支部,党支部,CG-DW,350426100001\n"
    "XM-ZB,西门社区党支部,党支部,CG-DW,350426100002\n"
    "MX-DW,梅仙镇党委,党委,,350426101\n"
    "BS-ZB,半山村党支部,党支部,MX-DW,350426101201\n"
)
HEADER = "姓名,身份证号,组织编码,类别,入党日期,职务,技能,手机号\n"


def write(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def orgs(world: Any, tmp_path: Path) -> None:
    assert import_orgs(write(tmp_path, ORGS, "orgs.csv")).ok


def test_it_imports_members_linked_to_the_registry(world: Any, orgs: Any, tmp_path: Path) -> None:
    resident = world.residents["赵光菊"]
    away = f.id_number("19900505", "350102")
    text = (
        HEADER
        + f"赵光菊,{resident.id_number},SD-ZB,正式党员,2005-07-01,书记、组织委员,种植;电商,13912345678\n"
        + f"王流动,{away},SD-ZB,预备党员,2025-06-01,,法律,\n"
    )
    result = import_members(write(tmp_path, text, "m.csv"))
    assert result.ok, result.problems
    assert result.created == 2
    zhao = Member.objects.get(name="赵光菊")
    assert zhao.resident == resident  # matched by ID number
    assert zhao.phone == "13912345678"
    assert sorted(zhao.posts.values_list("post", flat=True)) == ["organization", "secretary"]
    assert sorted(zhao.skills.values_list("skill", flat=True)) == ["电商", "种植"]
    mobile = Member.objects.get(name="王流动")
    assert mobile.resident is None  # 流动党员: nobody of the registry, allowed
    assert mobile.conversion_due_on == datetime.date(2026, 6, 1)
    # Numbers are encrypted at rest and never written into the audit trail in full.
    event = Event.objects.get(object_type="orgs.member", object_id=str(zhao.pk))
    assert resident.id_number not in str(event.changes) and "13912345678" not in str(event.changes)
    assert event.scope_code == "350426100001"
    assert event.changes["posts"] == [None, ["organization", "secretary"]]


def test_importing_again_changes_nothing_and_a_move_is_a_transfer(
    world: Any, orgs: Any, tmp_path: Path
) -> None:
    number = f.id_number("19850303")
    first = HEADER + f"李党员,{number},SD-ZB,预备党员,2024-01-10,书记,,\n"
    import_members(write(tmp_path, first, "a.csv"))
    again = import_members(write(tmp_path, first, "b.csv"))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    moved = HEADER + f"李党员,{number},XM-ZB,正式党员,2024-01-10,委员,,\n"
    result = import_members(write(tmp_path, moved, "c.csv"))
    assert (result.created, result.updated) == (0, 1)
    member = Member.objects.get()
    assert member.organization.code == "XM-ZB"
    assert member.converted_on == timezone.localdate()
    transfer = Transfer.objects.get()
    assert (transfer.from_organization.code, transfer.to_organization.code) == ("SD-ZB", "XM-ZB")
    # The secretary post in the old branch ended with the move; the new post is in the new one.
    posts = {(p.organization.code, p.post, p.ended_on is None) for p in MemberPost.objects.all()}
    assert posts == {("SD-ZB", "secretary", False), ("XM-ZB", "committee", True)}
    assert selectors.secretary_vacant_since(member.organization) is not None


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("张三,123,SD-ZB,正式党员,2005-07-01", "row 2: 身份证号:"),
        (
            "张三,{id},NOPE,正式党员,2005-07-01",
            "row 2: 组织编码: no organization NOPE in your scope",
        ),
        ("张三,{id},SD-ZB,群众,2005-07-01", "row 2: 类别: 群众 is not 正式党员 or 预备党员"),
        ("张三,{id},SD-ZB,正式党员,1970-01-01", "row 2: 入党日期: before the date of birth"),
        ("张三,{id},SD-ZB,正式党员,2005-07-01,主任", "row 2: 职务: 主任 is not a post"),
        ("张三,{id},SD-ZB,正式党员,2005-07-01,,,12345", "row 2: 手机号:"),
        ("张三,{id},SD-ZB,正式党员,", "row 2: 入党日期: give the date of joining"),
        ("张三,{id},SD-ZB,正式党员,2005-07-01,,<b>电商</b>", "row 2: 技能:"),
        ("张三,{id},SD-ZB,正式党员,2005-07-01,," + "种" * 31, "row 2: 技能: skill"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_written(
    world: Any, orgs: Any, tmp_path: Path, line: str, problem: str
) -> None:
    columns = line.count(",") + 1
    header = ",".join(HEADER.strip().split(",")[: max(columns, 5)]) + "\n"
    text = header + line.format(id=f.id_number("19800101")) + "\n"
    result = import_members(write(tmp_path, text, "bad.csv"))
    assert any(str(p).startswith(problem) for p in result.problems), result.problems
    assert not Member.objects.exists()


def test_personas_see_the_members_of_their_organizations_only(
    world: Any, orgs: Any, tmp_path: Path
) -> None:
    text = (
        HEADER
        + f"甲,{f.id_number('19800101')},SD-ZB,正式党员,2005-07-01,,,\n"
        + f"乙,{f.id_number('19810101')},XM-ZB,正式党员,2005-07-01,,,\n"
        + f"丙,{f.id_number('19820101')},BS-ZB,正式党员,2005-07-01,,,\n"
    )
    assert import_members(write(tmp_path, text, "m.csv")).ok

    def names(user: Any) -> set[str]:
        return set(selectors.members_for(user).values_list("name", flat=True))

    assert names(world.users["admin"]) == {"甲", "乙", "丙"}
    assert names(world.users["official"]) == {"甲", "乙"}
    assert names(world.users["secretary"]) == {"甲"}
    assert names(world.users["outsider"]) == {"丙"}


def test_overdue_conversions_are_listed(world: Any, orgs: Any, tmp_path: Path) -> None:
    today = timezone.localdate()
    late = (today - datetime.timedelta(days=400)).isoformat()
    fresh = (today - datetime.timedelta(days=100)).isoformat()
    text = (
        HEADER
        + f"迟,{f.id_number('19800101')},SD-ZB,预备党员,{late},,,\n"
        + f"新,{f.id_number('19810101')},SD-ZB,预备党员,{fresh},,,\n"
        + f"正,{f.id_number('19820101')},SD-ZB,正式党员,{late},,,\n"
    )
    assert import_members(write(tmp_path, text, "m.csv")).ok
    overdue = selectors.conversions_overdue(Member.objects.all(), today)
    assert [m.name for m in overdue] == ["迟"]


def test_an_importer_adds_members_only_to_organizations_wholly_in_their_scope(
    world: Any, orgs: Any, tmp_path: Path
) -> None:
    from grassroots.core.imports import run_import
    from grassroots.core.scoping import Scope
    from grassroots.orgs.imports_members import MemberImporter

    number = f.id_number("19800101")
    text = (
        HEADER
        + f"甲,{number},CG-DW,正式党员,2005-07-01,,,\n"
        + (f"乙,{f.id_number('19810101')},SD-ZB,正式党员,2005-07-01,,,\n")
    )
    village = Scope.of("350426100001")
    result = run_import(MemberImporter(scope=village), write(tmp_path, text, "m.csv"))
    assert [str(p) for p in result.problems] == [
        "row 2: 组织编码: no organization CG-DW in your scope"
    ]
    text = HEADER + f"乙,{f.id_number('19810101')},SD-ZB,正式党员,2005-07-01,,,\n"
    assert run_import(MemberImporter(scope=village), write(tmp_path, text, "ok.csv")).ok


def test_one_person_twice_in_a_file_is_refused(world: Any, orgs: Any, tmp_path: Path) -> None:
    number = f.id_number("19800101")
    text = (
        HEADER
        + f"甲,{number},SD-ZB,正式党员,2005-07-01,,,\n"
        + f"甲,{number},XM-ZB,正式党员,2005-07-01,,,\n"
    )
    result = import_members(write(tmp_path, text, "twice.csv"))
    assert [str(p) for p in result.problems] == ["row 3: 身份证号: the same ID number as row 2"]
    assert not Member.objects.exists()

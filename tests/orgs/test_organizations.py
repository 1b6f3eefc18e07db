"""Party organizations (issue 13, item 1): the import of organizations on the import pipeline,
the services, and who sees and edits which."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.audit.models import Event
from grassroots.orgs import selectors, services
from grassroots.orgs.imports import import_orgs
from grassroots.orgs.models import Organization
from grassroots.territory.models import Unit

HEADER = "组织编码,名称,类型,上级组织,所属单位\n"
GOOD = (
    HEADER
    + "CG-DW,城关镇党委,党委,,350426100\n"
    + "SD-ZB,水东社区党支部,党支部,CG-DW,350426100001\n"
    + "XM-ZB,西门社区党支部,党支部,CG-DW,350426100002\n"
    + "SX-LH,水西联合党支部,联合党支部,CG-DW,350426100001、350426100002\n"
    + "MX-DW,梅仙镇党委,党委,,350426101\n"
    + "BS-ZB,半山村党支部,党支部,MX-DW,350426101201\n"
)


def write(tmp_path: Path, text: str, name: str = "orgs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_it_imports_organizations_with_their_parents_and_units(world: Any, tmp_path: Path) -> None:
    result = import_orgs(write(tmp_path, GOOD))
    assert result.ok, result.problems
    assert (result.created, result.updated, result.unchanged) == (6, 0, 0)
    joint = Organization.objects.get(code="SX-LH")
    assert joint.kind == Organization.Kind.JOINT_BRANCH
    assert joint.parent.code == "CG-DW"
    assert selectors.unit_codes(joint) == ["350426100001", "350426100002"]
    # One audit event per organization, in the town holding its units, and one for the import.
    event = Event.objects.get(object_type="orgs.organization", object_id=str(joint.pk))
    assert event.action == "create" and event.scope_code == "350426100"
    assert event.changes["units"] == [None, ["350426100001", "350426100002"]]
    assert Event.objects.filter(object_type="orgs.organization").count() == 7


def test_importing_the_same_file_again_changes_nothing(world: Any, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    import_orgs(path)
    events = Event.objects.count()
    again = import_orgs(path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)
    assert Event.objects.count() == events + 1  # the import's own event only


def test_a_changed_row_updates_the_organization_and_says_what_changed(
    world: Any, tmp_path: Path
) -> None:
    import_orgs(write(tmp_path, GOOD))
    changed = GOOD.replace("西门社区党支部,党支部,CG-DW", "西门社区党总支,党总支,CG-DW")
    result = import_orgs(write(tmp_path, changed, "again.csv"))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 5)
    org = Organization.objects.get(code="XM-ZB")
    assert (org.name, org.kind) == ("西门社区党总支", "general_branch")
    event = Event.objects.filter(object_id=str(org.pk), action="update").get()
    assert event.changes["kind"] == ["branch", "general_branch"]


def test_a_dry_run_writes_nothing(world: Any, tmp_path: Path) -> None:
    result = import_orgs(write(tmp_path, GOOD), dry_run=True)
    assert result.ok and result.created == 6
    assert not Organization.objects.exists()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("BAD_CODE,某支部,党支部,,350426100001", "row 2: 组织编码: Use letters, digits"),
        ("X1,某支部,支委,,350426100001", "row 2: 类型: 支委 is not a kind"),
        ("X1,<b>某支部</b>,党支部,,350426100001", "row 2: 名称:"),
        ("X1,某支部,党支部,NOPE,350426100001", "row 2: 上级组织: no organization NOPE"),
        ("X1,某支部,党支部,,999999999999", "row 2: 所属单位: no unit 999999999999 in your scope"),
        ("X1,某支部,联合党支部,,350426100001", "row 2: 所属单位: a joint branch serves two"),
        (
            "X1,某支部,党支部,,350426100001;350426100002",
            "row 2: 所属单位: an organization other than a joint branch serves exactly one",
        ),
        ("X1,某支部,党支部,X1,350426100001", "row 2: 上级组织: an organization cannot sit"),
        ("A" * 33 + ",某支部,党支部,,350426100001", "row 2: 组织编码: at most 32 characters"),
        ("X1," + "支" * 101 + ",党支部,,350426100001", "row 2: 名称: name is longer than 100"),
        ("X1,,党支部,,350426100001", "row 2: 名称: name is empty"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_written(
    world: Any, tmp_path: Path, line: str, problem: str
) -> None:
    result = import_orgs(write(tmp_path, HEADER + line + "\n"))
    assert not result.ok
    assert any(str(p).startswith(problem) for p in result.problems), result.problems
    assert not Organization.objects.exists()


def test_a_loop_of_parents_and_a_duplicate_code_are_refused(world: Any, tmp_path: Path) -> None:
    text = (
        HEADER
        + "A1,甲支部,党支部,B1,350426100001\n"
        + "B1,乙支部,党支部,A1,350426100002\n"
        + "A1,丙支部,党支部,,350426100002\n"
    )
    problems = [str(p) for p in import_orgs(write(tmp_path, text)).problems]
    assert "row 4: 组织编码: duplicate of row 2" in problems
    assert any(p.startswith("row 3: 上级组织: the parents go round in a loop") for p in problems)
    assert not Organization.objects.exists()


def test_the_command_imports_orgs_and_exits_1_on_a_bad_file(world: Any, tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("import", "orgs", str(write(tmp_path, GOOD)), stdout=out)
    assert Organization.objects.count() == 6
    with pytest.raises(CommandError):
        call_command(
            "import",
            "orgs",
            str(write(tmp_path, HEADER + "X,甲,乙,,1\n", "bad.csv")),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


def test_an_importer_sees_only_units_in_their_scope(world: Any, tmp_path: Path) -> None:
    from grassroots.core.imports import run_import
    from grassroots.core.scoping import Scope
    from grassroots.orgs.imports import OrgImporter

    result = run_import(OrgImporter(scope=Scope.of("350426101")), write(tmp_path, GOOD))
    assert "row 2: 所属单位: no unit 350426100 in your scope" in [str(p) for p in result.problems]


# --- Who sees and who edits ------------------------------------------------------------------


@pytest.fixture
def orgs(world: Any, tmp_path: Path) -> dict[str, Organization]:
    assert import_orgs(write(tmp_path, GOOD)).ok
    return {o.code: o for o in Organization.objects.all()}


def seen(user: Any) -> set[str]:
    return set(selectors.organizations_for(user).values_list("code", flat=True))


def test_each_persona_sees_only_the_organizations_of_their_area(world: Any, orgs: Any) -> None:
    users = world.users
    everything = set(orgs)
    assert seen(users["admin"]) == everything
    town_a = {"CG-DW", "SD-ZB", "XM-ZB", "SX-LH"}
    assert seen(users["official"]) == town_a
    # The secretary of 水东社区 sees its branch, the joint branch it belongs to and the town's
    # committee above; not 西门社区's own branch, nor anything of the neighbouring town.
    assert seen(users["secretary"]) == {"CG-DW", "SD-ZB", "SX-LH"}
    assert seen(users["worker"]) == {"CG-DW", "SD-ZB", "SX-LH"}
    assert seen(users["outsider"]) == {"MX-DW", "BS-ZB"}


def test_only_the_town_above_all_its_units_or_the_county_edits(world: Any, orgs: Any) -> None:
    joint = orgs["SX-LH"]
    codes = selectors.unit_codes(joint)
    assert selectors.may_edit(world.users["official"], codes)
    assert selectors.may_edit(world.users["admin"], codes)
    assert not selectors.may_edit(world.users["secretary"], codes)
    assert not selectors.may_edit(world.users["outsider"], codes)
    with pytest.raises(PermissionDenied):
        services.organization_update(
            actor=world.users["secretary"], organization=joint, data={"name": "新名称"}
        )
    services.organization_update(
        actor=world.users["official"], organization=joint, data={"name": "汶联村党支部"}
    )
    joint.refresh_from_db()
    assert joint.name == "汶联村党支部"
    event = Event.objects.filter(object_id=str(joint.pk), action="update").get()
    assert event.changes == {"name": ["水西联合党支部", "汶联村党支部"]}


def test_the_services_check_units_and_parents(world: Any, orgs: Any) -> None:
    admin = world.users["admin"]
    village = Unit.objects.get(code="350426100001")
    with pytest.raises(ValidationError) as refused:
        services.organization_create(
            actor=admin,
            data={"code": "J2", "name": "联合支部", "kind": "joint_branch", "units": [village]},
        )
    assert "units" in refused.value.message_dict
    with pytest.raises(ValidationError) as without_units:
        services.organization_create(
            actor=admin, data={"code": "J3", "name": "无单位支部", "kind": "branch"}
        )
    assert without_units.value.message_dict["units"] == [
        "an organization other than a joint branch serves exactly one unit"
    ]
    committee = orgs["CG-DW"]
    with pytest.raises(ValidationError) as loop:
        services.organization_update(
            actor=admin, organization=committee, data={"parent": orgs["SD-ZB"]}
        )
    assert "parent" in loop.value.message_dict
    new = services.organization_create(
        actor=admin,
        data={"code": "T1", "name": "临时党支部", "kind": "temporary_branch", "units": [village]},
    )
    assert selectors.unit_codes(new) == ["350426100001"]
    assert Event.objects.filter(object_id=str(new.pk), action="create").exists()


def test_an_importer_may_not_change_an_organization_beyond_their_scope(
    world: Any, tmp_path: Path
) -> None:
    from grassroots.core.imports import run_import
    from grassroots.core.scoping import Scope
    from grassroots.orgs.imports import OrgImporter

    assert import_orgs(write(tmp_path, GOOD)).ok
    # 水东社区's people rename the joint branch they share with 西门社区: refused.
    text = HEADER + "SX-LH,改名联合党支部,联合党支部,,350426100001、350426100002\n"
    importer = OrgImporter(scope=Scope.of("350426100001", "350426100002"))
    assert run_import(importer, write(tmp_path, text, "ok.csv")).ok  # both villages: theirs
    text = HEADER + "SX-LH,改名支部,党支部,,350426100001\n"
    result = run_import(OrgImporter(scope=Scope.of("350426100001")), write(tmp_path, text, "x.csv"))
    assert [str(p) for p in result.problems] == [
        "row 2: 组织编码: organization SX-LH serves units outside your scope"
    ]
    assert Organization.objects.get(code="SX-LH").name == "改名联合党支部"

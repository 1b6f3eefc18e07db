"""Joint branches and alliances (issue 13, item 3): an alliance links organizations without
changing anyone's membership; the shared talent pool is searched by skill and availability."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from grassroots.audit.models import Event
from grassroots.orgs import selectors
from grassroots.orgs.imports import import_orgs
from grassroots.orgs.imports_members import import_members
from grassroots.orgs.models import Member, Organization
from grassroots.orgs.services import alliance_save
from tests import factories as f

ORGS = (
    "组织编码,名称,类型,上级组织,所属单位\n"
    "SD-ZB,水东社区党支部,党支部,,350426100001\n"
    "XM-ZB,西门社区党支部,党支部,,350426100002\n"
    "SX-LH,水西联合党支部,联合党支部,,350426100001、350426100002\n"
    "BS-ZB,半山村党支部,党支部,,350426101201\n"
)


@pytest.fixture
def pool(world: Any, tmp_path: Path) -> dict[str, Organization]:
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(ORGS, encoding="utf-8")
    assert import_orgs(orgs).ok
    rows = [
        ("甲", "SD-ZB", "种植、电商"),
        ("乙", "XM-ZB", "法律"),
        ("丙", "SX-LH", "电商"),
        ("丁", "BS-ZB", "电商"),
    ]
    text = "姓名,身份证号,组织编码,类别,入党日期,职务,技能\n" + "".join(
        f"{name},{f.id_number('19800101')},{org},正式党员,2005-07-01,,{skills}\n"
        for name, org, skills in rows
    )
    members = tmp_path / "m.csv"
    members.write_text(text, encoding="utf-8")
    assert import_members(members).ok
    return {o.code: o for o in Organization.objects.all()}


def names(members: Any) -> list[str]:
    return [m.name for m in members]


def test_a_joint_branch_pools_its_own_members_and_its_villages_branches(pool: Any) -> None:
    joint = pool["SX-LH"]
    assert names(selectors.talent(joint, "电商")) == ["丙", "甲"]
    assert names(selectors.talent(joint, "法律")) == ["乙"]
    assert names(selectors.talent(joint)) == ["丙", "乙", "甲"]  # not 半山村's 丁
    Member.objects.filter(name="甲").update(available=False)
    assert names(selectors.talent(joint, "电商")) == ["丙", "甲"]  # the available first
    assert names(selectors.talent(joint, "电商", available_only=True)) == ["丙"]
    # Nobody's membership changed.
    assert Member.objects.get(name="甲").organization.code == "SD-ZB"


def test_an_alliance_links_organizations_across_towns_and_pools_their_talent(
    world: Any, pool: Any
) -> None:
    admin, official = world.users["admin"], world.users["official"]
    orgs = [pool["SD-ZB"], pool["BS-ZB"]]
    with pytest.raises(PermissionDenied):
        alliance_save(
            actor=official, data={"code": "LJ-1", "name": "茶产业联建"}, organizations=orgs
        )
    with pytest.raises(ValidationError) as refused:
        alliance_save(actor=admin, data={"code": "LJ-1", "name": "联建"}, organizations=orgs[:1])
    assert "organizations" in refused.value.message_dict
    alliance = alliance_save(
        actor=admin, data={"code": "LJ-1", "name": "茶产业联建"}, organizations=orgs
    )
    assert names(selectors.talent(alliance, "电商")) == ["丁", "甲"]
    event = Event.objects.get(object_type="orgs.alliance")
    assert event.changes["organizations"] == [None, ["BS-ZB", "SD-ZB"]]
    assert event.scope_code == "350426"
    # Each town's people see the alliance, through their own organization in it.
    assert list(selectors.alliances_for(official)) == [alliance]
    assert list(selectors.alliances_for(world.users["outsider"])) == [alliance]
    assert list(selectors.alliances_for(world.users["auditor"])) == [alliance]

"""Branch life (issue 13, item 4): meetings recorded with attendance, held vs required per
period, missing periods, the attendance rate, the requirements an administrator changes, and
`grassroots orgs life --json`."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.audit.models import Event
from grassroots.orgs.imports import import_orgs
from grassroots.orgs.imports_members import import_members
from grassroots.orgs.life import life, periods
from grassroots.orgs.models import LifeRequirement, Meeting, Member, Organization
from grassroots.orgs.services import meeting_record
from tests import factories as f

D = datetime.date


@pytest.fixture
def branch(world: Any, tmp_path: Path) -> Organization:
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(
        "组织编码,名称,类型,上级组织,所属单位\nSD-ZB,水东社区党支部,党支部,,350426100001\n"
        "MX-DW,梅仙镇党委,党委,,350426101\n",
        encoding="utf-8",
    )
    assert import_orgs(orgs).ok
    members = tmp_path / "m.csv"
    rows = [f"党员{i},{f.id_number('19800101')},SD-ZB,正式党员,2005-07-01" for i in range(4)]
    members.write_text("姓名,身份证号,组织编码,类别,入党日期\n" + "\n".join(rows), encoding="utf-8")
    assert import_members(members).ok
    return Organization.objects.get(code="SD-ZB")


def record(org: Organization, kind: str, day: D, attendance: dict[int, Any] | None = None) -> Any:
    data = {"kind": kind, "held_on": day, "topic": "学习", "place": "村部"}
    return meeting_record(actor=None, organization=org, data=data, attendance=attendance or {})


def test_periods_are_counted_when_they_end_inside_the_range() -> None:
    labels = [p.label for p in periods("quarter", D(2026, 2, 15), D(2026, 9, 30))]
    assert labels == ["2026Q1", "2026Q2", "2026Q3"]
    assert [p.label for p in periods("quarter", D(2026, 2, 15), D(2026, 9, 29))] == [
        "2026Q1",
        "2026Q2",
    ]
    months = [p.label for p in periods("month", D(2025, 11, 30), D(2026, 2, 27))]
    assert months == ["2025-11", "2025-12", "2026-01"]


def test_held_against_required_with_missing_periods_and_attendance(branch: Organization) -> None:
    a, b, c, d = Member.objects.order_by("pk").values_list("pk", flat=True)
    record(branch, "member_meeting", D(2026, 2, 10), {a: ("present", ""), b: ("present", "")})
    record(branch, "member_meeting", D(2026, 8, 1), {a: ("present", ""), b: ("absent", "生病")})
    record(branch, "committee_meeting", D(2026, 1, 5), {c: ("leave", "外出")})
    record(branch, "committee_meeting", D(2026, 1, 20))
    record(branch, "committee_meeting", D(2026, 3, 3), {d: ("absent", "务工")})
    result = life(branch, D(2026, 1, 1), D(2026, 9, 30)).as_json()
    kinds = result["kinds"]
    assert kinds["member_meeting"] == {"required": 3, "held": 2, "missing_periods": ["2026Q2"]}
    committee = kinds["committee_meeting"]
    assert (committee["required"], committee["held"]) == (9, 3)
    assert committee["missing_periods"] == [f"2026-{m:02d}" for m in range(2, 10) if m != 3]
    assert kinds["party_lecture"]["missing_periods"] == ["2026Q1", "2026Q2", "2026Q3"]
    assert set(kinds) == {
        "member_meeting",
        "committee_meeting",
        "group_meeting",
        "party_lecture",
        "theme_day",
    }
    # 3 present of 5 expected (the member on leave is excused).
    assert result["attendance_rate"] == 0.6
    assert result["org"] == "SD-ZB"


def test_an_administrator_changes_what_is_required(branch: Organization) -> None:
    LifeRequirement.objects.create(kind="member_meeting", period="month", times=2)
    record(branch, "member_meeting", D(2026, 1, 5))
    kinds = life(branch, D(2026, 1, 1), D(2026, 2, 28)).kinds
    assert (kinds["member_meeting"].required, kinds["member_meeting"].held) == (4, 1)
    assert kinds["member_meeting"].missing_periods == ["2026-01", "2026-02"]


def test_recording_a_meeting_checks_and_audits(world: Any, branch: Organization) -> None:
    member = Member.objects.first()
    other = Organization.objects.get(code="MX-DW")
    data = {"kind": "theme_day", "held_on": D(2026, 3, 1), "topic": "主题党日"}
    with pytest.raises(ValidationError) as refused:
        meeting_record(
            actor=None, organization=branch, data=data, attendance={member.pk: ("absent", "")}
        )
    assert "attendance" in refused.value.message_dict
    stranger = Member.objects.create(
        organization=other,
        name="外人",
        id_number=f.id_number("19700101"),
        status="formal",
        joined_on=D(2000, 1, 1),
    )
    for attendance, message in [
        ({stranger.pk: ("present", "")}, f"member {stranger.pk} is not a member"),
        ({member.pk: ("late", "")}, "late is not an attendance"),
    ]:
        with pytest.raises(ValidationError) as wrong:
            meeting_record(actor=None, organization=branch, data=data, attendance=attendance)
        assert wrong.value.message_dict["attendance"][0].startswith(message)
    with pytest.raises(ValidationError) as future:
        meeting_record(actor=None, organization=branch, data={**data, "held_on": D(2999, 1, 1)})
    assert future.value.message_dict["held_on"] == ["a meeting is recorded once it is held"]
    with pytest.raises(PermissionDenied):
        meeting_record(actor=world.users["outsider"], organization=branch, data=data)
    with pytest.raises(PermissionDenied):
        meeting_record(actor=world.users["secretary"], organization=other, data=data)
    meeting = meeting_record(
        actor=world.users["secretary"],
        organization=branch,
        data=data,
        attendance={member.pk: ("present", "")},
    )
    event = Event.objects.get(object_type="orgs.meeting", object_id=str(meeting.pk))
    assert event.scope_code == "350426100001"
    assert event.changes["attendance"][1]["present"] == 1


def test_the_command_prints_the_life_as_json(branch: Organization) -> None:
    record(branch, "theme_day", D(2026, 1, 15))
    out = io.StringIO()
    call_command(
        "orgs",
        "life",
        "--org",
        "SD-ZB",
        "--since",
        "2026-01-01",
        "--until",
        "2026-03-31",
        "--json",
        stdout=out,
    )
    printed = json.loads(out.getvalue())
    assert printed["org"] == "SD-ZB"
    assert printed["kinds"]["theme_day"] == {
        "required": 3,
        "held": 1,
        "missing_periods": ["2026-02", "2026-03"],
    }
    assert 0 <= printed["attendance_rate"] <= 1
    with pytest.raises(CommandError, match="no organization NOPE"):
        call_command(
            "orgs", "life", "--org", "NOPE", "--since", "2026-01-01", "--until", "2026-03-31"
        )
    with pytest.raises(CommandError, match="--since comes after --until"):
        call_command(
            "orgs", "life", "--org", "SD-ZB", "--since", "2026-04-01", "--until", "2026-03-31"
        )
    with pytest.raises(CommandError, match="not a date"):
        call_command(
            "orgs", "life", "--org", "SD-ZB", "--since", "2026-13-01", "--until", "2026-03-31"
        )


def test_the_overview_of_many_organizations_takes_two_queries(
    branch: Organization, django_assert_num_queries: Any
) -> None:
    from grassroots.orgs.life import life_overview

    other = Organization.objects.get(code="MX-DW")
    record(branch, "party_lecture", D(2026, 2, 1))
    record(other, "party_lecture", D(2026, 5, 1))
    orgs = list(Organization.objects.order_by("code"))
    with django_assert_num_queries(2):  # requirements, meetings with their attendance counts
        lives = life_overview(orgs, D(2026, 1, 1), D(2026, 6, 30))
    assert lives[branch.pk].kinds["party_lecture"].missing_periods == ["2026Q2"]
    assert lives[other.pk].kinds["party_lecture"].missing_periods == ["2026Q1"]


def test_the_attendance_counts_kept_on_a_meeting_are_its_attendance(branch: Organization) -> None:
    """The counts the overview sums are those of the attendance rows, and the migration that
    added them counts the meetings recorded before."""
    import importlib

    from django.apps import apps

    people = list(branch.members.order_by("pk").values_list("pk", flat=True))
    meeting = record(
        branch,
        "member_meeting",
        D(2026, 3, 2),
        {people[0]: ("present", ""), people[1]: ("absent", "生病"), people[2]: ("leave", "")},
    )
    assert (meeting.present_count, meeting.absent_count, meeting.leave_count) == (1, 1, 1)
    Meeting.objects.filter(pk=meeting.pk).update(present_count=0, absent_count=0, leave_count=0)
    migration = importlib.import_module("grassroots.orgs.migrations.0006_meeting_attendance_counts")
    migration.fill(apps, None)
    meeting.refresh_from_db()
    assert (meeting.present_count, meeting.absent_count, meeting.leave_count) == (1, 1, 1)
    assert life(branch, D(2026, 1, 1), D(2026, 3, 31)).attendance_rate == 0.5

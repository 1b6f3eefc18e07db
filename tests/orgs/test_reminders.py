"""Branch life reminders (issue 13, item 4): before a month or a quarter ends, the secretary of
an organization still missing a required kind of meeting is told once, through the
notification backends; the village secretary or the town's officials stand in for a secretary
without an account; `grassroots orgs remind` and the worker's daily task."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from grassroots.accounts.models import ApiToken
from grassroots.audit.models import Event
from grassroots.cases.models import Notification
from grassroots.cases.notify import deliver_due, tell_people
from grassroots.core.tasks import PERIODIC
from grassroots.orgs import reminders
from grassroots.orgs.imports import import_orgs
from grassroots.orgs.imports_members import import_members
from grassroots.orgs.models import (
    LifeReminder,
    LifeRequirement,
    Member,
    MemberPost,
    Organization,
)
from grassroots.orgs.reminders import claim, missing, remind
from grassroots.orgs.services import meeting_record
from grassroots.orgs.tasks import remind_branch_life
from tests import factories as f

D = datetime.date
MONTHLY = {"committee_meeting", "group_meeting", "theme_day"}
QUARTERLY = {"member_meeting", "party_lecture"}


@pytest.fixture(autouse=True)
def console_only(settings: Any) -> None:
    settings.NOTIFICATION_BACKENDS = ["console"]
    settings.ORGS_REMINDER_DAYS = 7


def load(tmp_path: Path, orgs: str, members: str = "") -> None:
    path = tmp_path / "orgs.csv"
    path.write_text("组织编码,名称,类型,上级组织,所属单位\n" + orgs, encoding="utf-8")
    assert import_orgs(path).ok
    if members:
        path = tmp_path / "members.csv"
        path.write_text("姓名,身份证号,组织编码,类别,入党日期,职务\n" + members, encoding="utf-8")
        assert import_members(path).ok


@pytest.fixture
def branch(world: Any, tmp_path: Path) -> Organization:
    """水东社区党支部 serving village A1: its secretary 赵书记 has the account `zhao`."""
    members = "".join(
        f"{name},{f.id_number('19800101')},SD-ZB,正式党员,2005-07-01,{post}\n"
        for name, post in (("赵书记", "书记"), ("钱委员", "委员"))
    )
    load(tmp_path, "SD-ZB,水东社区党支部,党支部,,350426100001\n", members)
    zhao = f.user("zhao", "grid_worker", "350426100001001")
    Member.objects.filter(name="赵书记").update(user=zhao)
    return Organization.objects.get(code="SD-ZB")


APRIL_10 = D(2026, 4, 10)


def hold(org: Organization, *kinds: str, on: D = APRIL_10) -> None:
    for kind in kinds:
        data = {"kind": kind, "held_on": on, "topic": "学习", "place": "村部"}
        meeting_record(actor=None, organization=org, data=data, attendance={})


def told(result: reminders.Reminded) -> dict[str, set[tuple[str, str, str]]]:
    return {
        name: {(d.organization.code, d.kind, d.period.label) for d in dues}
        for name, dues in result.told.items()
    }


def test_it_reminds_the_secretary_a_week_before_the_month_ends(branch: Organization) -> None:
    hold(branch, "committee_meeting", "group_meeting")
    # 30 April is eight days away: too early; from seven days on, the missing theme day is due.
    assert remind(D(2026, 4, 22)).reminders == 0
    assert not Notification.objects.exists()

    result = remind(D(2026, 4, 23))

    assert told(result) == {"zhao": {("SD-ZB", "theme_day", "2026-04")}}
    row = Notification.objects.get()
    assert (row.recipient.username, row.case, row.backend) == ("zhao", None, "console")
    assert row.scope_code == "350426100001"
    assert row.status == Notification.Status.PENDING
    assert row.subject == "Branch life: 1 required meeting not held yet"
    assert (
        "水东社区党支部: Theme party day (主题党日), 2026-04: 0 held of 1 required, 7 days left"
        in (row.body)
    )
    assert "*" not in row.body  # told as the secretary, not in anyone's place
    assert LifeReminder.objects.filter(
        organization=branch, kind="theme_day", period="2026-04"
    ).exists()


def test_the_reminder_goes_out_through_the_backends(
    branch: Organization, capsys: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        remind(D(2026, 4, 30))
    assert callbacks, "delivery is enqueued when the reminders commit"
    assert deliver_due(timezone.now()).sent == 1
    out = capsys.readouterr().out
    assert "to zhao\nSubject: Branch life: 3 required meetings not held yet" in out
    assert "ends today" in out and "(case" not in out


def test_it_does_not_remind_an_organization_that_held_its_meetings(
    branch: Organization,
) -> None:
    hold(branch, *MONTHLY)
    result = remind(D(2026, 4, 28))
    assert (result.reminders, result.told, result.unserved) == (0, {}, [])
    assert not Notification.objects.exists()
    assert not Event.objects.filter(object_type="orgs.lifereminder").exists()


def test_a_required_number_of_times_counts(branch: Organization) -> None:
    # An administrator asks for two theme days a month.
    LifeRequirement.objects.create(kind="theme_day", period="month", times=2)
    hold(branch, *MONTHLY)
    result = remind(D(2026, 4, 28))
    assert [(d.kind, d.held, d.times) for d in result.told["zhao"]] == [("theme_day", 1, 2)]


def test_it_reminds_once_per_organization_kind_and_period(branch: Organization) -> None:
    first = remind(D(2026, 4, 24))
    assert first.reminders == 3 and first.notifications == 1
    second = remind(D(2026, 4, 25))
    assert (second.reminders, second.notifications, second.told) == (0, 0, {})
    assert Notification.objects.count() == 1
    # The next month is a new period.
    assert remind(D(2026, 5, 25)).reminders == 3


def test_the_run_is_audited_with_its_counts(branch: Organization) -> None:
    remind(D(2026, 4, 24))
    event = Event.objects.get(object_type="orgs.lifereminder")
    assert event.action == "create" and event.scope_code == "350426100001"
    assert event.changes == {
        "reminders": 3,
        "people": 1,
        "notifications": 1,
        "unserved": 0,
        "today": "2026-04-24",
    }
    assert event.object_repr == "Branch life reminders: 3 sent, 1 people told"
    remind(D(2026, 4, 25))  # nothing sent: no event
    assert Event.objects.filter(object_type="orgs.lifereminder").count() == 1


def test_a_quarterly_kind_is_reminded_only_near_the_quarters_end(branch: Organization) -> None:
    # 25 February: February ends in 3 days, the first quarter in 34.
    kinds = {d.kind for d in missing(D(2026, 2, 25))}
    assert kinds == MONTHLY
    hold(branch, *MONTHLY, on=D(2026, 3, 2))
    result = remind(D(2026, 3, 25))
    assert told(result) == {"zhao": {("SD-ZB", kind, "2026Q1") for kind in QUARTERLY}}
    assert "Party lecture (党课), 2026Q1: 0 held of 1 required, 6 days left" in (
        Notification.objects.get().body
    )


def test_the_village_secretary_stands_in_for_a_secretary_without_an_account(
    world: Any, branch: Organization
) -> None:
    zhao = Member.objects.get(name="赵书记").user
    zhao.is_active = False
    zhao.save()
    result = remind(D(2026, 4, 24))
    assert set(result.told) == {"secretary"}
    row = Notification.objects.get()
    assert row.recipient == world.users["secretary"] and row.scope_code == "350426100001"
    assert (
        "水东社区党支部: Theme party day (主题党日), 2026-04: 0 held of 1 required, 6 days left *"
        in (row.body)
    )
    assert "* No secretary of this organization has an account" in row.body


def test_without_a_secretary_post_held_the_village_secretary_is_told(
    world: Any, branch: Organization
) -> None:
    MemberPost.objects.filter(post="secretary").update(ended_on=D(2026, 1, 31))
    assert set(remind(D(2026, 4, 24)).told) == {"secretary"}


def test_the_town_officials_stand_in_when_no_village_secretary_serves(
    world: Any, tmp_path: Path
) -> None:
    load(
        tmp_path,
        "MX-DW,梅仙镇党委,党委,,350426101\n"
        "BS-ZB,半山村党支部,党支部,MX-DW,350426101201\n"
        "KX-LH,跨镇联合党支部,联合党支部,,350426100001、350426101201\n"
        "XB-LH,西半联合党支部,联合党支部,,350426100002、350426101201\n",
    )
    result = remind(D(2026, 4, 24))
    # No village secretary serves 半山村: town B's official holds the village. A1's secretary
    # holds one unit of the first joint branch; nobody is village secretary of 西门社区 or
    # 半山村, and no town official holds both towns of the second. The town's party committee
    # has no branch life to be reminded of.
    assert {name: {code for code, _k, _p in dues} for name, dues in told(result).items()} == {
        "outsider": {"BS-ZB"},
        "secretary": {"KX-LH"},
    }
    assert {d.organization.code for d in result.unserved} == {"XB-LH"}
    assert {row.recipient.username for row in Notification.objects.all()} == {
        "outsider",
        "secretary",
    }
    outsider = Notification.objects.get(recipient__username="outsider")
    assert outsider.scope_code == "350426101201"
    assert outsider.subject == "Branch life: 3 required meetings not held yet"
    assert outsider.body.count("半山村党支部: ") == 3 and outsider.body.count(" *\n") == 3
    assert not LifeReminder.objects.filter(organization__code__in=["MX-DW", "XB-LH"]).exists()


def test_nobody_to_tell_is_tried_again_on_the_next_run(world: Any, tmp_path: Path) -> None:
    load(tmp_path, "XM-ZB,西门社区党支部,党支部,,350426100002\n")  # no secretary of A2
    world.users["official"].is_active = False
    world.users["official"].save()
    result = remind(D(2026, 4, 24))
    assert (result.reminders, len(result.unserved)) == (0, 3)
    assert not LifeReminder.objects.exists()
    official = f.user("official2", "town_official", "350426100")
    again = remind(D(2026, 4, 25))
    assert set(again.told) == {official.username} and again.reminders == 3


def test_one_digest_per_person_for_all_their_organizations(world: Any, tmp_path: Path) -> None:
    load(
        tmp_path,
        "SD-ZB,水东社区党支部,党支部,,350426100001\nSX-LH,水西联合党支部,联合党支部,,"
        "350426100001、350426100002\n",
    )
    result = remind(D(2026, 4, 24))
    assert set(result.told) == {"secretary"} and result.reminders == 6
    row = Notification.objects.get()
    assert row.subject == "Branch life: 6 required meetings not held yet"
    assert row.scope_code == "350426100"  # the common unit of both organizations


def test_claim_inserts_first_and_tells_only_what_it_recorded(branch: Organization) -> None:
    """Two runs at once: the rows another run recorded before or meanwhile are not this run's
    to tell (the unique constraint keeps one row; each run reads back its own stamp)."""
    dues = missing(D(2026, 4, 24))
    assert len(dues) == 3
    theme_day = next(d for d in dues if d.kind == "theme_day")
    other_run = timezone.now() - datetime.timedelta(seconds=1)
    LifeReminder.objects.create(
        organization=branch, kind="theme_day", period="2026-04", sent_at=other_run
    )
    mine = claim(dues, timezone.now())
    assert {d.kind for d in mine} == {"committee_meeting", "group_meeting"}
    assert theme_day not in mine
    assert claim(dues, timezone.now()) == []
    assert LifeReminder.objects.count() == 3
    assert LifeReminder.objects.get(kind="theme_day").sent_at == other_run


def test_a_run_racing_another_tells_only_what_it_claimed(
    branch: Organization, monkeypatch: Any
) -> None:
    """Another worker records the theme day between this run's reading and its insert."""
    found = reminders.recipients

    def meanwhile(dues: Any) -> Any:
        LifeReminder.objects.create(organization=branch, kind="theme_day", period="2026-04")
        return found(dues)

    monkeypatch.setattr(reminders, "recipients", meanwhile)
    result = remind(D(2026, 4, 24))
    assert {d.kind for d in result.told["zhao"]} == {"committee_meeting", "group_meeting"}
    assert "Theme party day" not in Notification.objects.get().body


def test_the_command_prints_what_was_sent(branch: Organization) -> None:
    out = io.StringIO()
    call_command("orgs", "remind", "--today", "2026-04-24", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "2026-04-24: reminders sent 3, people told 1, notifications 1, nobody to tell 0"
    )
    assert (
        "  zhao: 水东社区党支部: Theme party day (主题党日), 2026-04: 0 held of 1 required, "
        "6 days left (SD-ZB)"
    ) in lines
    out = io.StringIO()
    call_command("orgs", "remind", "--today", "2026-04-24", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "today": "2026-04-24",
        "reminders": 0,
        "notifications": 0,
        "told": {},
        "unserved": [],
    }


def test_the_command_json_lists_each_reminder(branch: Organization) -> None:
    out = io.StringIO()
    call_command("orgs", "remind", "--today", "2026-04-30", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["reminders"] == 3 and data["notifications"] == 1
    assert {
        "org": "SD-ZB",
        "kind": "theme_day",
        "period": "2026-04",
        "held": 0,
        "required": 1,
        "days_left": 0,
    } in data["told"]["zhao"]


def test_the_command_refuses_a_bad_date(db: Any) -> None:
    with pytest.raises(CommandError, match="30/04/2026 is not a date"):
        call_command("orgs", "remind", "--today", "30/04/2026", stdout=io.StringIO())


def test_the_worker_runs_the_reminders_daily(branch: Organization, monkeypatch: Any) -> None:
    assert PERIODIC["remind_every"].every == 86400
    assert PERIODIC["remind_every"].task is remind_branch_life
    monkeypatch.setattr(timezone, "localdate", lambda: D(2026, 4, 24))
    assert remind_branch_life.call() == {
        "reminders": 3,
        "people": 1,
        "notifications": 1,
        "unserved": 0,
    }
    event = Event.objects.get(object_type="orgs.lifereminder")
    assert (event.channel, event.actor_name) == ("task", "task:remind_branch_life")


def test_the_api_lists_a_reminder_with_no_case(world: Any, branch: Organization) -> None:
    remind(D(2026, 4, 24))
    token = ApiToken.issue(world.users["official"])[1]
    response = Client().get("/api/v1/notifications", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert (item["case"], item["recipient"], item["scope_code"]) == (
        None,
        "zhao",
        "350426100001",
    )
    # An official of another town sees nothing of it.
    token = ApiToken.issue(world.users["outsider"])[1]
    response = Client().get("/api/v1/notifications", headers={"Authorization": f"Bearer {token}"})
    assert response.json()["items"] == []


def test_tell_people_skips_inactive_users_and_keeps_the_scope(world: Any) -> None:
    inactive = f.user("gone", "village_secretary", "350426100002", is_active=False)
    written = tell_people(
        {
            world.users["secretary"].pk: ("a\nsubject", "body", "350426100001"),
            inactive.pk: ("s", "b", "350426100002"),
        }
    )
    assert written == 1
    row = Notification.objects.get()
    assert (row.subject, row.case, row.scope_code) == ("a subject", None, "350426100001")


@pytest.mark.chinese
def test_the_reminder_is_worded_in_chinese_by_default(branch: Organization) -> None:
    remind(D(2026, 4, 24))
    row = Notification.objects.get()
    assert row.subject == "组织生活提醒：尚有 3 次规定会议未召开"
    assert "水东社区党支部：主题党日（2026-04）应开 1 次，已开 0 次，还剩 6 天" in row.body

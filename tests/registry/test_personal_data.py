"""grassroots person export / anonymize: personal-data requests."""

from __future__ import annotations

import datetime
import io
import json
import os
import stat
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.core import crypto
from grassroots.core.scoping import Scope
from grassroots.core.validators import id_number_with_check, mask_id_number, parse_id_number
from grassroots.registry.coverage import coverage_report
from grassroots.registry.models import Resident
from grassroots.registry.personal_data import (
    ANONYMIZED_NAME,
    anonymized_id_number,
    is_anonymized_number,
)
from grassroots.registry.selectors import household_list, resident_search_q
from tests import factories as f

NAME = "赵光菊"
PHONE = "13912345678"


def run(*args: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("person", *[str(a) for a in args], stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def person(world: Any) -> dict[str, Any]:
    """赵光菊 twice (merged registers: HA11-1 in village A1, HA21-1 in village A2), with a
    spouse, care, sensitive and other tags, and one recorded change."""
    first = world.residents[NAME]
    before = audit.snapshot(first)
    first.phone = PHONE
    first.tags = "|低保|党员|社区矫正|"
    first.save()
    audit.updated(first, before, reason="phone changed")
    spouse = f.resident("孙小美", world.households["HA11-1"], relation="spouse")
    second = f.resident(
        NAME,
        world.households["HA21-1"],
        number=first.id_number,
        phone=PHONE,
        relation="other",
        tags="|低保|",
    )
    return {"number": first.id_number, "rows": [first, second], "spouse": spouse}


def export(*args: Any) -> dict[str, Any]:
    code, out, err = run("export", *args)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def database_dump() -> str:
    """Every row of every table, as text."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            parts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(parts)


def counts(world: Any) -> tuple[dict[str, Any], dict[str, int]]:
    """Coverage audit figures and household member counts."""
    report = coverage_report(Scope.everything()).as_dict()
    report.pop("samples")
    members = {h.code: h.member_count for h in household_list(user=world.users["admin"])}
    return report, members


# export


def test_it_exports_everything_held_about_the_person(person):
    data = export(person["number"])
    assert data["format"] == "grassroots.personal-data/1"
    assert datetime.datetime.fromisoformat(data["generated_at"]).tzinfo is not None
    assert data["generated_by"].startswith("os:")
    assert data["id_number"] == person["number"]
    first, second = data["records"]
    parsed = parse_id_number(person["number"])
    assert first["name"] == NAME and first["id_number"] == person["number"]
    assert first["phone"] == PHONE
    assert first["birth_date"] == parsed.birth_date.isoformat()
    assert first["sex"] == parsed.sex and first["age"] == person["rows"][0].age
    assert first["residency"] == "registered" and first["deceased_on"] is None
    assert {"name": "社区矫正", "kind": "sensitive"} in first["tags"]
    assert {"name": "低保", "kind": "care"} in first["tags"]
    assert first["grid"] == {"code": "350426100001001", "name": "水东一网格"}
    assert first["unit"] == {"code": "350426100001", "name": "水东社区"}
    household = first["household"]
    assert household["code"] == "HA11-1" and household["address"] == "地址HA11-1"
    assert household["relation"] == "head"
    assert household["other_members"] == [{"name": "孙**", "relation": "spouse"}]
    assert second["household"]["code"] == "HA21-1" and second["household"]["other_members"] == [
        {"name": "李*", "relation": "head"}
    ]
    assert datetime.datetime.fromisoformat(first["created_at"]).tzinfo is not None


def test_it_gives_nothing_of_other_people(person):
    code, out, _err = run("export", person["number"])
    assert code == 0
    assert "孙小美" not in out and "李白" not in out
    assert person["spouse"].id_number not in out


def test_it_exports_the_audit_history_of_the_person(person):
    history = export(person["number"])["records"][0]["history"]
    # The change, and apart the sensitive tag it gave (their own copy: both are theirs).
    assert [e["action"] for e in history] == ["update", "update"]
    [change] = [e for e in history if "phone" in e["changes"]]
    assert change["channel"] == "command"
    assert change["changes"]["phone"] == ["138****8000", "139****5678"]
    assert change["changes"]["tags"] == ["", "|低保|党员|"]
    [secret] = [e for e in history if e is not change]
    assert secret["changes"] == {"tags": ["", "|低保|党员|社区矫正|"]}
    assert datetime.datetime.fromisoformat(change["at"]).tzinfo is not None


def test_it_records_an_export_event_per_record(person):
    export(person["number"], "--reason", "request 2024-17")
    events = Event.objects.filter(action=Event.Action.EXPORT).order_by("object_id")
    assert [e.object_id for e in events] == sorted(str(r.pk) for r in person["rows"])
    for event in events:
        assert event.reason == "request 2024-17"
        assert event.channel == "command" and event.actor_name.startswith("os:")
        assert event.object_repr == f"赵** {mask_id_number(person['number'])}"


def test_it_writes_the_file_readable_by_its_owner_only(person, tmp_path):
    target = tmp_path / "person.json"
    code, out, err = run("export", person["number"], "--output", target)
    assert code == 0 and out == ""
    assert f"wrote 2 record(s) to {target}" in err
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert json.loads(target.read_text(encoding="utf-8"))["records"][0]["name"] == NAME


def test_it_makes_an_existing_file_private(person, tmp_path):
    target = tmp_path / "person.json"
    target.write_text("old")
    target.chmod(0o644)
    assert run("export", person["number"], "--output", target)[0] == 0
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_it_says_when_the_file_cannot_be_written(person, tmp_path):
    code, _out, err = run("export", person["number"], "--output", tmp_path / "no" / "x.json")
    assert code == 1
    assert f"--output: cannot write {tmp_path / 'no' / 'x.json'} (No such file" in err
    assert not Event.objects.filter(action=Event.Action.EXPORT).exists()


def test_it_refuses_a_malformed_number(person, tmp_path):
    target = tmp_path / "person.json"
    bad = person["number"][:-1] + ("0" if person["number"][-1] != "0" else "1")
    code, out, err = run("export", bad, "--output", target)
    assert code == 1 and out == ""
    assert "ID_NUMBER: ID number check character is wrong" in err
    assert not target.exists()
    code, _out, err = run("export", "12345")
    assert code == 1 and "ID_NUMBER: ID number must have 18 characters, not 5" in err
    assert not Event.objects.filter(action=Event.Action.EXPORT).exists()


def test_it_says_when_nobody_holds_the_number(person, tmp_path):
    target = tmp_path / "person.json"
    code, out, err = run("export", f.id_number("19700101"), "--output", target)
    assert code == 1 and out == ""
    assert "ID_NUMBER: no resident with this ID number" in err
    assert not target.exists()


def test_it_exports_as_a_user_within_their_scope(person):
    data = export(person["number"], "--as-user", "worker")
    assert [r["household"]["code"] for r in data["records"]] == ["HA11-1"]
    assert data["generated_by"] == "worker"
    event = Event.objects.get(action=Event.Action.EXPORT)
    assert event.actor_name == "worker" and event.channel == "command"


def test_it_refuses_users_who_may_not_see_the_person(person):
    code, _out, err = run("export", person["number"], "--as-user", "outsider")
    assert code == 1 and "ID_NUMBER: no resident with this ID number" in err
    code, _out, err = run("export", person["number"], "--as-user", "nobody")
    assert code == 1 and "--as-user: no user named nobody" in err
    f.user("handler", "department_handler", "350426")
    code, _out, err = run("export", person["number"], "--as-user", "handler")
    assert code == 1
    assert "--as-user: handler may not do this (needs registry.view_resident)" in err
    f.user("gone", "county_admin", "350426", is_active=False)
    code, _out, err = run("export", person["number"], "--as-user", "gone")
    assert code == 1 and "--as-user: gone is not active" in err
    assert not Event.objects.filter(action=Event.Action.EXPORT).exists()


# anonymize


def test_it_removes_the_identity(person):
    number = person["number"]
    code, out, err = run("anonymize", number, "--yes", "--reason", "erasure request 7")
    assert code == 0, err
    assert "anonymized 2 record(s); they now read 已** 00" in out
    rows = list(Resident.objects.filter(pk__in=[r.pk for r in person["rows"]]).order_by("pk"))
    parsed = parse_id_number(number)
    assert len({r.id_number for r in rows}) == 1
    for r in rows:
        assert r.name == ANONYMIZED_NAME
        assert r.id_number != number and is_anonymized_number(r.id_number)
        assert r.birth_date == datetime.date(parsed.birth_date.year, 1, 1)
        assert r.sex == parsed.sex
        assert r.phone == "" and r.phone_hash == ""
        assert (r.name_key, r.name_pinyin, r.name_initials) == ("", "", "")
        assert r.tags == "|低保|"  # care tags stay; sensitive and other tags go
    assert rows[0].household.code == "HA11-1" and rows[0].relation == "head"
    assert rows[1].household.code == "HA21-1" and rows[1].relation == "other"


def test_it_cannot_find_the_person_afterwards(person):
    number = person["number"]
    pks = {r.pk for r in person["rows"]}
    assert run("anonymize", number, "--yes")[0] == 0
    assert not Resident.objects.with_id_number(number).exists()
    assert not Resident.objects.with_phone(PHONE).exists()
    for query in (NAME, "光菊", "趙光菊", "zgj", "zhaoguangju", number, number[-6:]):
        found = set(Resident.objects.filter(resident_search_q(query)).values_list("pk", flat=True))
        assert not found & pks, query
    code, _out, err = run("export", number)
    assert code == 1 and "ID_NUMBER: no resident with this ID number" in err


def test_it_keeps_every_count(world, person):
    f.resident("流动人员", None, unit_=world.county)
    before = counts(world)
    assert before[0]["duplicate_id_numbers"] == 1
    assert run("anonymize", person["number"], "--yes")[0] == 0
    assert counts(world) == before


def test_it_leaves_no_trace_of_the_number_in_the_database(person):
    number = person["number"]
    assert number not in database_dump()  # encrypted at rest already
    assert crypto.digest(number) in database_dump()
    assert run("anonymize", number, "--yes")[0] == 0
    dump = database_dump()
    for secret in (number, PHONE, NAME, json.dumps(NAME)[1:-1], crypto.digest(number)):
        assert secret not in dump
    assert crypto.digest(PHONE) not in dump


def test_it_records_the_masked_changes_with_reason_and_actor(person):
    number = person["number"]
    assert run("anonymize", number, "--yes", "--reason", "erasure request 7")[0] == 0
    anonymized = Event.objects.filter(action=Event.Action.ANONYMIZE).order_by("object_id")
    events = list(anonymized.filter(sensitive=False))
    assert [e.object_id for e in events] == sorted(str(r.pk) for r in person["rows"])
    # The sensitive tag it removed is recorded apart, behind the grant.
    [secret] = anonymized.filter(sensitive=True)
    assert secret.object_id == events[0].object_id
    assert secret.changes == {"tags": ["|低保|党员|社区矫正|", "|低保|"]}
    new = Resident.objects.get(pk=person["rows"][0].pk).id_number
    for event in events:
        assert event.reason == "erasure request 7"
        assert event.channel == "command" and event.actor_name.startswith("os:")
        assert event.changes["name"] == ["赵**", "已**"]
        assert event.changes["id_number"] == [mask_id_number(number), mask_id_number(new)]
        assert event.changes["phone"] == ["139****5678", ""]
        assert event.object_repr == f"已** {mask_id_number(new)}"
    assert events[0].changes["tags"] == ["|低保|党员|", "|低保|"]
    assert "tags" not in events[1].changes
    # What was recorded before stays (append-only), masked.
    assert Event.objects.filter(action=Event.Action.UPDATE, reason="phone changed").exists()


def test_both_requests_are_in_the_audit_trail(person):
    export(person["number"], "--reason", "copy")
    assert run("anonymize", person["number"], "--yes", "--reason", "erase")[0] == 0
    pk = str(person["rows"][0].pk)
    actions = list(
        Event.objects.filter(object_type="registry.resident", object_id=pk, sensitive=False)
        .order_by("at", "pk")
        .values_list("action", "reason")
    )
    assert actions == [("update", "phone changed"), ("export", "copy"), ("anonymize", "erase")]


def test_an_anonymized_record_keeps_the_model_rules(person):
    assert run("anonymize", person["number"], "--yes")[0] == 0
    r = Resident.objects.get(pk=person["rows"][0].pk)
    r.full_clean()
    r.save()  # an edit in the admin later on
    parsed = parse_id_number(r.id_number)
    assert (parsed.birth_date, parsed.sex) == (r.birth_date, r.sex)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(
    year=st.integers(min_value=1880, max_value=datetime.date.today().year),
    sex=st.sampled_from(["M", "F"]),
)
def test_synthetic_numbers_are_valid_and_never_real(year, sex):
    number = anonymized_id_number(birth_year=year, sex=sex)
    parsed = parse_id_number(number)
    assert number.startswith("00") and is_anonymized_number(number)
    assert parsed.birth_date == datetime.date(year, 1, 1) and parsed.sex == sex


def test_synthetic_numbers_avoid_numbers_in_use(world, monkeypatch):
    from grassroots.registry import personal_data

    taken = id_number_with_check("00000019800101000")
    f.resident("占位", None, unit_=world.county, number=taken)
    draws = iter([0, 0, 1, 0])  # the first draw is the number in use, the second is free
    monkeypatch.setattr(personal_data.secrets, "randbelow", lambda _n: next(draws))
    number = anonymized_id_number(birth_year=1980, sex="F")
    assert number != taken and number.startswith("0000011980010100")


def test_it_acts_as_a_user_whose_scope_covers_every_record(person):
    code, out, err = run("anonymize", person["number"], "--yes", "--as-user", "official")
    assert code == 0, err
    events = Event.objects.filter(action=Event.Action.ANONYMIZE)
    assert {e.actor_name for e in events} == {"official"}


def test_it_refuses_a_partial_anonymization(person):
    code, _out, err = run("anonymize", person["number"], "--yes", "--as-user", "worker")
    assert code == 1
    assert (
        "--as-user: 1 record(s) of this person lie outside the scope of worker; anonymize with"
        " an account whose scope covers them all" in err
    )
    assert Resident.objects.with_id_number(person["number"]).count() == 2
    assert not Event.objects.filter(action=Event.Action.ANONYMIZE).exists()


def test_it_refuses_users_who_may_not_change_the_person(person):
    code, _out, err = run("anonymize", person["number"], "--yes", "--as-user", "auditor")
    assert code == 1
    assert "--as-user: auditor may not do this (needs registry.change_resident)" in err
    code, _out, err = run("anonymize", person["number"], "--yes", "--as-user", "outsider")
    assert code == 1 and "ID_NUMBER: no resident with this ID number" in err
    code, _out, err = run("anonymize", "35042619800101001", "--yes")
    assert code == 1 and "ID_NUMBER: ID number must have 18 characters, not 17" in err
    assert Resident.objects.with_id_number(person["number"]).count() == 2


def test_it_asks_before_anonymizing(person, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, _out, err = run("anonymize", person["number"])
    assert code == 1 and "not run from a terminal: confirm with --yes" in err
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt: "no")
    code, out, err = run("anonymize", person["number"])
    assert code == 1 and "nothing was changed" in err
    assert f"Anonymize 2 record(s) of 赵** {mask_id_number(person['number'])}?" in out
    assert Resident.objects.with_id_number(person["number"]).count() == 2
    monkeypatch.setattr("builtins.input", lambda _prompt: "yes")
    assert run("anonymize", person["number"])[0] == 0
    assert not Resident.objects.with_id_number(person["number"]).exists()

"""Audit events about sensitive tags (特殊人群) reveal nothing to readers without the grant
(issue 11, item 7): the writer splits the sensitive part into an event marked sensitive, the
audit app hides such events from the ungranted everywhere, and nobody can search the recorded
values from the admin's query string (`?changes__icontains=社区矫正` listed the residents)."""

from __future__ import annotations

import importlib
import io
import json
import types

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.audit.selectors import events_for
from grassroots.registry.models import Resident, Tag
from tests import factories as f
from tests.api.conftest import body

from .test_sensitive_tags import CARE, SENSITIVE, grant

CHANGELIST = "admin:audit_event_changelist"


def _all_text(client_as, login, persona):
    """Everything a persona can read of the audit trail, through every door, as one text."""
    api = json.dumps(
        body(client_as(persona).get("/audit/events", page_size=500)), ensure_ascii=False
    )
    page = login(persona).get(reverse("audit_log")).content.decode()
    admin = login(persona).get(reverse(CHANGELIST)).content.decode()
    out = io.StringIO()
    call_command("audit", "log", "--as-user", persona, "--json", "--limit", "1000", stdout=out)
    return api + page + admin + out.getvalue()


def _add_sensitive_tag(resident):
    before = audit.snapshot(resident)
    resident.tags = f"|{SENSITIVE}|"
    resident.save()
    return audit.updated(resident, before)


@pytest.mark.parametrize("persona", ["admin", "auditor"])
@pytest.mark.parametrize(
    "query",
    [
        {"changes__icontains": SENSITIVE},
        {"changes__contains": SENSITIVE},
        {"changes__has_key": "tags"},
        {"changes__tags__icontains": SENSITIVE},
        {"reason__icontains": "矫正"},
        {"sensitive": "1"},
        {"actor_id__gt": "0"},
        {"object_repr__startswith": "赵"},
    ],
)
def test_it_refuses_free_form_lookups_in_the_admin_list(world, login, persona, query):
    _add_sensitive_tag(world.residents["赵光菊"])
    response = login(persona).get(reverse(CHANGELIST), query)
    assert response.status_code == 400  # never a 500, never a filtered list
    assert SENSITIVE not in response.content.decode()


def test_it_keeps_the_lists_own_filters(world, login):
    _add_sensitive_tag(world.residents["赵光菊"])
    client = login("auditor")
    for query in (
        {"action__exact": "update"},
        {"channel__exact": "command"},
        {"object_type": "registry.resident"},
        {"at__gte": "2000-01-01 00:00:00+08:00", "at__lt": "2100-01-01 00:00:00+08:00"},
        {"q": "registry.resident"},
    ):
        assert client.get(reverse(CHANGELIST), query).status_code == 200, query


def test_a_change_of_sensitive_tags_alone_is_invisible_without_the_grant(world, as_, login):
    resident = world.residents["赵光菊"]
    before_count = body(as_("auditor").get("/audit/events"))["count"]
    event = _add_sensitive_tag(resident)
    assert event is not None and event.sensitive
    assert event.changes == {"tags": ["", f"|{SENSITIVE}|"]}
    # Nothing at all for the ungranted: not the event, not an empty one, not a count.
    assert body(as_("auditor").get("/audit/events"))["count"] == before_count
    assert body(as_("auditor").get(f"/audit/events/{event.pk}")) == {"detail": "Not found"}
    for persona in ("auditor", "admin"):
        assert SENSITIVE not in _all_text(as_, login, persona)
    assert not events_for(world.users["auditor"], object=f"resident:{resident.pk}").exists()
    # The granted see it, with the tag.
    grant(world.users["auditor"])
    assert SENSITIVE in _all_text(as_, login, "auditor")


def test_a_mixed_change_shows_its_public_part_to_everyone(world, as_):
    resident = world.residents["赵光菊"]
    before = audit.snapshot(resident)
    resident.tags = f"|{CARE}|{SENSITIVE}|"
    resident.relation = "spouse"
    resident.save()
    public = audit.updated(resident, before)
    assert public is not None and not public.sensitive
    assert public.changes["tags"] == ["", f"|{CARE}|"]
    assert "relation" in public.changes
    shown = body(as_("auditor").get(f"/audit/events/{public.pk}"))
    assert shown["changes"]["tags"] == ["", f"|{CARE}|"]
    # A change of a care tag beside an unchanged sensitive one is public only.
    before = audit.snapshot(resident)
    resident.tags = f"|{SENSITIVE}|"
    resident.save()
    care_only = audit.updated(resident, before)
    assert care_only is not None and not care_only.sensitive
    assert care_only.changes == {"tags": [f"|{CARE}|", ""]}
    assert Event.objects.filter(sensitive=True, object_id=str(resident.pk)).count() == 1


def test_an_import_splits_sensitive_tags_off(world, tmp_path, as_, login):
    path = tmp_path / "r.csv"
    path.write_text(
        "姓名,身份证号,手机号,户编号,与户主关系,居住类型,标签\n"
        f"钱敏,{f.id_number('19800101', seq=901)},,HA11-1,子女,户籍,{CARE}；{SENSITIVE}\n"
        f"钱亮,{f.id_number('19800102', seq=902)},,HA11-1,子女,户籍,{CARE}\n",
        encoding="utf-8",
    )
    call_command("import", "residents", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    person = Resident.objects.get(name="钱敏")
    created = Event.objects.filter(object_id=str(person.pk), action="create")
    public = created.get(sensitive=False)
    secret = created.get(sensitive=True)
    assert public.changes["tags"] == [None, f"|{CARE}|"]
    assert secret.changes == {"tags": [None, f"|{CARE}|{SENSITIVE}|"]}
    assert SENSITIVE not in _all_text(as_, login, "auditor")
    # Re-import without the sensitive tag: the removal is sensitive too.
    path.write_text(
        "姓名,身份证号,手机号,户编号,与户主关系,居住类型,标签\n"
        f"钱敏,{f.id_number('19800101', seq=901)},,HA11-1,子女,户籍,{CARE}\n",
        encoding="utf-8",
    )
    call_command("import", "residents", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    removal = Event.objects.get(object_id=str(person.pk), action="update")
    assert removal.sensitive and removal.changes == {"tags": [f"|{CARE}|{SENSITIVE}|", f"|{CARE}|"]}
    assert SENSITIVE not in _all_text(as_, login, "auditor")
    grant(world.users["auditor"])
    assert _all_text(as_, login, "auditor").count(SENSITIVE) >= 2


def test_a_household_import_splits_sensitive_tags_off(world, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(
        f"户编号,地址,网格编码,标签\nN9,新路9号,{world.grid_a11.code},{SENSITIVE}\n",
        encoding="utf-8",
    )
    call_command("import", "households", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    events = Event.objects.filter(object_type="registry.household", action="create")
    public = events.get(sensitive=False)
    assert "tags" not in public.changes and public.changes["address"] == [None, "新路9号"]
    assert events.get(sensitive=True).changes == {"tags": [None, f"|{SENSITIVE}|"]}


def test_a_sensitive_tags_own_events_are_sensitive_whole(world, as_):
    tag = Tag.objects.create(name="特殊测试标签", kind=Tag.Kind.SENSITIVE)
    event = audit.created(tag)
    assert event.sensitive and event.object_repr == "特殊测试标签"
    assert not Event.objects.filter(object_type="registry.tag", sensitive=False).exists()
    listed = json.dumps(body(as_("auditor").get("/audit/events")), ensure_ascii=False)
    assert "特殊测试标签" not in listed
    care = Tag.objects.create(name="测试关爱", kind=Tag.Kind.CARE)
    assert not audit.created(care).sensitive


def test_anonymizing_keeps_the_removed_sensitive_tags_behind_the_grant(world):
    resident = world.residents["赵光菊"]
    resident.tags = f"|{CARE}|{SENSITIVE}|"
    resident.save()
    call_command(
        "person",
        "anonymize",
        resident.id_number,
        "--yes",
        "--reason",
        "request 1",
        stdout=io.StringIO(),
    )
    events = Event.objects.filter(object_id=str(resident.pk), action="anonymize")
    assert SENSITIVE not in json.dumps(events.get(sensitive=False).changes, ensure_ascii=False)
    assert events.get(sensitive=True).changes["tags"][0] == f"|{CARE}|{SENSITIVE}|"


def test_the_migration_marks_earlier_events_that_name_a_sensitive_tag(world):
    migration = importlib.import_module(
        "grassroots.registry.migrations.0006_mark_sensitive_audit_events"
    )
    # Events as written before the split: tags as stored, escaped (Django) or not (imports).
    old = audit.record(
        "update",
        object_type="registry.resident",
        object_id=1,
        changes={"tags": ["", f"|{SENSITIVE}|"]},
    )
    raw = audit.record_many(
        "create",
        "registry.resident",
        [(2, "赵*", "350426100001001", {"tags": [None, f"|{SENSITIVE}|"]})],
    )
    assert raw == 1
    plain = audit.record(
        "update", object_type="registry.resident", object_id=3, changes={"tags": ["", f"|{CARE}|"]}
    )
    other = audit.record(
        "update", object_type="cases.case", object_id=4, changes={"note": [None, SENSITIVE]}
    )
    migration.mark(django_apps, types.SimpleNamespace(connection=connection))
    marked = set(Event.objects.filter(sensitive=True).values_list("object_id", flat=True))
    assert marked == {str(old.object_id), "2"}
    assert not Event.objects.get(pk=plain.pk).sensitive
    assert not Event.objects.get(pk=other.pk).sensitive
    # The append-only triggers are back.
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_event SET reason = 'x'")

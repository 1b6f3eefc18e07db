"""Every event is stamped with who acted, when, through which channel and in which request."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from grassroots.accounts.models import ApiToken
from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.registry.models import Household, Resident
from tests import factories as f


def only_event(**filters):
    found = list(Event.objects.filter(**filters))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.urls("tests.audit.urls")
def test_it_stamps_a_web_request_with_the_user_and_the_request_id(world, client):
    client.force_login(world.users["secretary"])
    response = client.post("/probe/record/")
    assert response.status_code == 200
    event = Event.objects.get(pk=response.json()["id"])
    assert (event.channel, event.actor_name) == ("web", "secretary")
    assert event.actor_id == world.users["secretary"].pk
    assert event.request_id == response["X-Request-ID"] and event.request_id
    assert event.address == "127.0.0.1"


@pytest.mark.urls("tests.audit.urls")
def test_it_keeps_the_callers_request_id_apart_from_ours(world, client):
    client.force_login(world.users["secretary"])
    response = client.post("/probe/record/", headers={"X-Request-ID": "trace-42"})
    event = Event.objects.get(pk=response.json()["id"])
    # Ours is always generated: a client cannot make its request look like another's.
    assert response["X-Request-ID"] == event.request_id != "trace-42"
    assert len(event.request_id) == 32
    assert event.client_request_id == "trace-42"
    # Another request naming the same id gets its own.
    again = client.post("/probe/record/", headers={"X-Request-ID": event.request_id})
    other = Event.objects.get(pk=again.json()["id"])
    assert other.request_id != event.request_id
    assert other.client_request_id == event.request_id


@pytest.mark.urls("tests.audit.urls")
@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("bad id; drop table", None),  # spaces
        ("x" * 500, "x" * 64),  # bounded
        ("trace\x00\x1b[31m", None),  # control characters
        ("追踪-42", None),  # other scripts
        ("  span-7  ", "span-7"),
        ("", None),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ],
)
def test_it_bounds_the_callers_request_id(world, client, sent, kept):
    client.force_login(world.users["secretary"])
    response = client.post("/probe/record/", headers={"X-Request-ID": sent})
    assert response.status_code == 200
    event = Event.objects.get(pk=response.json()["id"])
    assert event.client_request_id == kept
    assert event.request_id == response["X-Request-ID"] and len(event.request_id) == 32


@pytest.mark.urls("tests.audit.urls")
def test_it_stamps_an_api_call_with_channel_api_and_the_tokens_user(world, client):
    user = world.users["worker"]
    token = ApiToken.issue(user)[1]
    response = client.post("/api/probe/record", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    event = Event.objects.get(pk=response.json()["id"])
    assert (event.channel, event.actor_name, event.actor_id) == ("api", "worker", user.pk)
    assert event.request_id == response["X-Request-ID"]


def household_form(household, **values):
    data = {
        "code": household.code,
        "address": household.address,
        "building": "",
        "unit_no": "",
        "room": "",
        "grid": household.grid_id or "",
        "unit": household.unit_id or "",
        "lon": household.lon if household.lon is not None else "",
        "lat": household.lat if household.lat is not None else "",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "0",
        "_save": "Save",
    }
    data.update(values)
    return data


def test_it_records_an_admin_change_with_channel_web_and_the_request_id(world, client):
    """Depends on the admin writing events (ScopedAdminMixin.save_model, issue 3 item 3)."""
    household = world.households["HA11-1"]
    client.force_login(world.users["secretary"])
    url = reverse("admin:registry_household_change", args=[household.pk])
    response = client.post(url, household_form(household, address="水东路8号"))
    assert response.status_code == 302
    event = only_event(object_type="registry.household", object_id=str(household.pk))
    assert (event.action, event.channel) == ("update", "web")
    assert (event.actor_name, event.actor_id) == ("secretary", world.users["secretary"].pk)
    assert event.request_id == response["X-Request-ID"]
    assert event.changes["address"] == [household.address, "水东路8号"]
    assert event.scope_code == world.grid_a11.code


def write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    return path


def test_it_records_every_imported_row_and_the_import(world, tmp_path):
    """Depends on the import command narrowing the channel to "import" (issue 3 item 3)."""
    grid = world.grid_a21
    path = write_csv(
        tmp_path / "h.csv",
        [
            ["户编号", "地址", "网格编码"],
            ["N1", "西门路1号", grid.code],
            ["N2", "西门路2号", grid.code],
        ],
    )
    call_command("import", "households", str(path), "--as-user", "official", stdout=io.StringIO())
    created = Event.objects.filter(object_type="registry.household", action="create")
    by_id = {e.object_id: e for e in created}
    assert set(by_id) == {str(h.pk) for h in Household.objects.filter(code__in=["N1", "N2"])}
    for event in created:
        assert event.channel == "import"
        assert event.actor_name == "official"
        assert event.scope_code == grid.code
    summary = only_event(action="import")
    assert summary.channel == "import" and summary.object_type == "registry.household"
    assert summary.changes["rows"] == 2 and summary.changes["created"] == 2
    assert summary.changes["file"] == "h.csv"
    # One import, one request id.
    assert {e.request_id for e in Event.objects.all()} == {summary.request_id}


def test_it_masks_id_and_mobile_numbers_in_every_event(world, tmp_path):
    number, phone = f.id_number("19790203"), "13912345678"
    other_number, other_phone = f.id_number("19851111"), "13698765432"
    household = world.households["HA11-1"]
    path = write_csv(
        tmp_path / "r.csv",
        [
            ["姓名", "身份证号", "手机号", "户编号", "与户主关系", "居住类型"],
            ["欧阳修", number, phone, household.code, "子女", "户籍"],
        ],
    )
    call_command("import", "residents", str(path), stdout=io.StringIO())
    resident = Resident.objects.get(id_hash__isnull=False, name="欧阳修")
    before = audit.snapshot(resident)
    resident.id_number, resident.phone = other_number, other_phone
    resident.save()
    audit.updated(resident, before)
    audit.created(f.resident("王安石", household, number=other_number, phone=other_phone))
    audit.deleted(resident, pk=resident.pk)
    events = list(Event.objects.filter(object_type="registry.resident"))
    assert {e.action for e in events} >= {"create", "update", "delete"}
    for event in events:
        text = json.dumps(event.changes, ensure_ascii=False) + event.object_repr
        for secret in (number, phone, other_number, other_phone, "欧阳修", "王安石"):
            assert secret not in text, (event.action, secret)
    update = only_event(object_type="registry.resident", action="update")
    assert update.changes["id_number"] == [
        number[:4] + "*" * 10 + number[-4:],
        other_number[:4] + "*" * 10 + other_number[-4:],
    ]
    assert update.changes["phone"] == ["139****5678", "136****5432"]

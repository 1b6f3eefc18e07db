"""Changes made in the admin, by services and by commands are audited, values masked."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from django.urls import reverse

from grassroots.accounts.services import grid_assign, token_issue, token_revoke_all, user_create
from grassroots.audit.models import Event
from grassroots.registry.models import Household, Resident
from tests import factories as f
from tests.web.test_admin_scope import household_form


def resident_form(resident: Resident, **values: object) -> dict[str, object]:
    data = {
        "name": resident.name,
        "id_number": "",
        "phone": "",
        "household": resident.household_id,
        "relation": resident.relation,
        "residency": resident.residency,
        "unit": resident.unit_id,
        "moved_out_on": "",
        "deceased_on": "",
    }
    data.update(values)
    return data


def test_an_admin_edit_records_before_and_after_with_the_request(world, login):
    household = world.households["HA11-1"]
    data = household_form(
        code=household.code,
        address="新的地址8号",
        grid=world.grid_a11.pk,
        lon=household.lon,
        lat=household.lat,
    )
    response = login("worker").post(
        reverse("admin:registry_household_change", args=[household.pk]),
        data,
        headers={"X-Request-ID": "edit-1"},
        REMOTE_ADDR="192.0.2.5",
    )
    assert response.status_code == 302
    event = Event.objects.get(action="update", object_type="registry.household")
    assert event.object_id == str(household.pk)
    assert event.changes == {"address": [household.address, "新的地址8号"]}
    assert (event.actor_name, event.channel, event.client_request_id, event.address) == (
        "worker",
        "web",
        "edit-1",
        "192.0.2.5",
    )
    assert event.request_id == response["X-Request-ID"] != "edit-1"
    assert event.scope_code == household.scope_code


def test_an_admin_create_and_delete_are_recorded(world, login):
    client = login("admin")
    response = client.post(
        reverse("admin:registry_household_add"), household_form(grid=world.grid_a11.pk)
    )
    assert response.status_code == 302
    household = Household.objects.get(code="HNEW-1")
    created = Event.objects.get(action="create", object_id=str(household.pk))
    assert created.changes["code"] == [None, "HNEW-1"]
    client.post(reverse("admin:registry_household_delete", args=[household.pk]), {"post": "yes"})
    assert not Household.objects.filter(pk=household.pk).exists()
    deleted = Event.objects.get(action="delete", object_id=str(created.object_id))
    assert deleted.changes["code"] == ["HNEW-1", None]


def test_the_edit_form_keeps_a_number_left_empty_and_replaces_a_typed_one(world, login):
    resident = world.residents["赵光菊"]
    url = reverse("admin:registry_resident_change", args=[resident.pk])
    client = login("secretary")
    assert client.post(url, resident_form(resident, name="赵光菊")).status_code == 302
    stored = Resident.objects.get(pk=resident.pk)
    assert (stored.id_number, stored.phone) == (resident.id_number, resident.phone)
    assert not Event.objects.filter(action="update", object_type="registry.resident").exists()

    response = client.post(url, resident_form(resident, phone="13911112222"))
    assert response.status_code == 302
    stored = Resident.objects.get(pk=resident.pk)
    assert stored.phone == "13911112222" and stored.id_number == resident.id_number
    event = Event.objects.get(action="update", object_type="registry.resident")
    assert event.changes == {"phone": ["138****8000", "139****2222"]}
    assert "13911112222" not in str(event.changes) and resident.name not in event.object_repr


def test_user_services_and_commands_are_recorded(world):
    user = user_create(
        username="newworker",
        role="grid_worker",
        scope_codes=[world.grid_a11.code],
        password="a-long-password-1",
    )
    created = Event.objects.get(action="create", object_type="accounts.user")
    assert created.object_id == str(user.pk) and "password" not in created.changes
    assert created.channel == "command"  # no request: the process's context
    grid_assign(user=user, grids=[world.grid_a12])
    assert Event.objects.filter(
        action="create", object_type="accounts.gridassignment", scope_code=world.grid_a12.code
    ).exists()
    token_issue(user=user)
    token = Event.objects.get(object_type="accounts.apitoken", action="create")
    assert "digest" not in token.changes
    token_revoke_all(user=user)
    revoked = Event.objects.get(object_type="accounts.apitoken", action="update")
    assert list(revoked.changes) == ["revoked_at"]


def test_an_import_records_every_row_masked_under_channel_import(world, tmp_path):
    fresh = f.id_number("19900505", seq=77)
    table = tmp_path / "r.csv"
    table.write_text(
        "姓名,身份证号,手机号,户编号\n"
        f"新人,{fresh},13912345678,HA11-1\n"
        f"赵光菊,{world.residents['赵光菊'].id_number},13600001111,HA11-1\n",
        encoding="utf-8",
    )
    call_command("import", "residents", str(table), "--as-user", "admin", stdout=StringIO())
    events = Event.objects.filter(channel="import").order_by("id")
    assert {e.actor_name for e in events} == {"admin"}
    assert len({e.request_id for e in events}) == 1
    created = events.get(action="create")
    assert created.changes["name"] == [None, "新*"]
    assert created.changes["id_number"] == [None, fresh[:4] + "*" * 10 + fresh[-4:]]
    assert created.changes["phone"] == [None, "139****5678"]
    updated = events.get(action="update")
    assert updated.object_id == str(world.residents["赵光菊"].pk)
    assert updated.changes == {"phone": ["138****8000", "136****1111"]}
    summary = events.get(action="import")
    assert summary.changes["created"] == 1 and summary.changes["updated"] == 1
    assert summary.changes["file"] == "r.csv"
    text = " ".join(str(e.changes) + e.object_repr for e in events)
    assert fresh not in text and "13912345678" not in text and "赵光菊" not in text


def test_the_demo_loader_leaves_a_creation_event_for_every_row(db):
    from grassroots.accounts.models import User
    from grassroots.demo import build_county
    from grassroots.demo.load import load_county
    from grassroots.registry.models import Enterprise

    load_county(build_county(households=40, seed=3))
    for model, kind in (
        (Household, "registry.household"),
        (Resident, "registry.resident"),
        (Enterprise, "registry.enterprise"),
        (User, "accounts.user"),
    ):
        ids = {str(pk) for pk in model.objects.values_list("pk", flat=True)}
        recorded = set(
            Event.objects.filter(action="create", object_type=kind).values_list(
                "object_id", flat=True
            )
        )
        assert ids and ids <= recorded, kind


def test_an_imported_household_is_recorded_with_its_values(world, tmp_path):
    table = tmp_path / "h.csv"
    table.write_text(
        "户编号,地址,网格编码,经度,纬度,标签\n"
        f"HNEW-9,新村9号,{world.grid_a11.code},118.101,26.101,低保\n",
        encoding="utf-8",
    )
    call_command("import", "households", str(table), stdout=StringIO())
    household = Household.objects.get(code="HNEW-9")
    event = Event.objects.get(action="create", object_id=str(household.pk))
    assert event.object_type == "registry.household" and event.channel == "import"
    assert event.changes["code"] == [None, "HNEW-9"]
    assert event.changes["grid"] == [None, world.grid_a11.pk]
    assert event.changes["lon"] == [None, 118.101]
    assert event.changes["tags"] == [None, "|低保|"]
    assert "building" not in event.changes  # empty values are left out
    assert event.scope_code == world.grid_a11.code

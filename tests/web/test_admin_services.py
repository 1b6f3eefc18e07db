"""The admin writes through the services of each app: what a service refuses is shown and
nothing is written; a household moved in the admin takes its members along, recorded."""

from __future__ import annotations

from typing import Any

from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from grassroots.accounts import services as account_services
from grassroots.accounts.models import ApiToken, GridAssignment, User
from grassroots.audit.models import Event
from grassroots.registry import services as registry_services
from grassroots.registry.models import Household, Resident, Tag
from grassroots.territory.models import Grid
from tests import factories as f
from tests.web.test_admin_scope import household_form


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_household_moved_in_the_admin_takes_its_members_along_recorded(world, login):
    household = world.households["HA12-1"]
    member = world.residents["孙悟空"]
    data = household_form(code=household.code, address=household.address, grid=world.grid_a21.pk)
    response = login("worker2").post(
        reverse("admin:registry_household_change", args=[household.pk]), data
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.unit_id, member.scope_code) == (world.village_a2.pk, world.grid_a21.code)
    moved = Event.objects.get(object_type="registry.resident", object_id=str(member.pk))
    assert (moved.action, moved.actor_name, moved.channel) == ("update", "worker2", "web")
    assert moved.changes == {
        "scope_code": [world.grid_a12.code, world.grid_a21.code],
        "unit": [world.village_a1.pk, world.village_a2.pk],
    }
    household_event = Event.objects.get(object_type="registry.household")
    assert household_event.request_id == moved.request_id


def test_it_shows_a_services_refusal_on_the_form_and_writes_nothing(world, login, monkeypatch):
    real = registry_services.household_update

    def refusing(**kwargs: Any) -> Any:
        real(**kwargs)  # the write and its events happen, then the service refuses
        raise ValidationError({"address": "这条地址不收。", "lon": "no such field here"})

    monkeypatch.setattr(registry_services, "household_update", refusing)
    household = world.households["HA12-1"]
    data = household_form(code=household.code, address="新地址9号", grid=world.grid_a21.pk)
    response = login("worker2").post(
        reverse("admin:registry_household_change", args=[household.pk]), data
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["address"] == ["这条地址不收。"]
    assert form.errors["lon"] == ["no such field here"]
    assert "这条地址不收。" in response.content.decode()
    household.refresh_from_db()
    assert (household.address, household.grid_id) == ("地址HA12-1", world.grid_a12.pk)
    assert Resident.objects.get(name="孙悟空").scope_code == world.grid_a12.code
    assert not Event.objects.exists()


def test_it_shows_a_refusal_of_a_field_the_form_lacks_above_the_form(world, login, monkeypatch):
    def refusing(**kwargs: Any) -> Any:
        raise ValidationError("Not now.")

    monkeypatch.setattr(registry_services, "household_create", refusing)
    response = login("admin").post(
        reverse("admin:registry_household_add"), household_form(grid=world.grid_a11.pk)
    )
    assert response.context["adminform"].form.non_field_errors() == ["Not now."]
    assert not Household.objects.filter(code="HNEW-1").exists()


def test_it_refuses_to_delete_a_grid_that_still_holds_households(world, login):
    grid = world.grid_a11
    url = reverse("admin:territory_grid_delete", args=[grid.pk])
    response = login("admin").post(url, {"post": "yes"})
    assert response.status_code == 302
    assert messages_of(response) == [
        f"{grid} cannot be deleted: grid assignments, households still refer to it."
    ]
    assert Grid.objects.filter(pk=grid.pk).exists()
    assert Household.objects.filter(grid=grid).count() == 2
    assert not Event.objects.filter(action="delete").exists()


def test_it_deletes_an_empty_grid_recorded(world, login):
    empty = f.grid("350426100001009", 118.30, 26.30)
    response = login("admin").post(
        reverse("admin:territory_grid_delete", args=[empty.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Grid.objects.filter(pk=empty.pk).exists()
    event = Event.objects.get(action="delete", object_type="territory.grid")
    assert event.object_id == str(empty.pk) and event.changes["code"] == [empty.code, None]


def test_a_refused_bulk_deletion_is_shown_and_rolled_back(world, login):
    empty = f.grid("350426100001009", 118.30, 26.30)
    data = {
        "action": "delete_selected",
        "_selected_action": [empty.pk, world.grid_a11.pk],
        "post": "yes",
    }
    response = login("admin").post(reverse("admin:territory_grid_changelist"), data)
    assert response.status_code == 302
    assert messages_of(response) == [
        f"{world.grid_a11}, {empty} cannot be deleted: grid assignments, households still"
        " refer to it."
    ]
    assert Grid.objects.filter(pk=empty.pk).exists()
    assert not Event.objects.exists()


def test_it_renames_a_unit_through_the_service(world, login):
    url = reverse("admin:territory_unit_change", args=[world.village_a1.pk])
    data = {"name": "水东新社区", "level": "village", "kind": "community"}
    assert login("admin").post(url, data).status_code == 302
    event = Event.objects.get(object_type="territory.unit")
    assert (event.action, event.changes) == ("update", {"name": ["水东社区", "水东新社区"]})


def test_it_records_a_tag_created_in_the_admin(world, login):
    root = User.objects.create_superuser("root", password="x-Long-enough-1!")
    response = login(root).post(
        reverse("admin:registry_tag_add"),
        {"name": "特殊新", "kind": "sensitive", "description": ""},
    )
    assert response.status_code == 302
    tag = Tag.objects.get(name="特殊新")
    event = Event.objects.get(object_type="registry.tag", object_id=str(tag.pk))
    assert event.action == "create" and event.sensitive


def user_form(user: User, **values: Any) -> dict[str, Any]:
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "phone": "",
        "role": user.role,
        "scope_code": user.scope_code,
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": timezone.localtime(user.date_joined).date().isoformat(),
        "date_joined_1": timezone.localtime(user.date_joined).time().isoformat(),
        "grid_assignments-TOTAL_FORMS": "0",
        "grid_assignments-INITIAL_FORMS": "0",
        "grid_assignments-MIN_NUM_FORMS": "0",
        "grid_assignments-MAX_NUM_FORMS": "1000",
    }
    data.update(values)
    return data


def test_it_assigns_grids_through_the_account_services(world, login):
    worker = world.users["worker"]
    (held,) = GridAssignment.objects.filter(user=worker)
    data = user_form(
        worker,
        **{
            "grid_assignments-TOTAL_FORMS": "2",
            "grid_assignments-INITIAL_FORMS": "1",
            "grid_assignments-0-id": held.pk,
            "grid_assignments-0-user": worker.pk,
            "grid_assignments-0-grid": world.grid_a11.pk,
            "grid_assignments-0-DELETE": "on",
            "grid_assignments-1-user": worker.pk,
            "grid_assignments-1-grid": world.grid_a12.pk,
        },
    )
    # Only a superuser may delete assignments (no role has accounts.delete_gridassignment).
    root = User.objects.create_superuser("root", password="x-Long-enough-1!")
    response = login(root).post(reverse("admin:accounts_user_change", args=[worker.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    # The scope code still names grid A1-1, so it is assigned again (grid_assign_scope).
    assert sorted(
        GridAssignment.objects.filter(user=worker).values_list("grid__code", flat=True)
    ) == [
        world.grid_a11.code,
        world.grid_a12.code,
    ]
    recorded = Event.objects.filter(object_type="accounts.gridassignment").order_by("id")
    assert [(e.action, e.scope_code) for e in recorded] == [
        ("delete", world.grid_a11.code),
        ("create", world.grid_a12.code),
        ("create", world.grid_a11.code),
    ]


def test_it_shows_that_only_grid_workers_are_assigned_to_grids(world, login):
    secretary = world.users["secretary"]
    data = user_form(
        secretary,
        **{
            "grid_assignments-TOTAL_FORMS": "1",
            "grid_assignments-0-user": secretary.pk,
            "grid_assignments-0-grid": world.grid_a11.pk,
        },
    )
    response = login("admin").post(reverse("admin:accounts_user_change", args=[secretary.pk]), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["role"] == [
        "only grid workers are assigned to grids"
    ]
    assert not GridAssignment.objects.filter(user=secretary).exists()
    assert not Event.objects.exists()


def test_it_revokes_tokens_through_the_account_services(world, login, monkeypatch):
    calls = []
    real = account_services.token_revoke

    def counting(**kwargs: Any) -> int:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(account_services, "token_revoke", counting)
    worker = world.users["worker"]
    account_services.token_issue(user=worker)
    token = ApiToken.objects.get(user=worker)
    root = User.objects.create_superuser("root", password="x-Long-enough-1!")
    data = {"action": "revoke", "_selected_action": [token.pk]}
    response = login(root).post(reverse("admin:accounts_apitoken_changelist"), data)
    assert response.status_code == 302
    assert messages_of(response) == ["1 token revoked."]
    assert len(calls) == 1
    token.refresh_from_db()
    assert token.revoked_at is not None
    event = Event.objects.get(object_type="accounts.apitoken", action="update")
    assert list(event.changes) == ["revoked_at"]

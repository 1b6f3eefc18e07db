"""Account services the admin and the demo share: bulk grid workers, deletions, revocation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from grassroots.accounts import services
from grassroots.accounts.models import ApiToken, GridAssignment, User
from grassroots.audit.models import Event


def test_it_creates_grid_workers_in_bulk_with_their_grids_recorded(world):
    workers = [
        services.NewGridWorker("w_a", (world.grid_a11.code,), "光", "赵", "13912345678"),
        services.NewGridWorker("w_b", (world.grid_a12.code, world.grid_a21.code)),
    ]
    assert services.grid_workers_create(workers=workers, password="a-Long-password-1!") == 2
    b = User.objects.get(username="w_b")
    assert b.scope_codes() == [world.grid_a12.code, world.grid_a21.code]
    assert b.check_password("a-Long-password-1!")
    created = Event.objects.filter(action="create")
    assert created.filter(object_type="accounts.user").count() == 2
    assert created.filter(object_type="accounts.gridassignment").count() == 3
    a = created.get(object_type="accounts.user", object_id=str(User.objects.get(username="w_a").pk))
    assert a.changes["phone"] == [None, "139****5678"] and "password" not in a.changes


def test_it_refuses_grid_workers_whose_name_is_taken_or_grid_unknown(world):
    with pytest.raises(ValidationError) as refused:
        services.grid_workers_create(
            workers=[services.NewGridWorker("worker", (world.grid_a11.code,))], password="x"
        )
    assert refused.value.message_dict == {"username": ["user worker already exists"]}
    with pytest.raises(ValidationError) as refused:
        services.grid_workers_create(
            workers=[services.NewGridWorker("w_c", ("350426100001999",))], password="x"
        )
    assert refused.value.message_dict == {
        "scope": ["a grid worker's scope is a grid code; no grid 350426100001999"]
    }
    assert not User.objects.filter(username="w_c").exists()


def test_it_creates_a_user_with_a_name_and_phone_in_one_event(world):
    user = services.user_create(
        username="newbie",
        role="village_secretary",
        scope_codes=[world.village_a1.code],
        password="a-Long-password-1!",
        first_name="明",
        last_name="王",
        phone="13912345678",
    )
    (event,) = Event.objects.filter(object_type="accounts.user")
    assert event.object_id == str(user.pk) and event.action == "create"
    assert event.changes["last_name"] == [None, "王"]
    assert event.changes["phone"] == [None, "139****5678"]


def test_it_deletes_the_accounts_the_actor_manages_one_event_each(world):
    targets = User.objects.filter(username__in=["worker", "outsider"])
    assert services.users_delete(actor=world.users["official"], users=targets) == 1
    assert not User.objects.filter(username="worker").exists()
    assert User.objects.filter(username="outsider").exists()  # town B: not the official's
    assert not GridAssignment.objects.filter(user__username="worker").exists()
    (event,) = Event.objects.filter(action="delete")
    assert event.object_type == "accounts.user" and event.object_repr == "worker"


def test_it_revokes_only_live_tokens(world):
    worker = world.users["worker"]
    services.token_issue(user=worker)
    services.token_issue(user=worker)
    assert services.token_revoke_all(user=worker) == 2
    assert services.token_revoke(tokens=ApiToken.objects.filter(user=worker)) == 0
    assert Event.objects.filter(object_type="accounts.apitoken", action="update").count() == 2

"""grassroots users add / token / assign / revoke / otp-reset / grant / ungrant."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.accounts.models import ApiToken, User
from grassroots.audit.models import Event


def users(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("users", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_it_adds_a_user_with_a_generated_password_printed_once(world):
    out = users(
        "add",
        "newsec",
        "--role",
        "village_secretary",
        "--scope",
        "350426100002",
        "--generate-password",
    )
    assert out.startswith("created newsec")
    password = out.strip().splitlines()[-1].removeprefix("password: ")
    user = User.objects.get(username="newsec")
    assert user.check_password(password) and user.scope_codes() == ["350426100002"]
    assert user.role == "village_secretary" and user.is_staff


def test_it_assigns_a_grid_worker_to_grids(world):
    users(
        "add",
        "gw",
        "--role",
        "grid_worker",
        "--scope",
        "350426100001001",
        "--scope",
        "350426100001002",
        "--generate-password",
    )
    assert User.objects.get(username="gw").scope_codes() == ["350426100001001", "350426100001002"]
    users("assign", "gw", "350426100002001")
    assert len(User.objects.get(username="gw").scope_codes()) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--role", "grid_worker", "--scope", "350426100001"],
            "scope: a grid worker's scope is a grid code; no grid 350426100001",
        ),
        (["--role", "town_official", "--scope", "999"], "scope: no unit with code 999"),
    ],
)
def test_it_refuses_bad_scopes(world, args, message):
    with pytest.raises(CommandError, match=message):
        users("add", "x", *args, "--generate-password")


def test_it_issues_a_token_on_the_last_line_and_stores_only_its_hash(world):
    token = users("token", "worker").strip().splitlines()[-1]
    assert token.startswith("gr_") and len(token) > 30
    row = ApiToken.objects.get(user__username="worker")
    assert row.digest != token and token not in row.digest
    assert ApiToken.authenticate(token) == world.users["worker"]
    assert ApiToken.authenticate(token + "x") is None


def test_it_revokes_every_token_of_a_user(world):
    first = users("token", "worker").strip().splitlines()[-1]
    second = users("token", "worker").strip().splitlines()[-1]
    assert users("revoke", "worker").strip() == "revoked 2 token(s) of worker"
    assert ApiToken.authenticate(first) is None and ApiToken.authenticate(second) is None
    assert users("revoke", "worker").strip() == "revoked 0 token(s) of worker"


def test_it_expires_tokens(world, settings):
    import datetime

    from django.utils import timezone

    token = users("token", "worker", "--days", "7").strip().splitlines()[-1]
    row = ApiToken.objects.get(user__username="worker")
    assert (
        datetime.timedelta(days=6) < row.expires_at - timezone.now() <= datetime.timedelta(days=7)
    )
    assert ApiToken.authenticate(token) == world.users["worker"]
    row.refresh_from_db()
    assert row.last_used_at is not None
    ApiToken.objects.filter(pk=row.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert ApiToken.authenticate(token) is None
    settings.API_TOKEN_DAYS = 30
    users("token", "worker")
    newest = ApiToken.objects.filter(user__username="worker").latest("pk")
    assert (newest.expires_at - timezone.now()).days in (29, 30)


def test_it_refuses_a_token_lifetime_under_a_day(world):
    with pytest.raises(CommandError, match="--days must be at least 1"):
        users("token", "worker", "--days", "0")


def test_it_names_the_problem_with_a_new_user(world):
    with pytest.raises(CommandError, match="username: user admin already exists"):
        users("add", "admin", "--role", "auditor", "--scope", "350426", "--generate-password")
    with pytest.raises(
        CommandError, match="scope: only a grid worker has more than one scope code"
    ):
        users(
            "add",
            "x",
            "--role",
            "auditor",
            "--scope",
            "350426",
            "--scope",
            "350426100",
            "--generate-password",
        )
    with pytest.raises(CommandError, match="no user named ghost"):
        users("token", "ghost")
    with pytest.raises(CommandError, match="only grid workers are assigned to grids"):
        users("assign", "official", "350426100001001")
    with pytest.raises(CommandError, match="no grid 999"):
        users("assign", "worker", "999")


def test_it_resets_two_factor_devices(world):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    admin = world.users["admin"]
    TOTPDevice.objects.create(user=admin, name="old phone", confirmed=True)
    TOTPDevice.objects.create(user=admin, name="half set up", confirmed=False)
    TOTPDevice.objects.create(user=world.users["worker"], name="phone", confirmed=True)
    assert users("otp-reset", "admin").strip() == (
        "removed 2 two-factor device(s) of admin; signed-in sessions must verify again;"
        " admin must set up two-factor sign-in again at their next sign-in"
    )
    assert not TOTPDevice.objects.filter(user=admin).exists()
    assert TOTPDevice.objects.filter(user=world.users["worker"]).count() == 1
    assert users("otp-reset", "admin").strip() == (
        "admin has no two-factor device; nothing to reset"
    )
    assert (
        users("otp-reset", "worker")
        .strip()
        .endswith("worker signs in with the password alone until they set it up again")
    )
    with pytest.raises(CommandError, match="no user named ghost"):
        users("otp-reset", "ghost")
    events = Event.objects.filter(
        object_type="accounts.user", changes__has_key="two_factor_devices"
    )
    assert [(e.object_id, e.changes["two_factor_devices"], e.channel) for e in events] == [
        (str(world.users["worker"].pk), [1, 0], "command"),
        (str(admin.pk), [2, 0], "command"),
    ]


def test_it_grants_and_takes_back_one_explicit_permission(world):
    def fresh(name):
        return User.objects.get(username=name)  # no cached permissions

    assert not fresh("dispatcher").has_perm("accounts.view_user")
    assert users("grant", "dispatcher", "accounts.view_user").strip() == (
        "granted accounts.view_user to dispatcher"
    )
    assert fresh("dispatcher").has_perm("accounts.view_user")
    assert fresh("dispatcher").user_permissions.count() == 1
    assert users("grant", "dispatcher", "accounts.view_user").strip() == (
        "dispatcher already has accounts.view_user"
    )
    assert fresh("dispatcher").user_permissions.count() == 1
    assert users("ungrant", "dispatcher", "accounts.view_user").strip() == (
        "took accounts.view_user back from dispatcher"
    )
    assert not fresh("dispatcher").has_perm("accounts.view_user")
    assert users("ungrant", "dispatcher", "accounts.view_user").strip() == (
        "dispatcher has no explicit grant of accounts.view_user"
    )
    events = Event.objects.filter(object_id=str(world.users["dispatcher"].pk)).order_by("id")
    assert [e.changes for e in events] == [
        {"user_permissions": [None, "accounts.view_user"]},
        {"user_permissions": ["accounts.view_user", None]},
    ]


def test_it_says_when_the_role_gives_the_permission_anyway(world):
    assert users("grant", "worker", "registry.view_household").strip() == (
        "granted registry.view_household to worker (note: the role grid_worker gives it as well)"
    )
    assert users("ungrant", "worker", "registry.view_household").strip() == (
        "took registry.view_household back from worker"
        " (note: the role grid_worker gives it as well)"
    )


@pytest.mark.parametrize(
    "permission",
    ["registry.no_such_thing", "nosuchapp.view_household", "view_household", "registry.", ""],
)
@pytest.mark.parametrize("action", ["grant", "ungrant"])
def test_it_refuses_an_unknown_permission(world, action, permission):
    message = (
        f"unknown permission '{permission}': give app_label.codename of an existing"
        " permission, e.g. registry.view_resident"
    )
    with pytest.raises(CommandError, match=re.escape(message)):
        users(action, "dispatcher", permission)
    assert world.users["dispatcher"].user_permissions.count() == 0


def test_it_refuses_to_grant_to_an_unknown_user(world):
    with pytest.raises(CommandError, match="no user named ghost"):
        users("grant", "ghost", "accounts.view_user")

"""grassroots users add / token / assign."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.accounts.models import ApiToken, User


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

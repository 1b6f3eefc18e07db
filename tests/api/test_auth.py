"""Authentication: bearer tokens and the web session; nothing else gets in."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from grassroots.accounts.models import ApiToken

from .conftest import API, body

# One call of every operation, with the ids of the world fixture filled in by the test.
PATHS = [
    "/me",
    "/units",
    "/units/350426100001",
    "/grids",
    "/grids/350426100001001",
    "/households",
    "/households/{household}",
    "/residents",
    "/residents/{resident}",
    "/enterprises",
    "/enterprises/{enterprise}",
    "/search?q=zgj",
    "/audit/coverage",
]


def _paths(world, enterprises):
    ids = {
        "household": world.households["HA11-1"].pk,
        "resident": world.residents["赵光菊"].pk,
        "enterprise": enterprises["tea"].pk,
    }
    return [path.format(**ids) for path in PATHS]


def _assert_401(response):
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert body(response)["detail"]


def test_it_answers_every_endpoint_for_a_valid_token(world, enterprises, client, tokens):
    for path in _paths(world, enterprises):
        response = client.get(API + path, headers={"Authorization": f"Bearer {tokens['admin']}"})
        assert response.status_code == 200, path


def test_it_refuses_every_endpoint_without_credentials(world, enterprises, client):
    for path in _paths(world, enterprises):
        response = client.get(API + path)
        _assert_401(response)
        assert body(response)["detail"].startswith("Authentication required")


@pytest.mark.parametrize(
    "header",
    ["Bearer gr_not-a-real-token", "Bearer ", "bearer gr_not-a-real-token", "Token abc"],
)
def test_it_refuses_every_endpoint_for_a_bad_token(world, enterprises, client, header):
    for path in _paths(world, enterprises):
        _assert_401(client.get(API + path, headers={"Authorization": header}))


def test_it_refuses_every_endpoint_for_a_revoked_token(world, enterprises, client, tokens):
    ApiToken.objects.filter(user=world.users["admin"]).update(revoked_at=timezone.now())
    for path in _paths(world, enterprises):
        response = client.get(API + path, headers={"Authorization": f"Bearer {tokens['admin']}"})
        _assert_401(response)
        assert body(response) == {"detail": "Invalid, revoked or expired token"}


def test_it_refuses_every_endpoint_for_an_expired_token(world, enterprises, client, tokens):
    ApiToken.objects.filter(user=world.users["admin"]).update(expires_at=timezone.now())
    for path in _paths(world, enterprises):
        response = client.get(API + path, headers={"Authorization": f"Bearer {tokens['admin']}"})
        _assert_401(response)
        assert body(response) == {"detail": "Invalid, revoked or expired token"}


def test_it_refuses_the_token_of_an_inactive_user(world, enterprises, client, tokens):
    world.users["admin"].is_active = False
    world.users["admin"].save()
    for path in _paths(world, enterprises):
        response = client.get(API + path, headers={"Authorization": f"Bearer {tokens['admin']}"})
        _assert_401(response)


def test_it_accepts_a_logged_in_session(world, enterprises):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["secretary"])
    for path in _paths(world, enterprises):
        assert client.get(API + path).status_code == 200, path
    assert body(client.get(API + "/me"))["username"] == "secretary"


def test_it_does_not_fall_back_to_the_session_for_a_bad_token(world, client):
    client.force_login(world.users["admin"])
    response = client.get(API + "/me", headers={"Authorization": "Bearer gr_wrong"})
    _assert_401(response)


def test_it_records_when_a_token_was_last_used(world, client):
    row, token = ApiToken.issue(world.users["worker"])
    assert row.last_used_at is None
    client.get(API + "/me", headers={"Authorization": f"Bearer {token}"})
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_it_describes_the_caller(world, as_):
    me = body(as_("worker2").get("/me"))
    assert me["username"] == "worker2"
    assert me["role"] == "grid_worker"
    assert me["scope_codes"] == ["350426100001002", "350426100002001"]
    assert [node["name"] for node in me["scope"]] == ["水东二网格", "西门一网格"]
    assert me["everything"] is False
    assert "registry.view_resident" in me["permissions"]
    assert "registry.import_registry" not in me["permissions"]

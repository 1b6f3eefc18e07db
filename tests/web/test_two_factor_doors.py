"""A session that signed in with the password but owes its two-factor code gets nothing from
any door, whatever headers come with it (issue 11, item 1: `Authorization: Basic x` used to
let such a session through to the API)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from grassroots.accounts.models import ApiToken
from grassroots.accounts.two_factor import UNFINISHED
from tests import factories as f

from .test_two_factor import ENROL, VERIFY, device_for, sign_in

# Every shape of Authorization header a client might send that is not our bearer token.
NOT_OUR_TOKEN = [
    "Basic x",
    "Basic YWRtaW46cHctYWRtaW4tTG9uZzEh",  # admin:pw-admin-Long1!
    "Token abc",
    "Digest username=admin",
    "",
    " ",
    "Bearer",
    "Bearer ",
    "Bearer    ",
    "bearer",
    "Negotiate YII=",
    "Session",
    "\t",
]
API_READS = [
    "/api/v1/me",
    "/api/v1/audit/events",
    "/api/v1/residents",
    "/api/v1/households",
    "/api/v1/cases",
    "/api/v1/units",
]
PAGES = ["/", "/admin/", "/console/", "/audit/log/", "/audit/coverage/", "/w/"]


@pytest.fixture
def browser():
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _reveal(client, resident, **headers):
    return client.post(
        f"/api/v1/residents/{resident.pk}/reveal",
        {"field": "id_number", "reason": "checking a duplicate"},
        content_type="application/json",
        headers=headers,
    )


@pytest.mark.parametrize("persona", ["admin", "auditor", "root"])
@pytest.mark.parametrize("header", NOT_OUR_TOKEN)
def test_it_refuses_an_unverified_session_with_any_other_authorization(
    world, browser, persona, header
):
    if persona == "root":
        f.user("root", "", is_superuser=True)
    sign_in(browser, persona)
    for path in API_READS:
        response = browser.get(path, headers={"Authorization": header})
        assert response.status_code in (401, 403), (path, header, response.status_code)
        assert "items" not in response.json() and "username" not in response.json()
    response = _reveal(browser, world.residents["赵光菊"], Authorization=header)
    assert response.status_code in (401, 403)
    assert "value" not in response.json()


@pytest.mark.parametrize("header", NOT_OUR_TOKEN)
def test_it_refuses_an_unverified_session_with_a_device_and_any_header(world, browser, header):
    device_for(world.users["admin"])
    sign_in(browser, "admin")
    response = browser.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code in (401, 403)
    for path in PAGES:
        response = browser.get(path, headers={"Authorization": header})
        assert response.status_code == 302, path
        assert response["Location"].startswith(VERIFY), path


def test_it_answers_the_two_factor_refusal_without_a_header(world, browser):
    sign_in(browser, "admin")
    response = browser.get("/api/v1/me")
    assert response.status_code == 403 and response.json() == {"detail": UNFINISHED}
    # Pages too, with any header: straight to the enrolment page.
    for path in PAGES:
        response = browser.get(path, headers={"Authorization": "Basic x"})
        assert response.status_code == 302 and response["Location"].startswith(ENROL), path


@pytest.mark.parametrize(
    "extra",
    [
        {"X-Authorization": "Bearer gr_x"},
        {"Proxy-Authorization": "Basic x"},
        {"X-Api-Key": "abc"},
        {"Cookie-Authorization": "x"},
    ],
)
def test_it_ignores_other_credential_like_headers(world, browser, extra):
    sign_in(browser, "auditor")
    response = browser.get("/api/v1/audit/events", headers=extra)
    assert response.status_code == 403 and response.json() == {"detail": UNFINISHED}


def test_it_serves_the_token_alone_beside_an_unverified_session(world, browser):
    # The token's own user, whatever the session is: a token is its own credential.
    _row, token = ApiToken.issue(world.users["secretary"])
    sign_in(browser, "admin")
    response = browser.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json()["username"] == "secretary"
    response = browser.get("/api/v1/me", headers={"Authorization": f"bearer  {token}"})
    assert response.status_code == 200 and response.json()["username"] == "secretary"


def test_it_does_not_mix_a_verified_session_with_another_header(world, login):
    # Even a session that finished two-factor is not used beside a header of another scheme.
    client = login("admin")
    assert client.get("/api/v1/me").status_code == 200
    response = client.get("/api/v1/me", headers={"Authorization": "Basic x"})
    assert response.status_code == 401


def test_the_api_refuses_an_owing_session_even_past_the_middleware(world, rf):
    # Defence in depth: the API's session authentication checks two-factor itself.
    from django.contrib.sessions.backends.db import SessionStore
    from ninja.errors import HttpError

    from grassroots.api import SessionUserAuth

    request = rf.get("/api/v1/me")
    request.session = SessionStore()
    user = world.users["admin"]
    user.is_verified = lambda: False
    request.user = user
    with pytest.raises(HttpError) as refused:
        SessionUserAuth().authenticate(request, None)
    assert refused.value.status_code == 403 and str(refused.value) == UNFINISHED
    user.is_verified = lambda: True
    assert SessionUserAuth().authenticate(request, None) == user

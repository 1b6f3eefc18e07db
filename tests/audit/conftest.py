"""Audit trail fixtures: events across the world's territory, and clients per persona.

Events are written the way services write them (audit.services under an audit context), or
created directly where a test needs a given time.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from grassroots.accounts.models import ApiToken
from grassroots.audit import services as audit
from grassroots.audit.context import acting
from grassroots.audit.models import Event
from tests import factories as f
from tests.web.conftest import verify_two_factor

API = "/api/v1"
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def body(response: Any) -> Any:
    return json.loads(response.content)


def at(text: str) -> datetime.datetime:
    """A moment given in China time: at("2024-05-01 08:30")."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def make_event(**fields: Any) -> Event:
    """An event with the given fields (a time in the past, say) and plausible defaults."""
    values: dict[str, Any] = {
        "at": timezone.now(),
        "actor_name": "someone",
        "channel": Event.Channel.COMMAND,
        "request_id": "r-test",
        "action": Event.Action.UPDATE,
        "object_type": "registry.household",
        "object_id": "1",
        "scope_code": "",
    }
    values.update(fields)
    return Event.objects.create(**values)


@pytest.fixture
def events(world: Any) -> dict[str, Event]:
    """One event in each part of the county, and one without a territory.

    a11: the grid worker changes household HA11-1 (grid A1-1, town A), on the web;
    a21: the official records resident 李白 (grid A2-1, town A) through the API;
    b11: the outsider changes household HB11-1 (town B), on the web;
    keys: a command rotates the encryption keys (no territory).
    """
    users = world.users
    h_a11, h_b11 = world.households["HA11-1"], world.households["HB11-1"]
    result = {}
    with acting(channel="web", user=users["worker"], request_id="req-a11", address="10.0.0.1"):
        before = audit.snapshot(h_a11)
        h_a11.address = "水东路1号"
        h_a11.save()
        result["a11"] = audit.updated(h_a11, before)
    with acting(channel="api", user=users["official"], request_id="req-a21"):
        result["a21"] = audit.created(world.residents["李白"])
    with acting(channel="web", user=users["outsider"], request_id="req-b11"):
        before = audit.snapshot(h_b11)
        h_b11.address = "半山路9号"
        h_b11.save()
        result["b11"] = audit.updated(h_b11, before)
    with acting(channel="command", label="os:root", request_id="req-keys"):
        result["keys"] = audit.record(
            Event.Action.KEYS, object_type="core.keyring", changes={"keys": 2}
        )
    return result


@pytest.fixture
def town_auditor(world: Any) -> Any:
    """An auditor of town A (城关镇) alone."""
    return f.user("auditor_a", "auditor", world.town_a.code)


@pytest.fixture
def superuser(world: Any) -> Any:
    return f.user("root", "county_admin", is_superuser=True)


@pytest.fixture
def login(world: Any) -> Callable[[Any], Client]:
    """A client signed in as a persona (or user), past two-factor sign-in where it applies."""
    from grassroots.accounts.two_factor import otp_required

    def client_for(who: Any) -> Client:
        user = world.users[who] if isinstance(who, str) else who
        client = Client()
        client.force_login(user)
        if otp_required(user):
            verify_two_factor(client, user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return client_for


class ApiClient:
    """Calls the API with a bearer token of one user."""

    def __init__(self, user: Any) -> None:
        self.client = Client()
        self.token = ApiToken.issue(user)[1]
        self.headers = {"Authorization": f"Bearer {self.token}", "Accept-Language": "en"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(API + path, params, headers=self.headers)

    def call(self, method: str, path: str) -> Any:
        send = getattr(self.client, method.lower())
        return send(API + path, headers=self.headers)


@pytest.fixture
def api(world: Any) -> Callable[[Any], ApiClient]:
    """`api("auditor").get("/audit/events")`."""

    def make(who: Any) -> ApiClient:
        return ApiClient(world.users[who] if isinstance(who, str) else who)

    return make

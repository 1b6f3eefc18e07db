"""API test helpers: a bearer token per persona and a client that sends it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.models import ApiToken
from grassroots.core.validators import credit_code_with_check
from grassroots.registry.models import Enterprise

API = "/api/v1"


class ApiClient:
    """GETs API paths as one persona (or anonymously) and keeps the raw body for scans."""

    def __init__(self, client: Client, token: str | None) -> None:
        self.client = client
        self.token = token

    def get(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.client.get(API + path, params, headers=headers)


@pytest.fixture
def tokens(world: Any) -> dict[str, str]:
    """One fresh token per persona."""
    return {name: ApiToken.issue(user)[1] for name, user in world.users.items()}


@pytest.fixture
def as_(client: Client, tokens: dict[str, str]) -> Callable[[str | None], ApiClient]:
    """`as_("worker").get("/residents")`; `as_(None)` sends no credentials."""

    def make(persona: str | None) -> ApiClient:
        return ApiClient(client, tokens[persona] if persona else None)

    return make


def body(response: Any) -> Any:
    return json.loads(response.content)


def _enterprise(name: str, grid: Any, first17: str, industry: str, phone: str) -> Enterprise:
    e = Enterprise(
        name=name,
        credit_code=credit_code_with_check(first17),
        address=f"{name}地址",
        industry=industry,
        contact_name="联系人",
        contact_phone=phone,
        grid=grid,
        unit=grid.unit,
    )
    e.save()
    return e


@pytest.fixture
def enterprises(world: Any) -> dict[str, Enterprise]:
    """A tea company in grid A1-1 (town A) and a fungi cooperative in grid B1-1 (town B)."""
    return {
        "tea": _enterprise(
            "水东茶业有限公司", world.grid_a11, "91350426MA2Y0A0B1", "茶叶", "13912345678"
        ),
        "fungi": _enterprise(
            "半山食用菌合作社", world.grid_b11, "93350426MA2Y0B0C2", "食用菌", "13987654321"
        ),
    }

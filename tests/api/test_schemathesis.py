"""Schemathesis against /api/v1/openapi.json: every operation, valid and invalid input.

The API runs in-process (WSGI) over the test database, called with a county administrator's
bearer token. No answer may be a 5xx, and every answer must be one the schema declares (status
code, content type and body). Examples are bounded so that this adds seconds to the suite, and
Hypothesis keeps no example database.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from grassroots.territory.models import Unit
from grassroots.wsgi import application

from .conftest import API, body

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Loaded once, when the tests are collected: the document does not touch the database.
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", application, config=schemathesis.Config.from_dict({})
)


@pytest.fixture
def in_test_transaction():
    """Django closes "old" connections around each request, which would end the test's
    transaction; its own test client switches that off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_it_answers_every_operation_as_its_schema_says(
    case, world, enterprises, tokens, in_test_transaction
):
    case.call_and_validate(headers={"Authorization": f"Bearer {tokens['admin']}"}, checks=CHECKS)


# What schemathesis found, kept as plain tests.


def test_it_gives_an_empty_page_far_past_the_end(world, as_):
    # An offset this large overflowed the database's integers: a 500.
    data = body(as_("admin").get("/households", page=654240583976733475497574400))
    assert (data["count"], data["items"]) == (5, [])


def test_it_answers_422_for_a_body_that_is_not_json(world, client, tokens):
    resident = world.residents["赵光菊"]
    response = client.post(
        f"{API}/residents/{resident.pk}/reveal",
        "\x00",
        content_type="application/json",
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    assert response.status_code == 422
    assert body(response)["errors"] == [{"field": "body", "reason": "the body is not valid JSON"}]


def test_it_documents_the_kinds_of_units_and_grids_apart(db, client):
    schemas = body(client.get(API + "/openapi.json"))["components"]["schemas"]
    # Both enums are called Kind in the code; the document kept only the grids' values.
    assert schemas["UnitOut"]["properties"]["kind"]["enum"] == list(Unit.Kind.values)
    grid_kind = schemas["GridProperties"]["properties"]["kind"]["$ref"].rsplit("/", 1)[-1]
    assert schemas[grid_kind]["enum"] == ["comprehensive", "dedicated"]

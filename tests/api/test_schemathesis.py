"""Schemathesis against /api/v1/openapi.json: every operation, valid and invalid input.

The API runs in-process (WSGI) over the test database, called with the bearer token of a county
administrator, a village secretary and a grid worker in turn. Every check schemathesis has for a
single call runs (the configuration is the checkout's schemathesis.toml, as for `schemathesis
run`): no 5xx; status codes, content types, headers and bodies the document declares; input the
document calls invalid is refused, and input it calls valid is accepted — except the 422s that
depend on the data, listed per operation in that file. Examples are bounded so that this adds
seconds to the suite, and Hypothesis keeps no example database.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from grassroots.territory.models import Unit
from grassroots.wsgi import application

from .conftest import API, body

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    missing_required_header,
    unsupported_method,
]
CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"

# Loaded once, when the tests are collected: the document does not touch the database.
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", application, config=schemathesis.Config.from_path(str(CONFIG))
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


@pytest.mark.parametrize("persona", ["admin", "secretary", "worker"])
@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    database=None,
    # The same examples every run: CI is never red by chance. `schemathesis run` explores.
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_it_answers_every_operation_as_its_schema_says(
    case, persona, world, enterprises, tokens, in_test_transaction
):
    case.call_and_validate(headers={"Authorization": f"Bearer {tokens[persona]}"}, checks=CHECKS)


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


def test_it_takes_an_empty_filter_as_no_filter(world, as_):
    # An HTML form sends a field left blank as `grid=`: it was refused with 422.
    full = body(as_("admin").get("/households"))
    for params in ({"grid": ""}, {"unit": "", "q": "", "tag": ""}, {"grid": "", "page": 1}):
        assert body(as_("admin").get("/households", **params)) == full
    assert as_("admin").get("/cases", scope="", grid="", queue="", category="").status_code == 200
    assert as_("admin").get("/audit/events", action="", channel="", since="").status_code == 200


def test_it_refuses_what_the_document_refuses(world, as_):
    for path, params, field in (
        ("/cases/stats", {"until": "0"}, "until"),  # read as 1970-01-01 before
        ("/cases", {"since": "20260101"}, "since"),
        ("/households", {"page_size": 501}, "page_size"),
        ("/residents", {"household": -50626230570051928064}, "household"),  # a 500 before
        ("/cases", {"grid": "٣٥٠٤٢٦١٠٠٠٠١٠٠١"}, "grid"),  # other scripts' digits
    ):
        response = as_("admin").get(path, **params)
        assert response.status_code == 422, (path, params, response.content)
        assert body(response)["errors"][0]["field"] == field


def test_it_documents_what_it_answers(db, client):
    doc = body(client.get(API + "/openapi.json"))
    photo = doc["paths"]["/api/v1/cases/{tracking_code}/photos/{photo_id}"]["get"]["responses"]
    assert set(photo["200"]["content"]) == {"image/jpeg", "image/png", "image/webp", "image/heic"}
    [page_size] = [
        p
        for p in doc["paths"]["/api/v1/households"]["get"]["parameters"]
        if p["name"] == "page_size"
    ]
    assert (page_size["schema"]["minimum"], page_size["schema"]["maximum"]) == (1, 500)

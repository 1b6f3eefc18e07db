"""A NUL character in a path or query string is refused before any view runs.

Nothing stored holds one, and PostgreSQL refuses to compare text with one: on PostgreSQL these
requests were 500s (`/api/v1/units/%00`, `?actor=%00` on the audit events, an admin search).
"""

from __future__ import annotations

import pytest

from grassroots.accounts.models import ApiToken

ERROR = "must not contain NUL characters"


@pytest.fixture
def bearer(world):
    return {"Authorization": f"Bearer {ApiToken.issue(world.users['admin'])[1]}"}


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/units/%00", "path"),
        ("/api/v1/grids/3504261000010%00", "path"),
        ("/api/v1/households/%00", "path"),
        ("/api/v1/audit/events?actor=%00", "actor"),
        ("/api/v1/audit/events?object=resident:%00", "object"),
        ("/api/v1/residents?q=%E8%B5%B5%00", "q"),
        ("/api/v1/households?page=1&%00=1", "query"),
    ],
)
def test_it_answers_422_in_json_for_nul_in_an_api_url(world, client, bearer, url, field):
    response = client.get(url, headers={**bearer, "Accept-Language": "en"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": f"Invalid input: {field}: {ERROR}",
        "errors": [{"field": field, "reason": ERROR}],
    }


def test_it_answers_400_for_nul_in_a_page_url(world, login):
    response = login("admin").get("/admin/registry/resident/?q=%00")
    assert response.status_code == 400
    assert response.content.decode() == ERROR


def test_it_lets_every_other_url_through(world, client, bearer):
    assert client.get("/api/v1/units/350426", headers=bearer).status_code == 200
    assert client.get("/api/v1/residents?q=%E8%B5%B5", headers=bearer).json()["count"] == 1

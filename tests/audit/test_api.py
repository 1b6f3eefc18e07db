"""GET /api/v1/audit/events: scoped, filtered, paginated, and for auditors only."""

from __future__ import annotations

import pytest

from .conftest import body, make_event


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in body(response)["items"]]


def test_it_lists_the_county_for_a_county_auditor(events, api):
    response = api("auditor").get("/audit/events")
    assert ids(response) == [events[k].pk for k in ("keys", "b11", "a21", "a11")]
    page = body(response)
    assert (page["count"], page["page"], page["page_size"]) == (4, 1, 50)
    a11 = page["items"][-1]
    assert a11["actor"] == "worker" and a11["channel"] == "web" and a11["address"] == "10.0.0.1"
    assert a11["at"].endswith("+08:00")
    assert a11["changes"] == {"address": ["地址HA11-1", "水东路1号"]}


def test_it_lists_only_the_towns_events_for_a_town_auditor(events, api, town_auditor):
    response = api(town_auditor).get("/audit/events")
    assert ids(response) == [events["a21"].pk, events["a11"].pk]
    assert body(response)["count"] == 2
    # Out of scope: another town, and events without a territory.
    for key in ("b11", "keys"):
        assert api(town_auditor).get(f"/audit/events/{events[key].pk}").status_code == 404
    assert api(town_auditor).get(f"/audit/events/{events['a11'].pk}").status_code == 200


def test_it_shows_one_event(events, api):
    response = api("admin").get(f"/audit/events/{events['a21'].pk}")
    assert response.status_code == 200
    event = body(response)
    assert event["id"] == events["a21"].pk and event["action"] == "create"
    assert event["object_type"] == "registry.resident" and event["channel"] == "api"
    assert api("admin").get("/audit/events/999999").status_code == 404


@pytest.mark.parametrize("persona", ["official", "secretary", "worker", "dispatcher"])
def test_it_refuses_roles_without_the_permission(events, api, persona):
    for path in ("/audit/events", f"/audit/events/{events['a11'].pk}"):
        response = api(persona).get(path)
        assert response.status_code == 403
        assert body(response) == {"detail": "Your role lacks the permission audit.view_event"}


def test_it_refuses_anonymous_callers(events, client):
    assert client.get("/api/v1/audit/events").status_code == 401


def test_it_filters_like_the_command(world, events, api):
    client = api("auditor")
    household = world.households["HA11-1"]
    assert ids(client.get("/audit/events", object=f"household:{household.pk}")) == [
        events["a11"].pk
    ]
    assert ids(client.get("/audit/events", actor="outsider")) == [events["b11"].pk]
    assert ids(client.get("/audit/events", action="keys")) == [events["keys"].pk]
    assert ids(client.get("/audit/events", channel="api")) == [events["a21"].pk]
    assert ids(client.get("/audit/events", since="2000-01-01", channel="web")) == [
        events["b11"].pk,
        events["a11"].pk,
    ]
    assert ids(client.get("/audit/events", until="2000-01-01")) == []


def test_it_pages_through_events(db, api, world):
    made = [make_event(scope_code="350426100001001") for _ in range(5)]
    newest_first = [e.pk for e in reversed(made)]
    client = api("auditor")
    assert ids(client.get("/audit/events", page_size=2)) == newest_first[:2]
    assert ids(client.get("/audit/events", page_size=2, page=3)) == newest_first[4:]
    assert ids(client.get("/audit/events", page_size=2, page=4)) == []


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"since": "last week"}, "since", "expected an ISO 8601 date or date-time"),
        ({"until": "2024-02-30"}, "until", "expected an ISO 8601 date or date-time"),
        ({"object": "thing:1"}, "object", "expected TYPE:ID such as resident:42"),
        ({"action": "erase"}, "action", "unknown action erase (one of: create, update"),
        ({"channel": "fax"}, "channel", "unknown channel fax (one of: web, api"),
        ({"page_size": 100000}, "page_size", "at most 500 items per page"),
    ],
)
def test_it_refuses_bad_filters_naming_them(events, api, params, field, reason):
    response = api("auditor").get("/audit/events", **params)
    assert response.status_code == 422
    errors = body(response)["errors"]
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["reason"].startswith(reason)

"""One definition of the audit trail's filters (audit.filters.EventFilters) for its three doors:
the API's query, the auditors' page and `grassroots audit log`."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from grassroots.audit.filters import EventFilters
from grassroots.audit.forms import EventFilterForm

from .conftest import API, body

NAMES = ["object", "actor", "since", "until", "action", "channel"]


def test_it_has_the_same_names_in_every_door(client, db):
    assert list(EventFilters.model_fields) == NAMES
    assert list(EventFilterForm.base_fields) == NAMES
    doc = body(client.get(API + "/openapi.json"))
    parameters = doc["paths"]["/api/v1/audit/events"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == [*NAMES, "page", "page_size"]
    # The command takes an option of each name (empty text: no filter).
    given = {
        "object": "",
        "actor": "",
        "since": "",
        "until": "",
        "action": "keys",
        "channel": "task",
    }
    out = io.StringIO()
    call_command("audit", "log", "--json", *[f"--{k}={v}" for k, v in given.items()], stdout=out)
    assert out.getvalue() == ""


def test_it_reads_text_and_names_each_bad_filter():
    filters = EventFilters.parse({"object": "household:7", "actor": "", "page": "2"})
    assert (filters.object, filters.actor, filters.since) == ("household:7", None, None)
    with pytest.raises(ValidationError) as exc:
        EventFilters.parse({"since": "2024-05-02", "until": "2024-05-01", "channel": "fax"})
    assert exc.value.message_dict == {
        "until": ["until lies before since"],
        "channel": ["unknown channel fax (one of: web, api, import, command, task)"],
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("object", "thing:1", "expected TYPE:ID such as resident:42 or registry.household:7"),
        ("object", "resident:", "the ID after registry.resident: is missing or not an id"),
        ("since", "last week", "expected an ISO 8601 date or date-time such as 2024-05-01"),
        ("until", "2024-02-30", "expected an ISO 8601 date or date-time such as 2024-05-01"),
    ],
)
def test_it_refuses_a_bad_filter_with_the_same_message_in_every_door(
    events, api, login, name, value, message
):
    response = api("auditor").get("/audit/events", **{name: value})
    assert response.status_code == 422
    [error] = body(response)["errors"]
    assert error["field"] == name and error["reason"].startswith(message)
    page = login("auditor").get("/audit/log/", {name: value})
    assert page.context["form"].errors[name] == [error["reason"]]
    with pytest.raises(CommandError) as exc:
        call_command("audit", "log", f"--{name}", value, stdout=io.StringIO())
    assert str(exc.value) == f"--{name}: {error['reason']}"


def test_it_finds_the_same_events_through_every_door(world, events, api, login):
    household = world.households["HA11-1"]
    given = {"object": f"household:{household.pk}", "since": "2000-01-01", "channel": "web"}
    by_api = [e["id"] for e in body(api("auditor").get("/audit/events", **given))["items"]]
    page = login("auditor").get("/audit/log/", given)
    by_page = [event.pk for event, _changes in page.context["rows"]]
    out = io.StringIO()
    args = [f"--{name}={value}" for name, value in given.items()]
    call_command("audit", "log", "--json", "--as-user", "auditor", *args, stdout=out)
    by_command = [json.loads(line)["id"] for line in out.getvalue().splitlines()]
    assert by_api == by_page == by_command == [events["a11"].pk]

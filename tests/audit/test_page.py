"""/audit/log/: the auditors' page, and the audit trail in the admin."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from .conftest import make_event

URL = "/audit/log/"


def event_ids(response):
    return [int(pk) for pk in re.findall(r'<tr id="event-(\d+)">', response.content.decode())]


def event_row(html, pk):
    """The markup of one event's row, without whitespace between tags."""
    part = html.split(f'<tr id="event-{pk}">', 1)[1].split('<tr id="event-', 1)[0]
    return re.sub(r">\s+<", "><", part)


def test_it_lists_the_events_of_the_auditors_scope(events, login):
    response = login("auditor").get(URL)
    assert response.status_code == 200
    assert event_ids(response) == [events[k].pk for k in ("keys", "b11", "a21", "a11")]
    html = response.content.decode()
    assert "4 events" in html
    # The change of the household as a small before/after table.
    row = event_row(html, events["a11"].pk)
    assert '<th scope="row">address</th><td>地址HA11-1</td><td>水东路1号</td>' in row
    assert "worker" in row and "req-a11" in row and "10.0.0.1" in row


def test_it_lists_only_the_towns_events_for_a_town_auditor(events, login, town_auditor):
    response = login(town_auditor).get(URL)
    assert event_ids(response) == [events["a21"].pk, events["a11"].pk]


@pytest.mark.parametrize("persona", ["worker", "official", "dispatcher"])
def test_it_refuses_roles_without_the_permission(events, login, persona):
    assert login(persona).get(URL).status_code == 403


def test_it_sends_anonymous_visitors_to_sign_in(db, client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_filters_events(world, events, login):
    client = login("auditor")
    household = world.households["HA11-1"]
    assert event_ids(client.get(URL, {"object": f"household:{household.pk}"})) == [events["a11"].pk]
    assert event_ids(client.get(URL, {"actor": "official"})) == [events["a21"].pk]
    assert event_ids(client.get(URL, {"action": "keys"})) == [events["keys"].pk]
    assert event_ids(client.get(URL, {"channel": "web", "actor": "outsider"})) == [events["b11"].pk]
    assert event_ids(client.get(URL, {"until": "2000-01-01"})) == []
    # Empty fields, as the form sends them, filter nothing.
    empty = {"object": "", "actor": "", "since": "", "until": "", "action": "", "channel": ""}
    assert len(event_ids(client.get(URL, empty))) == 4


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"since": "yesterday"}, "since", "expected an ISO 8601 date or date-time"),
        ({"object": "thing:1"}, "object", "expected TYPE:ID such as resident:42"),
        ({"since": "2024-05-02", "until": "2024-05-01"}, "until", "until lies before since"),
        ({"action": "erase"}, "action", "Select a valid choice."),
    ],
)
def test_it_shows_what_is_wrong_with_a_filter(events, login, params, field, message):
    response = login("auditor").get(URL, params)
    assert response.status_code == 200
    assert event_ids(response) == []
    errors = response.context["form"].errors
    assert list(errors) == [field] and errors[field][0].startswith(message)


def test_it_pages_through_events_keeping_the_filters(db, world, login):
    made = [make_event(channel="web", scope_code="350426100001001") for _ in range(55)]
    client = login("auditor")
    first = client.get(URL, {"channel": "web"})
    assert event_ids(first) == [e.pk for e in reversed(made)][:50]
    html = first.content.decode()
    assert 'href="?channel=web&amp;page=2"' in html
    second = client.get(URL, {"channel": "web", "page": 2})
    assert event_ids(second) == [e.pk for e in reversed(made)][50:]


def test_it_reads_a_page_in_a_fixed_number_of_queries(db, world, login, django_assert_num_queries):
    client = login("auditor")
    for _ in range(3):
        make_event(scope_code="350426100001001", changes={"address": ["a", "b"]})
    client.get(URL)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for _ in range(20):
        make_event(scope_code="350426100001001", changes={"address": ["a", "b"]})
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(URL)


def test_it_links_the_page_from_the_home_page_for_auditors_only(world, login):
    link = f'href="{reverse("audit_log")}"'
    assert link in login("auditor").get(reverse("home")).content.decode()
    assert link in login("admin").get(reverse("home")).content.decode()
    assert link not in login("secretary").get(reverse("home")).content.decode()


def test_it_has_no_inline_script(events, login):
    html = login("auditor").get(URL).content.decode()
    assert "<script>" not in html and "onclick" not in html


# The admin


def test_it_lists_events_in_the_admin_within_scope(events, login, town_auditor):
    url = reverse("admin:audit_event_changelist")
    response = login("auditor").get(url)
    assert response.status_code == 200
    assert {e.pk for e in response.context["cl"].result_list} == {e.pk for e in events.values()}
    response = login(town_auditor).get(url)
    assert {e.pk for e in response.context["cl"].result_list} == {
        events["a11"].pk,
        events["a21"].pk,
    }
    outside = reverse("admin:audit_event_change", args=[events["b11"].pk])
    assert login(town_auditor).get(outside).status_code == 404


def test_it_searches_events_in_the_admin(events, login):
    url = reverse("admin:audit_event_changelist")
    client = login("auditor")
    found = client.get(url, {"q": "req-a21"}).context["cl"].result_list
    assert [e.pk for e in found] == [events["a21"].pk]
    found = client.get(url, {"q": "outsider"}).context["cl"].result_list
    assert [e.pk for e in found] == [events["b11"].pk]


def test_it_hides_the_audit_trail_in_the_admin_from_other_roles(events, login):
    client = login("secretary")
    assert client.get(reverse("admin:audit_event_changelist")).status_code == 403
    assert (
        reverse("admin:audit_event_changelist")
        not in client.get(reverse("admin:index")).content.decode()
    )

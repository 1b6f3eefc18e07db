"""Audit events are append-only at every layer: model, queryset, database, admin and API."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from grassroots.audit.models import AuditImmutableError, Event

from .conftest import API, body


def test_it_refuses_to_save_an_existing_event_again(events):
    event = events["a11"]
    event.reason = "tidied up"
    with pytest.raises(AuditImmutableError):
        event.save()
    assert Event.objects.get(pk=event.pk).reason == ""


def test_it_refuses_to_delete_an_event(events):
    with pytest.raises(AuditImmutableError):
        events["a11"].delete()
    assert Event.objects.filter(pk=events["a11"].pk).exists()


@pytest.mark.parametrize(
    "write",
    [
        lambda qs: qs.update(reason="x"),
        lambda qs: qs.delete(),
        lambda qs: qs.bulk_update(list(qs), ["reason"]),
        lambda qs: qs.update_or_create(pk=qs.first().pk, defaults={"reason": "x"}),
        lambda qs: Event.objects.update(reason="x"),
        lambda qs: Event.objects.all().delete(),
    ],
    ids=["update", "delete", "bulk_update", "update_or_create", "manager update", "all delete"],
)
def test_it_refuses_queryset_writes(events, write):
    with pytest.raises(AuditImmutableError):
        write(Event.objects.filter(pk=events["a11"].pk))
    assert Event.objects.count() == len(events)
    assert not Event.objects.filter(reason="x").exists()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_event SET reason = 'x'",
        "UPDATE audit_event SET actor_name = 'nobody' WHERE id = %s",
        "DELETE FROM audit_event WHERE id = %s",
        "DELETE FROM audit_event",
    ],
)
def test_it_refuses_raw_sql_updates_and_deletes_in_the_database(events, sql):
    """The triggers of migration 0002 (SQLite and PostgreSQL) stop any client, not just ours."""
    pk = events["a11"].pk
    params = [pk] if "%s" in sql else []
    # atomic(): on PostgreSQL the failed statement must not spoil the test's transaction.
    refused = pytest.raises(DatabaseError, match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert Event.objects.count() == len(events)
    assert Event.objects.get(pk=pk).actor_name == "worker"
    assert not Event.objects.filter(reason="x").exists()


def test_it_still_appends_with_raw_sql(events):
    """Only changing and removing are refused: the triggers let new events in."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_event (at, actor_name, channel, request_id, action, object_type,"
            " object_id, object_repr, scope_code, changes, reason)"
            " VALUES (%s, 'x', 'task', 'r', 'update', 'registry.household', '', '', '', '{}', '')",
            [events["a11"].at],
        )
    assert Event.objects.count() == len(events) + 1


# The admin


def admin_url(view, event=None):
    return reverse(f"admin:audit_event_{view}", args=[event.pk] if event else [])


@pytest.mark.parametrize("who", ["auditor", "superuser"])
def test_it_offers_no_way_to_add_change_or_delete_in_the_admin(events, login, superuser, who):
    client = login(superuser if who == "superuser" else who)
    event = events["a11"]
    page = client.get(admin_url("change", event))
    assert page.status_code == 200  # read-only display
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert admin_url("delete", event) not in html
    assert client.post(admin_url("change", event), {"reason": "x"}).status_code == 403
    assert client.get(admin_url("delete", event)).status_code == 403
    assert client.post(admin_url("delete", event), {"post": "yes"}).status_code == 403
    assert client.get(admin_url("add")).status_code == 403
    assert client.post(admin_url("add"), {"actor_name": "x"}).status_code == 403
    listing = client.get(admin_url("changelist"))
    assert listing.status_code == 200
    assert "delete_selected" not in listing.content.decode()
    bulk = {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    client.post(admin_url("changelist"), bulk)
    assert Event.objects.count() == len(events)
    assert Event.objects.get(pk=event.pk).reason == ""


# The API


def test_it_documents_only_reads_for_the_audit_trail(db, client):
    paths = body(client.get(API + "/openapi.json"))["paths"]
    audit_paths = {path: set(item) for path, item in paths.items() if "/audit/" in path}
    assert audit_paths == {
        "/api/v1/audit/coverage": {"get"},
        "/api/v1/audit/events": {"get"},
        "/api/v1/audit/events/{event_id}": {"get"},
    }


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_it_answers_no_write_method_in_the_api(events, api, method):
    client = api("auditor")
    event = events["a11"]
    for path in ("/audit/events", f"/audit/events/{event.pk}"):
        response = client.call(method, path)
        assert response.status_code in (404, 405), (method, path)
    assert Event.objects.count() == len(events)
    assert Event.objects.get(pk=event.pk).reason == ""

"""Masked values are revealed one field of one person at a time, with a recorded reason."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from grassroots.audit.models import Event
from tests.api.conftest import API, body

REASON = "回访确认联系方式 (call back about the visit)"


def reveal(client, token, resident_id, payload, **headers):
    return client.post(
        f"{API}/residents/{resident_id}/reveal",
        json.dumps(payload),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en", **headers},
        REMOTE_ADDR="10.1.2.3",
    )


@pytest.mark.parametrize(("field", "attr"), [("id_number", "id_number"), ("phone", "phone")])
def test_a_grid_worker_reveals_a_number_and_it_is_recorded(world, client, tokens, field, attr):
    resident = world.residents["赵光菊"]
    response = reveal(
        client,
        tokens["worker"],
        resident.pk,
        {"field": field, "reason": REASON},
        **{"X-Request-ID": "req-42"},
    )
    assert response.status_code == 200, response.content
    data = body(response)
    assert data["value"] == getattr(resident, attr)
    assert response["Cache-Control"] == "no-store"
    event = Event.objects.get(pk=data["event_id"])
    assert (event.action, event.object_type, event.object_id) == (
        "reveal",
        "registry.resident",
        str(resident.pk),
    )
    assert event.actor_name == "worker" and event.actor_id == world.users["worker"].pk
    assert event.changes == {"field": field} and event.reason == REASON
    assert event.address == "10.1.2.3" and event.channel == "api"
    assert event.request_id == response["X-Request-ID"] != "req-42"
    assert event.client_request_id == "req-42"
    # The record holds no full number.
    assert resident.id_number not in event.object_repr
    assert resident.id_number_masked in event.object_repr


def test_roles_without_the_reveal_permission_get_403_and_nothing_is_recorded(world, client, tokens):
    resident = world.residents["赵光菊"]
    for persona in ("dispatcher", "auditor"):
        response = reveal(
            client, tokens[persona], resident.pk, {"field": "id_number", "reason": REASON}
        )
        assert response.status_code == 403
        assert resident.id_number not in response.content.decode()
    assert not Event.objects.filter(action="reveal").exists()


def test_a_resident_out_of_scope_answers_404(world, client, tokens):
    resident = world.residents["周杰伦"]  # town B
    for persona in ("worker", "official", "secretary"):
        response = reveal(
            client, tokens[persona], resident.pk, {"field": "id_number", "reason": REASON}
        )
        assert response.status_code == 404
    assert not Event.objects.filter(action="reveal").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"field": "name", "reason": REASON}, "field"),
        ({"field": "id_number"}, "reason"),
        ({"field": "id_number", "reason": "  ab "}, "reason"),
        ({"field": "id_number", "reason": "x" * 501}, "reason"),
    ],
)
def test_a_bad_request_names_the_field(world, client, tokens, payload, field):
    response = reveal(client, tokens["worker"], world.residents["赵光菊"].pk, payload)
    assert response.status_code == 422
    assert any(e["field"] == field for e in body(response)["errors"])
    assert not Event.objects.filter(action="reveal").exists()


def test_the_daily_limit_stops_harvesting(world, client, tokens, settings):
    settings.REVEAL_DAILY_LIMIT = 2
    resident = world.residents["赵光菊"]
    payload = {"field": "phone", "reason": REASON}
    assert reveal(client, tokens["worker"], resident.pk, payload).status_code == 200
    assert reveal(client, tokens["worker"], resident.pk, payload).status_code == 200
    third = reveal(client, tokens["worker"], resident.pk, payload)
    assert third.status_code == 429
    assert "daily limit" in body(third)["detail"]
    assert Event.objects.filter(action="reveal").count() == 2
    # The limit is per person: a colleague still may.
    assert reveal(client, tokens["secretary"], resident.pk, payload).status_code == 200


def test_every_read_of_a_resident_stays_masked(world, as_):
    resident = world.residents["赵光菊"]
    for path in (
        f"/residents/{resident.pk}",
        "/residents",
        "/search?q=zgj",
        "/audit/coverage",
    ):
        text = as_("admin").get(path).content.decode()
        assert resident.id_number not in text and resident.phone not in text, path


def test_the_admin_reveal_page_asks_why_and_records_it(world, login):
    resident = world.residents["赵光菊"]
    client = login("secretary")
    change = client.get(reverse("admin:registry_resident_change", args=[resident.pk]))
    url = reverse("admin:registry_resident_reveal", args=[resident.pk])
    assert url in change.content.decode()
    form = client.get(url)
    assert form.status_code == 200 and resident.id_number not in form.content.decode()
    refused = client.post(url, {"field": "id_number", "reason": ""})
    assert "This field is required" in refused.content.decode()
    assert resident.id_number not in refused.content.decode()
    shown = client.post(url, {"field": "id_number", "reason": REASON}, REMOTE_ADDR="10.9.8.7")
    html = shown.content.decode()
    assert shown.status_code == 200 and resident.id_number in html
    assert "no-store" in shown["Cache-Control"]
    event = Event.objects.get(action="reveal")
    assert (event.actor_name, event.channel, event.address, event.reason) == (
        "secretary",
        "web",
        "10.9.8.7",
        REASON,
    )
    assert f"#{event.pk}" in html


def test_the_admin_reveal_page_is_closed_to_roles_without_the_permission(world, login):
    resident = world.residents["赵光菊"]
    client = login("dispatcher")
    change = client.get(reverse("admin:registry_resident_change", args=[resident.pk]))
    url = reverse("admin:registry_resident_reveal", args=[resident.pk])
    assert url not in change.content.decode()
    assert client.post(url, {"field": "id_number", "reason": REASON}).status_code == 403
    outsider = login("outsider").get(url)
    assert outsider.status_code == 404
    assert not Event.objects.filter(action="reveal").exists()

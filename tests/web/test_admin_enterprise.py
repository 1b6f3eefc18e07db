"""The enterprise pages of the admin open and save (issue 11, item 11: every enterprise edit
page answered 500, its form asking the enterprise for tags it does not have)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from grassroots.audit.models import Event

pytestmark = pytest.mark.usefixtures("enterprises")


@pytest.mark.parametrize(
    ("persona", "key"),
    [("admin", "tea"), ("admin", "fungi"), ("official", "tea"), ("secretary", "tea")],
)
def test_every_enterprise_page_opens(
    world: Any, enterprises: Any, login: Any, persona, key
) -> None:
    page = login(persona).get(
        reverse("admin:registry_enterprise_change", args=[enterprises[key].pk])
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert enterprises[key].name in text
    assert "13912345678" not in text and "13987654321" not in text
    assert "tags" not in page.context["adminform"].form.fields
    assert login(persona).get(reverse("admin:registry_enterprise_add")).status_code == 200


def test_an_enterprise_is_edited_and_audited(world: Any, enterprises: Any, login: Any) -> None:
    tea = enterprises["tea"]
    response = login("official").post(
        reverse("admin:registry_enterprise_change", args=[tea.pk]),
        {
            "name": "水东茶业股份有限公司",
            "credit_code": tea.credit_code,
            "industry": tea.industry,
            "address": tea.address,
            "contact_name": tea.contact_name,
            "contact_phone": "",  # left empty: the stored number stays
            "grid": world.grid_a11.pk,
            "unit": "",
            "lon": "",
            "lat": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tea.refresh_from_db()
    assert tea.name == "水东茶业股份有限公司" and tea.contact_phone == "13912345678"
    event = Event.objects.get(object_type="registry.enterprise", action="update")
    assert event.changes["name"] == ["水东茶业有限公司", "水东茶业股份有限公司"]

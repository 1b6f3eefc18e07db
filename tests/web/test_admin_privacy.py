"""Masked ID and phone numbers, hidden sensitive tags, read-only roles and API tokens."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grassroots.accounts.models import ApiToken, User
from grassroots.registry.models import Household, Resident, Tag, join_tags
from grassroots.territory.models import Grid
from tests import factories as f


def raw_numbers(world) -> list[str]:
    return [r.id_number for r in world.residents.values()] + ["13800138000"]


@pytest.mark.parametrize("persona", ["admin", "auditor", "worker"])
def test_it_never_shows_raw_id_or_phone_numbers_in_lists(world, login, persona):
    client = login(persona)
    pages = [
        reverse("admin:registry_resident_changelist"),
        reverse("admin:registry_household_changelist"),
        reverse("admin:registry_resident_changelist") + "?q=" + world.residents["赵光菊"].id_number,
        reverse("admin:registry_household_change", args=[world.households["HA11-1"].pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        for number in raw_numbers(world):
            # The search box and links keeping the search echo what was typed; nothing else
            # may show the number.
            for echo in (f'value="{number}"', f"q={number}", f"q%3D{number}"):
                html = html.replace(echo, "")
            assert number not in html, (url, number)
    html = client.get(reverse("admin:registry_resident_changelist")).content.decode()
    assert world.residents["赵光菊"].id_number_masked in html
    assert "138****8000" in html


def test_it_shows_masked_numbers_on_read_only_pages(world, login):
    resident = world.residents["赵光菊"]
    html = (
        login("auditor")
        .get(reverse("admin:registry_resident_change", args=[resident.pk]))
        .content.decode()
    )
    assert resident.id_number not in html and "13800138000" not in html
    assert resident.id_number_masked in html and "138****8000" in html


def test_it_never_sends_the_raw_numbers_in_the_edit_form(world, login):
    resident = world.residents["赵光菊"]
    html = (
        login("admin")
        .get(reverse("admin:registry_resident_change", args=[resident.pk]))
        .content.decode()
    )
    assert resident.id_number not in html and resident.phone not in html
    assert f'placeholder="{resident.id_number_masked}"' in html
    assert "Leave empty to keep it; type a new value to replace it." in html
    assert 'name="id_number" value=' not in html


@pytest.mark.parametrize(
    "query", ["id_number__startswith=3504", "id_number=X", "phone__startswith=138", "tags=x"]
)
def test_it_refuses_query_string_lookups_on_private_columns(world, login, query):
    url = reverse("admin:registry_resident_changelist") + "?" + query
    assert login("admin").get(url).status_code == 400


def test_it_lets_the_auditor_read_but_not_change(world, login):
    client = login("auditor")
    household = world.households["HA11-1"]
    change = reverse("admin:registry_household_change", args=[household.pk])
    response = client.get(change)
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert client.post(change, {"code": "X", "address": "X"}).status_code == 403
    assert client.get(reverse("admin:registry_household_add")).status_code == 403
    delete = reverse("admin:registry_household_delete", args=[household.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    household.refresh_from_db()
    assert household.code == "HA11-1"
    changelist = client.get(reverse("admin:registry_household_changelist")).content.decode()
    assert 'name="action"' not in changelist  # no bulk delete offered


def test_it_lets_only_permitted_roles_into_account_pages(world, login):
    assert login("auditor").get(reverse("admin:accounts_user_changelist")).status_code == 200
    assert login("worker").get(reverse("admin:accounts_user_changelist")).status_code == 403
    assert login("admin").get(reverse("admin:accounts_apitoken_changelist")).status_code == 403


def test_it_hides_sensitive_tags_from_those_not_granted_them(world, login):
    Tag.objects.get_or_create(name="社区矫正", defaults={"kind": Tag.Kind.SENSITIVE})
    Tag.objects.get_or_create(name="低保", defaults={"kind": Tag.Kind.CARE})
    household = world.households["HA11-1"]
    Household.objects.filter(pk=household.pk).update(tags=join_tags(["低保", "社区矫正"]))

    client = login("admin")
    html = client.get(reverse("admin:registry_household_changelist")).content.decode()
    assert "低保" in html and "社区矫正" not in html
    change = reverse("admin:registry_household_change", args=[household.pk])
    assert "社区矫正" not in client.get(change).content.decode()
    assert "社区矫正" not in login("auditor").get(change).content.decode()

    # Saving the form keeps the tag the editor could not see.
    data = {
        "code": household.code,
        "address": household.address,
        "grid": household.grid_id,
        "unit": household.unit_id,
        "lon": household.lon,
        "lat": household.lat,
        "tags": [],
        "members-TOTAL_FORMS": "2",
        "members-INITIAL_FORMS": "2",
        "members-0-id": world.residents["赵光菊"].pk,
        "members-0-household": household.pk,
        "members-1-id": world.residents["钱多多"].pk,
        "members-1-household": household.pk,
        "_save": "Save",
    }
    response = client.post(change, data)
    assert response.status_code == 302
    household.refresh_from_db()
    assert household.tags == join_tags(["社区矫正"])

    root = User.objects.create_superuser("root", password="x-Long-enough-1!")
    html = login(root).get(reverse("admin:registry_household_changelist")).content.decode()
    assert "社区矫正" in html


def test_it_filters_by_tag_and_status(world, login):
    Tag.objects.get_or_create(name="独居老人", defaults={"kind": Tag.Kind.CARE})
    li = world.residents["李白"]
    Resident.objects.filter(pk=li.pk).update(tags=join_tags(["独居老人"]))
    client = login("admin")
    url = reverse("admin:registry_resident_changelist")
    response = client.get(url, {"tag": "独居老人"})
    assert [r.name for r in response.context["cl"].result_list] == ["李白"]
    Resident.objects.filter(pk=li.pk).update(moved_out_on="2024-01-01")
    response = client.get(url, {"status": "moved"})
    assert [r.name for r in response.context["cl"].result_list] == ["李白"]
    response = client.get(url, {"status": "current"})
    assert "李白" not in [r.name for r in response.context["cl"].result_list]
    response = login("outsider").get(url, {"tag": "独居老人"})
    assert list(response.context["cl"].result_list) == []


def test_it_filters_households_by_grid_kind(world, login):
    Grid.objects.filter(pk=world.grid_a12.pk).update(kind=Grid.Kind.DEDICATED)
    url = reverse("admin:registry_household_changelist")
    response = login("admin").get(url, {"grid_kind": "dedicated"})
    assert [h.code for h in response.context["cl"].result_list] == ["HA12-1"]
    response = login("worker").get(url, {"grid_kind": "dedicated"})
    assert list(response.context["cl"].result_list) == []


def test_it_lists_and_revokes_api_tokens(world, login):
    root = User.objects.create_superuser("root", password="x-Long-enough-1!")
    token, _secret = ApiToken.issue(world.users["worker"])
    kept, _secret = ApiToken.issue(world.users["outsider"])
    client = login(root)
    url = reverse("admin:accounts_apitoken_changelist")
    html = client.get(url).content.decode()
    assert token.prefix in html and token.digest not in html
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 403
    response = client.post(url, {"action": "revoke", "_selected_action": [token.pk]}, follow=True)
    assert "1 token revoked." in response.content.decode()
    token.refresh_from_db()
    kept.refresh_from_db()
    assert token.revoked_at is not None and kept.revoked_at is None
    assert ApiToken.authenticate(_secret) is not None


@pytest.mark.parametrize(
    ("url_name", "add"),
    [
        ("admin:registry_household_changelist", lambda w, i: f.household(f"HX-{i}", w.grid_a11)),
        (
            "admin:registry_resident_changelist",
            lambda w, i: f.resident(f"新人{i}", w.households["HA11-1"]),
        ),
        (
            "admin:territory_grid_changelist",
            lambda w, i: f.grid(f"350426100002{100 + i}", 118.3 + i / 50, 26.3),
        ),
        ("admin:accounts_user_changelist", lambda w, i: f.user(f"u{i}", "dispatcher", "350426")),
    ],
)
def test_it_lists_with_a_fixed_number_of_queries(
    world, login, django_assert_max_num_queries, url_name, add
):
    client = login("admin")
    url = reverse(url_name)
    client.get(url)  # warm: session, content types
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        client.get(url)
    for i in range(5):
        add(world, i)
    with django_assert_max_num_queries(len(before)):
        client.get(url)

"""The admin sees, counts, searches and edits only the user's subtree."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.test import RequestFactory
from django.urls import reverse

from grassroots.accounts.models import User
from grassroots.registry.models import Household, Resident
from grassroots.territory.models import Grid, Unit
from tests import factories as f

ALL_HOUSEHOLDS = ["HA11-1", "HA11-2", "HA12-1", "HA21-1", "HB11-1"]

# What each persona sees, as household codes, resident names, grid and unit codes, usernames.
VISIBLE = {
    "admin": {
        "household": ALL_HOUSEHOLDS,
        "resident": ["赵光菊", "钱多多", "孙悟空", "李白", "周杰伦"],
        "grid": ["350426100001001", "350426100001002", "350426100002001", "350426101201001"],
        "unit": [
            "350426",
            "350426100",
            "350426100001",
            "350426100002",
            "350426101",
            "350426101201",
        ],
        "user": [
            "admin",
            "auditor",
            "dispatcher",
            "official",
            "outsider",
            "secretary",
            "worker",
            "worker2",
        ],
    },
    "official": {
        "household": ["HA11-1", "HA11-2", "HA12-1", "HA21-1"],
        "resident": ["赵光菊", "钱多多", "孙悟空", "李白"],
        "grid": ["350426100001001", "350426100001002", "350426100002001"],
        "unit": ["350426100", "350426100001", "350426100002"],
        "user": ["dispatcher", "official", "secretary", "worker", "worker2"],
    },
    "secretary": {
        "household": ["HA11-1", "HA11-2", "HA12-1"],
        "resident": ["赵光菊", "钱多多", "孙悟空"],
        "grid": ["350426100001001", "350426100001002"],
        "unit": ["350426100001"],
        "user": ["secretary", "worker", "worker2"],
    },
    "worker": {
        "household": ["HA11-1", "HA11-2"],
        "resident": ["赵光菊", "钱多多"],
        "grid": ["350426100001001"],
        "unit": [],
    },
    "worker2": {
        "household": ["HA12-1", "HA21-1"],
        "resident": ["孙悟空", "李白"],
        "grid": ["350426100001002", "350426100002001"],
        "unit": [],
    },
    "outsider": {
        "household": ["HB11-1"],
        "resident": ["周杰伦"],
        "grid": ["350426101201001"],
        "unit": ["350426101", "350426101201"],
        "user": ["outsider"],
    },
}

ADMIN_MODELS = {
    "household": (Household, "registry", lambda o: o.code),
    "resident": (Resident, "registry", lambda o: o.name),
    "grid": (Grid, "territory", lambda o: o.code),
    "unit": (Unit, "territory", lambda o: o.code),
    "user": (User, "accounts", lambda o: o.username),
}

CASES = [
    (persona, model)
    for persona, models in VISIBLE.items()
    for model in ADMIN_MODELS
    if model in models
]


def changelist_url(model: str) -> str:
    _model, app, _key = ADMIN_MODELS[model]
    return reverse(f"admin:{app}_{model}_changelist")


def change_url(model: str, obj: Any, view: str = "change") -> str:
    _model, app, _key = ADMIN_MODELS[model]
    return reverse(f"admin:{app}_{model}_{view}", args=[obj.pk])


@pytest.mark.parametrize(("persona", "model"), CASES)
def test_it_lists_and_counts_only_the_personas_subtree(world, login, persona, model):
    klass, _app, key = ADMIN_MODELS[model]
    response = login(persona).get(changelist_url(model))
    assert response.status_code == 200
    cl = response.context["cl"]
    expected = sorted(VISIBLE[persona][model])
    assert sorted(key(o) for o in cl.result_list) == expected
    assert cl.result_count == cl.full_result_count == len(expected)
    html = response.content.decode()
    for obj in klass.objects.all():
        link = f'href="{change_url(model, obj)}'
        assert (link in html) == (key(obj) in expected), key(obj)


def test_it_keeps_filter_choices_and_facet_counts_in_scope(world, login):
    response = login("official").get(changelist_url("grid") + "?_facets=1")
    html = response.content.decode()
    assert "水东社区" in html and "西门社区" in html
    assert "半山村" not in html
    unit_filter = next(f for f in response.context["cl"].filter_specs if f.field_path == "unit")
    assert sorted(label for _pk, label in unit_filter.lookup_choices) == [
        str(world.village_a1),
        str(world.village_a2),
    ]


@pytest.mark.parametrize(
    ("model", "view"),
    [
        (model, view)
        for model in ("household", "resident", "grid", "unit", "user")
        for view in ("change", "history", "delete")
        if (model, view) != ("user", "delete")  # no role deletes accounts (403 for everyone)
    ],
)
def test_it_answers_404_for_objects_out_of_scope(world, login, model, view):
    outside = {
        "household": world.households["HA11-1"],
        "resident": world.residents["赵光菊"],
        "grid": world.grid_a11,
        "unit": world.village_a1,
        "user": world.users["secretary"],
    }[model]
    # An administrator's rights (delete included) over town B only.
    client = login(f.user("admin_b", "county_admin", "350426101"))
    assert client.get(change_url(model, outside, view)).status_code == 404
    assert client.post(change_url(model, outside, view), {"post": "yes"}).status_code == 404
    assert type(outside).objects.filter(pk=outside.pk).exists()


def test_it_answers_404_to_a_grid_worker_for_a_neighbouring_grids_household(world, login):
    url = change_url("household", world.households["HA12-1"])
    assert login("worker").get(url).status_code == 404
    assert login("worker2").get(url).status_code == 200


def test_it_answers_404_for_the_password_page_of_a_user_out_of_scope(world, login):
    url = reverse("admin:auth_user_password_change", args=[world.users["secretary"].pk])
    assert login(f.user("admin_b", "county_admin", "350426101")).get(url).status_code == 404
    assert login("admin").get(url).status_code == 200


def test_it_hides_superusers_from_other_administrators(world, login):
    root = User.objects.create_superuser("root", password="x-Long-enough-1!", scope_code="350426")
    response = login("admin").get(changelist_url("user"))
    assert "root" not in [u.username for u in response.context["cl"].result_list]
    assert login("admin").get(change_url("user", root)).status_code == 404
    assert login(root).get(change_url("user", root)).status_code == 200


@pytest.mark.parametrize(
    ("persona", "term", "expected"),
    [
        ("admin", "zgj", ["赵光菊"]),
        ("admin", "zhaoguangju", ["赵光菊"]),
        ("admin", "zhao guang ju", ["赵光菊"]),
        ("admin", "ZGJ", ["赵光菊"]),
        ("admin", "趙光菊", ["赵光菊"]),
        ("admin", "光菊", ["赵光菊"]),
        ("admin", "ｚｇｊ", ["赵光菊"]),
        ("admin", "zjl", ["周杰伦"]),
        ("worker", "zjl", []),
        ("worker", "zhou", []),
        ("outsider", "zjl", ["周杰伦"]),
        ("outsider", "zgj", []),
        ("worker", "s", []),
        ("secretary", "s", ["孙悟空"]),
    ],
)
def test_it_finds_residents_by_name_pinyin_and_initials_in_scope(
    world, login, persona, term, expected
):
    response = login(persona).get(changelist_url("resident"), {"q": term})
    assert response.status_code == 200
    assert sorted(r.name for r in response.context["cl"].result_list) == sorted(expected)


def test_it_finds_residents_by_the_last_digits_of_the_id_number_in_scope(world, login):
    number = world.residents["周杰伦"].id_number
    for term in (number[-4:], number[-6:], number[-4:].lower(), number):
        response = login("outsider").get(changelist_url("resident"), {"q": term})
        assert [r.name for r in response.context["cl"].result_list] == ["周杰伦"], term
    response = login("worker").get(changelist_url("resident"), {"q": number[-4:]})
    assert list(response.context["cl"].result_list) == []
    response = login("admin").get(changelist_url("resident"), {"q": "0000" + number[-4:]})
    assert list(response.context["cl"].result_list) == []


def test_it_searches_households_only_in_scope(world, login):
    response = login("worker").get(changelist_url("household"), {"q": "HB11"})
    assert list(response.context["cl"].result_list) == []
    response = login("outsider").get(changelist_url("household"), {"q": "HB11"})
    assert [h.code for h in response.context["cl"].result_list] == ["HB11-1"]


def test_it_autocompletes_households_only_in_scope(world, login):
    url = reverse("admin:autocomplete")
    params = {
        "app_label": "registry",
        "model_name": "resident",
        "field_name": "household",
        "term": "H",
    }
    data = login("worker").get(url, params).json()
    assert sorted(r["text"].split()[0] for r in data["results"]) == ["HA11-1", "HA11-2"]


def options(html: str, select_name: str) -> list[str]:
    """The option labels of a <select> in a rendered form."""
    start = html.index(f'name="{select_name}"')
    block = html[start : html.index("</select>", start)]
    labels = [part.split(">", 1)[1].split("<", 1)[0] for part in block.split("<option")[1:]]
    return [label for label in labels if label and not label.startswith("-")]


def test_it_offers_only_grids_and_units_in_scope(world, login):
    html = login("secretary").get(reverse("admin:registry_household_add")).content.decode()
    assert options(html, "grid") == [str(world.grid_a11), str(world.grid_a12)]
    assert options(html, "unit") == [str(world.village_a1)]
    html = login("official").get(reverse("admin:registry_household_add")).content.decode()
    # Households belong to villages and communities, never to a town.
    assert options(html, "unit") == [str(world.village_a1), str(world.village_a2)]
    html = login("worker").get(reverse("admin:registry_household_add")).content.decode()
    assert options(html, "grid") == [str(world.grid_a11)]


def household_form(**values: Any) -> dict[str, Any]:
    data = {
        "code": "HNEW-1",
        "address": "新地址1号",
        "building": "",
        "unit_no": "",
        "room": "",
        "grid": "",
        "unit": "",
        "lon": "",
        "lat": "",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "0",
        "_save": "Save",
    }
    data.update(values)
    return data


def test_it_refuses_to_move_a_household_out_of_scope(world, login):
    client = login("secretary")
    url = reverse("admin:registry_household_add")
    response = client.post(url, household_form(grid=world.grid_b11.pk))
    assert response.status_code == 200
    assert "grid" in response.context["adminform"].form.errors
    response = client.post(url, household_form(unit=world.village_b1.pk))
    assert "unit" in response.context["adminform"].form.errors
    assert not Household.objects.filter(code="HNEW-1").exists()

    household = world.households["HA11-1"]
    data = household_form(code=household.code, address=household.address)
    data.update(grid=world.grid_b11.pk, unit=world.village_a1.pk)
    response = client.post(change_url("household", household), data)
    assert response.status_code == 200
    household.refresh_from_db()
    assert household.grid_id == world.grid_a11.pk


def test_it_lets_a_grid_worker_add_a_household_in_their_grid(world, login):
    response = login("worker").post(
        reverse("admin:registry_household_add"), household_form(grid=world.grid_a11.pk)
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    household = Household.objects.get(code="HNEW-1")
    # The village follows the grid: a grid worker cannot pick villages above their grids.
    assert household.unit_id == world.village_a1.pk
    assert household.scope_code == world.grid_a11.code


def test_it_moves_a_household_to_another_grid_in_scope(world, login):
    household = world.households["HA12-1"]
    data = household_form(code=household.code, address=household.address)
    data["grid"] = world.grid_a21.pk
    response = login("worker2").post(change_url("household", household), data)
    assert response.status_code == 302
    household.refresh_from_db()
    assert (household.unit_id, household.scope_code) == (world.village_a2.pk, world.grid_a21.code)
    assert Resident.objects.get(name="孙悟空").scope_code == world.grid_a21.code


def test_it_refuses_a_unit_outside_the_administrators_scope(world, login):
    url = reverse("admin:territory_unit_add")
    data = {"code": "11", "name": "北京市", "level": "province", "kind": "province"}
    response = login("admin").post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "This record would lie outside your scope; choose a place in it."
    ]
    assert not Unit.objects.filter(code="11").exists()
    data = {
        "code": "350426102",
        "name": "西城镇",
        "level": "town",
        "kind": "town",
        "parent": world.county.pk,
    }
    assert login("admin").post(url, data).status_code == 302
    assert Unit.objects.get(code="350426102").parent == world.county


def test_it_checks_a_new_units_code_against_its_level_and_parent(world, login):
    url = reverse("admin:territory_unit_add")
    data = {
        "code": "350426101301",
        "name": "新村",
        "level": "town",
        "kind": "village",
        "parent": world.town_a.pk,
    }
    errors = login("admin").post(url, data).context["adminform"].form.errors
    assert errors["level"] == ["A code of 12 digits belongs to the level “Village/community”."]
    assert errors["kind"] == ["This kind does not fit the level."]
    assert errors["parent"] == [
        "The code 350426101301 does not lie under the parent's code 350426100."
    ]


def test_it_refuses_in_save_model_what_would_leave_the_scope(world):
    """The last line of defence, for code paths that bypass the form's check."""
    request = RequestFactory().post("/")
    request.user = world.users["secretary"]
    model_admin = site.get_model_admin(Household)
    household = Household(code="HX-1", address="外面", unit=world.village_b1)
    with pytest.raises(PermissionDenied), transaction.atomic():
        model_admin.save_model(request, household, form=None, change=False)
    assert not Household.objects.filter(code="HX-1").exists()


def test_it_refuses_a_users_scope_outside_the_administrators(world, login):
    url = reverse("admin:accounts_user_add")
    data = {
        "username": "newbie",
        "usable_password": "true",
        "password1": "a-Long-password-1!",
        "password2": "a-Long-password-1!",
        "role": "village_secretary",
        "scope_code": "350426101201",
        "grid_assignments-TOTAL_FORMS": "0",
        "grid_assignments-INITIAL_FORMS": "0",
    }
    response = login("official").post(url, data)
    assert response.status_code == 403  # an official only views accounts
    response = login("admin").post(url, {**data, "scope_code": "110000"})
    assert response.context["adminform"].form.errors["scope_code"] == [
        "No county, town or village with code 110000 in your scope."
    ]
    response = login("admin").post(url, data)
    assert response.status_code == 302
    assert User.objects.get(username="newbie").scope_codes() == ["350426101201"]


def test_it_assigns_a_new_grid_worker_to_the_grid_of_their_scope(world, login):
    data = {
        "username": "newworker",
        "usable_password": "true",
        "password1": "a-Long-password-1!",
        "password2": "a-Long-password-1!",
        "role": "grid_worker",
        "scope_code": world.grid_b11.code,
        "grid_assignments-TOTAL_FORMS": "0",
        "grid_assignments-INITIAL_FORMS": "0",
    }
    response = login("admin").post(reverse("admin:accounts_user_add"), data)
    assert response.status_code == 302
    assert User.objects.get(username="newworker").scope_codes() == [world.grid_b11.code]


def test_it_shows_superuser_fields_only_to_superusers(world, login):
    url = change_url("user", world.users["worker"])
    html = login("admin").get(url).content.decode()
    assert 'name="is_superuser"' not in html and 'name="user_permissions"' not in html
    assert 'name="role"' in html and 'name="scope_code"' in html
    root = User.objects.create_superuser("root", password="x-Long-enough-1!")
    assert 'name="is_superuser"' in login(root).get(url).content.decode()


def test_it_offers_only_grids_in_scope_for_assignments(world, login):
    html = login("admin").get(change_url("user", world.users["worker"])).content.decode()
    assert str(world.grid_b11) in options(html, "grid_assignments-0-grid")
    secretary = User.objects.get(username="secretary")
    secretary.role = "county_admin"  # a county admin's rights, a village's scope
    secretary.save()
    html = login(secretary).get(change_url("user", world.users["worker"])).content.decode()
    assert options(html, "grid_assignments-0-grid") == [str(world.grid_a11), str(world.grid_a12)]


def test_it_lists_enterprises_in_scope_with_masked_contact_phones(world, login):
    inside = f.enterprise("水东茶厂", world.grid_a11, "91350426MA2Y00010L")
    outside = f.enterprise("半山菌菇合作社", world.grid_b11, "91350426MA2Y00020M")
    Enterprise = type(inside)
    Enterprise.objects.filter(pk=inside.pk).update(contact_phone="13912345678")
    response = login("secretary").get(reverse("admin:registry_enterprise_changelist"))
    assert [e.name for e in response.context["cl"].result_list] == ["水东茶厂"]
    html = response.content.decode()
    assert "139****5678" in html and "13912345678" not in html
    url = reverse("admin:registry_enterprise_change", args=[outside.pk])
    assert login("secretary").get(url).status_code == 404


def test_it_validates_a_grid_boundary_edited_as_geojson(world, login):
    grid = world.grid_a11
    url = reverse("admin:territory_grid_change", args=[grid.pk])
    client = login("official")  # a town official may change grids, not add them
    data = {"name": grid.name, "kind": grid.kind, "boundary": "not json"}
    errors = client.post(url, data).context["adminform"].form.errors
    assert errors["boundary"] == ["Enter a valid JSON."]
    overlapping = f.square(118.105, 26.10)  # half over the neighbouring grid A1-2
    data["boundary"] = json.dumps(overlapping)
    errors = client.post(url, data).context["adminform"].form.errors
    assert errors["boundary"] == [
        f"grid {grid.code} ({grid.name}) overlaps grid {world.grid_a12.code}"
    ]
    data["boundary"] = json.dumps(f.square(118.10, 26.10, 0.005))
    assert client.post(url, data).status_code == 302
    grid.refresh_from_db()
    assert grid.max_lon == pytest.approx(118.105)
    assert client.get(reverse("admin:territory_grid_add")).status_code == 403


def test_it_lets_a_grid_worker_register_a_resident_in_their_household(world, login):
    number = f.id_number("19900215", seq=42)
    data = {
        "name": "  王小明 ",
        "id_number": number.lower(),
        "phone": "",
        "household": world.households["HA11-1"].pk,
        "relation": "child",
        "residency": "registered",
        "unit": "",
        "moved_out_on": "",
        "deceased_on": "",
        "_save": "Save",
    }
    url = reverse("admin:registry_resident_add")
    response = login("worker").post(url, {**data, "household": world.households["HB11-1"].pk})
    assert "household" in response.context["adminform"].form.errors
    response = login("worker").post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    resident = Resident.objects.get(name="王小明")
    assert (resident.id_number, resident.birth_date.isoformat()) == (number, "1990-02-15")
    assert resident.scope_code == world.grid_a11.code
    assert resident.name_initials == "wxm"


def test_it_applies_bulk_actions_only_to_rows_in_scope(world, login):
    admin_b = f.user("admin_b", "county_admin", "350426101")
    Resident.objects.filter(household__code="HA11-1").delete()
    targets = [world.households["HA11-1"].pk, world.households["HB11-1"].pk]
    Resident.objects.filter(household__code="HB11-1").delete()
    data = {"action": "delete_selected", "_selected_action": targets, "post": "yes"}
    login(admin_b).post(reverse("admin:registry_household_changelist"), data)
    assert sorted(Household.objects.values_list("code", flat=True)) == [
        "HA11-1",
        "HA11-2",
        "HA12-1",
        "HA21-1",
    ]


def test_it_finds_residents_by_given_name_in_the_admin(world, client):
    client.force_login(world.users["secretary"])
    response = client.get("/admin/registry/resident/", {"q": "光菊"})
    html = response.content.decode()
    assert "赵光菊" in html and "钱多多" not in html
    client.force_login(world.users["outsider"])
    assert "赵光菊" not in client.get("/admin/registry/resident/", {"q": "光菊"}).content.decode()


def test_the_grid_list_counts_each_grids_households(world, login):
    html = login("official").get("/admin/territory/grid/").content.decode()
    # Grid A1-1 holds two households (HA11-1, HA11-2), A1-2 and A2-1 one each.
    for code, count in (("350426100001001", 2), ("350426100001002", 1), ("350426100002001", 1)):
        row = html.split(code, 1)[1].split("</tr>", 1)[0]
        assert f'<td class="field-household_count">{count}</td>' in row, code

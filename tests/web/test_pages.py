"""The home page and the coverage audit page."""

from __future__ import annotations

import re

from django.urls import reverse

from grassroots.registry.models import Household
from tests import factories as f


def test_it_sends_anonymous_visitors_to_the_login_page(client, world):
    for url in (reverse("home"), reverse("coverage")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")


def test_it_shows_who_you_are_and_what_your_scope_holds(world, login):
    response = login("secretary").get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Village/community secretary" in html
    assert "水东社区 (350426100001)" in html
    counts = dict((str(label), n) for label, n in response.context["counts"])
    assert counts == {"units": 1, "grids": 2, "households": 3, "current residents": 3}
    for url in (reverse("admin:index"), reverse("coverage"), "/api/v1/docs"):
        assert f'href="{url}"' in html


def test_it_lists_every_grid_of_a_grid_worker_on_the_home_page(world, login):
    html = login("worker2").get(reverse("home")).content.decode()
    assert "水东二网格 (350426100001002)" in html and "西门一网格 (350426100002001)" in html


def test_it_links_the_coverage_audit_from_the_admin_index(world, login):
    html = login("secretary").get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("coverage")}"' in html and f'href="{reverse("home")}"' in html
    html = (
        login(f.user("handler", "department_handler", "350426"))
        .get(reverse("admin:index"))
        .content.decode()
    )
    assert f'href="{reverse("coverage")}"' not in html


def problem_row(html: str, key: str) -> str:
    return re.search(rf'<tr id="problem-{key}">(.*?)</tr>', html, re.S).group(1)


def test_it_shows_the_coverage_of_the_users_scope_with_links(world, login):
    no_grid = f.household("HA1-X", unit_=world.village_a1)
    f.household("HB1-X", unit_=world.village_b1)
    unmanned = f.grid("350426100001003", 118.15, 26.15)
    response = login("secretary").get(reverse("coverage"))
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.households_total, report.residents_total) == (4, 3)
    html = response.content.decode()
    row = problem_row(html, "households_without_grid")
    assert ">1<" in row.replace(" ", "")
    assert f'href="{reverse("admin:registry_household_change", args=[no_grid.pk])}"' in row
    assert "HB1-X" not in html
    row = problem_row(html, "grids_without_worker")
    assert f'href="{reverse("admin:territory_grid_change", args=[unmanned.pk])}"' in row
    assert world.grid_a11.code not in row and world.grid_b11.code not in html


def test_it_narrows_the_coverage_audit_to_a_place_in_scope(world, login):
    f.household("HA2-X", unit_=world.village_a2)
    client = login("official")
    response = client.get(reverse("coverage"), {"scope": "350426100002"})
    assert response.status_code == 200
    assert response.context["report"].households_total == 2
    assert "HA2-X" in problem_row(response.content.decode(), "households_without_grid")
    response = client.get(reverse("coverage"), {"scope": "350426100001"})
    assert response.context["report"].counts["households_without_grid"] == 0
    # The page offers the places below the scope.
    html = client.get(reverse("coverage")).content.decode()
    assert 'href="?scope=350426100001"' in html and 'href="?scope=350426100002"' in html


def test_it_answers_404_for_a_coverage_scope_outside_the_users(world, login):
    client = login("secretary")
    for code in ("350426101201", "350426100002", "350426100", "999"):
        assert client.get(reverse("coverage"), {"scope": code}).status_code == 404
    assert login("worker").get(reverse("coverage"), {"scope": "350426100001"}).status_code == 404


def test_it_refuses_the_coverage_audit_without_its_permission(world, login):
    handler = f.user("handler", "department_handler", "350426")
    assert login(handler).get(reverse("coverage")).status_code == 403


def test_it_masks_id_numbers_in_coverage_samples(world, login):
    lone = f.resident("孤身", unit_=world.village_a1)
    html = login("secretary").get(reverse("coverage")).content.decode()
    row = problem_row(html, "residents_without_household")
    assert lone.id_number_masked in row and lone.id_number not in html
    assert f'href="{reverse("admin:registry_resident_change", args=[lone.pk])}"' in row
    assert Household.objects.count() == 5

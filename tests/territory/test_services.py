"""Territory writes outside imports: units and grids are created, renamed, re-bounded and
deleted through territory.services, validated and recorded in one transaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.territory import services
from grassroots.territory.models import Grid, Unit
from tests import factories as f


def test_it_creates_a_grid_with_its_bounding_box_recorded(world):
    grid = services.grid_create(
        actor=world.users["admin"],
        data={
            "code": "350426100001003",
            "name": "水东三网格",
            "unit": world.village_a1,
            "boundary": f.square(118.13, 26.10),
        },
    )
    assert (grid.min_lon, grid.max_lat) == pytest.approx((118.13, 26.11))
    event = Event.objects.get(object_type="territory.grid", action="create")
    assert event.object_id == str(grid.pk) and event.scope_code == grid.code


def test_it_refuses_an_overlapping_grid_and_records_nothing(world):
    with pytest.raises(ValidationError) as refused:
        services.grid_create(
            actor=None,
            data={
                "code": "350426100001003",
                "name": "重叠网格",
                "unit": world.village_a1,
                "boundary": f.square(118.105, 26.10),
            },
        )
    assert refused.value.message_dict["boundary"] == [
        "grid 350426100001003 (重叠网格) overlaps grid 350426100001001"
    ]
    assert not Grid.objects.filter(code="350426100001003").exists()
    assert not Event.objects.exists()


def test_it_changes_a_boundary_and_keeps_code_and_village_fixed(world):
    grid = services.grid_update(
        actor=world.users["official"],
        grid=world.grid_a11,
        data={"boundary": f.square(118.10, 26.10, 0.005), "name": "水东一格"},
    )
    assert grid.max_lon == pytest.approx(118.105)
    event = Event.objects.get(object_type="territory.grid", action="update")
    assert set(event.changes) == {"boundary", "name"}
    with pytest.raises(TypeError):
        services.grid_update(actor=None, grid=grid, data={"code": "350426100001009"})


def test_it_writes_no_unit_when_its_event_cannot_be_written(world, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(audit, "created", broken)
    with pytest.raises(RuntimeError):
        services.unit_create(
            actor=None,
            data={
                "code": "350426102",
                "name": "西城镇",
                "level": "town",
                "kind": "town",
                "parent": world.county,
            },
        )
    assert not Unit.objects.filter(code="350426102").exists()


def test_it_rolls_back_a_unit_outside_the_actors_scope(world):
    with pytest.raises(PermissionDenied, match="The record would lie outside your scope."):
        services.unit_create(
            actor=world.users["official"],
            data={
                "code": "350426101202",
                "name": "新村",
                "level": "village",
                "kind": "village",
                "parent": world.town_b,
            },
        )
    assert not Unit.objects.filter(code="350426101202").exists()
    assert not Event.objects.exists()


def test_it_deletes_only_what_nothing_refers_to(world):
    with pytest.raises(ValidationError) as refused:
        services.unit_delete(actor=None, unit=world.village_b1)
    assert refused.value.messages == [
        f"{world.village_b1} cannot be deleted: grids, households, residents still refer to it."
    ]
    empty = f.unit("350426101202", "空村")
    services.unit_delete(actor=None, unit=empty)
    assert not Unit.objects.filter(pk=empty.pk).exists()
    event = Event.objects.get(object_type="territory.unit", action="delete")
    assert event.changes["code"] == ["350426101202", None]


def test_it_clears_the_territory_with_one_event_per_kind(db):
    f.unit("350426", "尤溪县")
    f.unit("350426100", "城关镇")
    f.unit("350426100001", "水东社区")
    f.grid("350426100001001", 118.1, 26.1)
    counts = services.territory_clear(reason="demo --force")
    assert counts == {"grids": 1, "units": 3}
    assert [(e.object_type, e.changes) for e in Event.objects.order_by("id")] == [
        ("territory.grid", {"count": 1}),
        ("territory.unit", {"count": 1}),
        ("territory.unit", {"count": 1}),
        ("territory.unit", {"count": 1}),
    ]


def test_it_counts_cases_among_what_refers_to_a_grid(db):
    # Case.grid has no reverse accessor (related_name="+"): it is checked all the same.
    kinds = {r.related_model._meta.label_lower for r in services._relations_to(Grid)}
    assert {"cases.case", "registry.household", "accounts.gridassignment"} <= kinds

"""API of the territory: administrative units, and grids as GeoJSON."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from pydantic import WithJsonSchema, field_validator

from grassroots.core.api_support import (
    UNIT_CODE_PATTERN,
    Page,
    PageQuery,
    Ref,
    TextFilter,
    check_unit_code,
    filter_field,
    paginate,
    ref,
    require_perm,
    responses,
)
from grassroots.core.scoping import Scope

from .models import PARENT_LENGTH, Grid, Unit

router = Router()


# Units


# Unit.Kind and Grid.Kind are both named Kind: without a name of its own, the OpenAPI document
# would describe a unit's kind with the grid kinds' values.
UnitKind = Annotated[
    Unit.Kind,
    WithJsonSchema({"title": "UnitKind", "type": "string", "enum": list(Unit.Kind.values)}),
]


class UnitOut(Schema):
    code: str
    name: str
    level: Unit.Level
    kind: UnitKind
    parent_code: str | None = Field(description="Code of the parent unit (a prefix of `code`).")


class UnitPage(Page):
    items: list[UnitOut]


class UnitFilters(Schema):
    parent: TextFilter = filter_field(
        "Code of the parent unit: its direct children.", UNIT_CODE_PATTERN
    )
    level: Unit.Level | None = Field(None, description="Only units of this level.")

    @field_validator("parent")
    @classmethod
    def _check_parent(cls, value: str | None) -> str | None:
        return check_unit_code(value)


def unit_out(unit: Unit) -> dict[str, Any]:
    parent_length = PARENT_LENGTH.get(len(unit.code))
    return {
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "kind": unit.kind,
        # Derived from the code, so a parent outside the caller's scope costs no query and
        # tells nothing that the code itself does not.
        "parent_code": unit.code[:parent_length] if parent_length else None,
    }


@router.get(
    "/units",
    response=responses(UnitPage),
    operation_id="listUnits",
    tags=["territory"],
    summary="List units",
)
def list_units(
    request: HttpRequest, filters: Query[UnitFilters], paging: Query[PageQuery]
) -> dict[str, Any]:
    """Counties, towns and villages in your scope, ordered by code.

    A grid worker's scope is their grids, so their unit list is empty."""
    user = require_perm(request, "territory.view_unit")
    qs = Unit.objects.visible_to(user).order_by("code")
    if filters.parent:
        qs = qs.filter(parent__code=filters.parent)
    if filters.level:
        qs = qs.filter(level=filters.level)
    page = paginate(qs, paging)
    page["items"] = [unit_out(u) for u in page["items"]]
    return page


@router.get(
    "/units/{code}",
    response=responses(UnitOut),
    operation_id="getUnit",
    tags=["territory"],
    summary="Get a unit",
)
def get_unit(request: HttpRequest, code: str) -> dict[str, Any]:
    """One unit by code; 404 if it does not exist or lies outside your scope."""
    user = require_perm(request, "territory.view_unit")
    return unit_out(get_object_or_404(Unit.objects.visible_to(user), code=code))


# Grids (GeoJSON)


class GridProperties(Schema):
    code: str
    name: str
    kind: Grid.Kind
    unit: Ref = Field(description="The village or community the grid belongs to.")


class GridFeature(Schema):
    """A GeoJSON Feature (RFC 7946) whose geometry is the grid's polygon in WGS84."""

    type: Literal["Feature"]
    id: str = Field(description="The grid code.")
    bbox: list[float] = Field(description="[min_lon, min_lat, max_lon, max_lat]")
    geometry: dict[str, Any]
    properties: GridProperties


class GridFeatureCollection(Schema):
    """A GeoJSON FeatureCollection; the pagination fields are foreign members."""

    type: Literal["FeatureCollection"]
    count: int
    page: int
    page_size: int
    features: list[GridFeature]


class GridFilters(Schema):
    unit: TextFilter = filter_field(
        "Unit code (county, town or village): grids anywhere under it. "
        "A unit outside your scope gives an empty collection.",
        UNIT_CODE_PATTERN,
    )

    @field_validator("unit")
    @classmethod
    def _check_unit(cls, value: str | None) -> str | None:
        return check_unit_code(value)


def grid_feature(grid: Grid) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": grid.code,
        "bbox": [grid.min_lon, grid.min_lat, grid.max_lon, grid.max_lat],
        "geometry": grid.boundary,
        "properties": {
            "code": grid.code,
            "name": grid.name,
            "kind": grid.kind,
            "unit": ref(grid.unit),
        },
    }


@router.get(
    "/grids",
    response=responses(GridFeatureCollection),
    operation_id="listGrids",
    tags=["territory"],
    summary="List grids as GeoJSON",
)
def list_grids(
    request: HttpRequest, filters: Query[GridFilters], paging: Query[PageQuery]
) -> dict[str, Any]:
    """Grids in your scope, ordered by code, as a GeoJSON FeatureCollection."""
    user = require_perm(request, "territory.view_grid")
    qs = Grid.objects.visible_to(user).select_related("unit").order_by("code")
    if filters.unit:
        qs = qs.in_scope(Scope.of(filters.unit))
    page = paginate(qs, paging)
    return {
        "type": "FeatureCollection",
        "count": page["count"],
        "page": page["page"],
        "page_size": page["page_size"],
        "features": [grid_feature(g) for g in page["items"]],
    }


@router.get(
    "/grids/{code}",
    response=responses(GridFeature),
    operation_id="getGrid",
    tags=["territory"],
    summary="Get a grid as GeoJSON",
)
def get_grid(request: HttpRequest, code: str) -> dict[str, Any]:
    """One grid by code as a GeoJSON Feature; 404 if it does not exist or lies outside your
    scope."""
    user = require_perm(request, "territory.view_grid")
    grid = get_object_or_404(Grid.objects.visible_to(user).select_related("unit"), code=code)
    return grid_feature(grid)

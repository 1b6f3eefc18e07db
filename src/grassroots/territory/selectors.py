"""Reads of the territory tree for pages: places by code, and the places below one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import Grid, Unit


@dataclass(frozen=True)
class Place:
    """A node of the territory tree (unit or grid) as pages show it."""

    code: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


def places(codes: list[str]) -> list[Place]:
    """The units and grids with these codes, in code order (unknown codes shown bare)."""
    names = dict(Unit.objects.filter(code__in=codes).values_list("code", "name"))
    names.update(Grid.objects.filter(code__in=codes).values_list("code", "name"))
    return [Place(code, names.get(code, "")) for code in sorted(codes)]


def child_places(user: Any, code: str) -> list[Place]:
    """The visible units and grids directly below `code`, for narrowing a page."""
    units = Unit.objects.visible_to(user).filter(parent__code=code)
    grids = Grid.objects.visible_to(user).filter(unit__code=code)
    rows = list(units.values_list("code", "name")) + list(grids.values_list("code", "name"))
    return [Place(c, n) for c, n in sorted(rows)]

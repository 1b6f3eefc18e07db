"""Small builders for test data: territory, registry rows and users with a role and scope."""

from __future__ import annotations

import io
import itertools
from typing import Any

from grassroots.accounts.models import GridAssignment, User
from grassroots.accounts.roles import Role
from grassroots.core.validators import id_number_with_check
from grassroots.registry.models import Enterprise, Household, Resident
from grassroots.territory.models import Grid, Unit

_seq = itertools.count(1)


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    """A GeoJSON square with its south-west corner at (lon, lat)."""
    return {
        "type": "Polygon",
        "coordinates": [
            [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
        ],
    }


def unit(code: str, name: str | None = None, kind: str | None = None) -> Unit:
    level = {6: "county", 9: "town", 12: "village"}[len(code)]
    parent = Unit.objects.filter(code=code[: {6: 4, 9: 6, 12: 9}[len(code)]]).first()
    return Unit.objects.create(
        code=code, name=name or f"单位{code}", level=level, kind=kind or level, parent=parent
    )


def grid(code: str, lon: float, lat: float, size: float = 0.01, name: str | None = None) -> Grid:
    g = Grid(code=code, name=name or f"网格{code[-3:]}", unit=Unit.objects.get(code=code[:12]))
    g.set_boundary(square(lon, lat, size))
    g.save()
    return g


def id_number(birth: str = "19800101", region: str = "350426", seq: int | None = None) -> str:
    seq = next(_seq) % 1000 if seq is None else seq
    return id_number_with_check(f"{region}{birth}{seq:03d}")


def household(
    code: str,
    g: Grid | None = None,
    *,
    unit_: Unit | None = None,
    lon: float | None = None,
    lat: float | None = None,
    tags: str = "",
) -> Household:
    h = Household(
        code=code, address=f"地址{code}", grid=g, unit=unit_ or (g.unit if g else None), tags=tags
    )
    if g is not None and lon is None:
        lon, lat = g.min_lon + 0.001, g.min_lat + 0.001
    h.lon, h.lat = lon, lat
    h.save()
    return h


def resident(
    name: str,
    h: Household | None = None,
    *,
    number: str | None = None,
    unit_: Unit | None = None,
    phone: str = "13800138000",
    **extra: Any,
) -> Resident:
    r = Resident(
        name=name,
        id_number=number or id_number(),
        household=h,
        unit=unit_ or (h.unit if h else None),
        phone=phone,
        **extra,
    )
    r.save()
    return r


def enterprise(name: str, g: Grid, credit_code: str) -> Enterprise:
    e = Enterprise(name=name, credit_code=credit_code, address=f"{name}地址", grid=g, unit=g.unit)
    e.save()
    return e


def user(username: str, role: str, *scope: str, **extra: Any) -> User:
    u = User.objects.create_user(
        username,
        "pw-" + username + "-Long1!",
        role=role,
        scope_code=scope[0] if scope else "",
        is_staff=True,
        **extra,
    )
    if role == Role.GRID_WORKER:
        for code in scope:
            GridAssignment.objects.create(user=u, grid=Grid.objects.get(code=code))
    return u


class CountingStream:
    """A request body that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.data.read(size)
        self.read_bytes += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        line = self.data.readline(size)
        self.read_bytes += len(line)
        return line

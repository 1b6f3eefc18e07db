"""The whole demo county: its territory (generator.py), then its people, enterprises and staff
(people.py), which are placed on that territory."""

from __future__ import annotations

from .generator import DEFAULT_HOUSEHOLDS, DEFAULT_SEED, County, _build_territory
from .people import add_enterprises, add_people, add_users


def build_county(*, households: int = DEFAULT_HOUSEHOLDS, seed: int = DEFAULT_SEED) -> County:
    """The whole demo county for N households and a seed (deterministic)."""
    if households < 1:
        raise ValueError("households must be at least 1")
    units, grids = _build_territory(households, seed)
    county = County(households=households, seed=seed, units=units, grids=grids)
    add_people(county)
    add_enterprises(county)
    add_users(county)
    return county

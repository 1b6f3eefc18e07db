"""The demo county as data: units, grids, households, residents, enterprises and users to create.

The county that `build_county(households=N, seed=S)` (county.py) makes from it is deterministic: the same N and S give the same county,
in any process (random.Random and numpy's default_rng, never the global generators, and no
iteration over sets). The size follows N: about 300 households per grid once there are more
than 20 grids, and all 15 towns from about 60 grids on.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import shapely
from shapely.geometry import Polygon

from . import data
from .shapes import random_points, snap_coverage, split, spread_seeds

T = TypeVar("T")

DEFAULT_HOUSEHOLDS = 2_000
DEFAULT_SEED = 1
HOUSEHOLDS_PER_GRID = 300
MIN_GRIDS = 20

# Column headers of the files, as a county office would write them.
HOUSEHOLD_HEADERS = ["户编号", "地址", "网格编码", "经度", "纬度", "标签", "楼栋", "单元", "房号"]
RESIDENT_HEADERS = [
    "姓名",
    "身份证号",
    "手机号",
    "户编号",
    "与户主关系",
    "居住类型",
    "标签",
    "迁出日期",
    "死亡日期",
]


@dataclass
class DemoUnit:
    code: str
    name: str
    town: str = ""  # the town's name, for addresses (empty for the county and towns)

    @property
    def urban(self) -> bool:
        return self.name.endswith("社区")

    @property
    def stem(self) -> str:
        """The name without 村/社区/镇/乡, for street and enterprise names."""
        for suffix in ("社区", "村", "镇", "乡"):
            if self.name.endswith(suffix) and len(self.name) > len(suffix) + 1:
                return self.name[: -len(suffix)]
        return self.name


@dataclass
class DemoGrid:
    code: str
    name: str
    kind: str  # "comprehensive" or "dedicated"
    unit: DemoUnit
    polygon: Polygon
    households: int = 0


@dataclass
class DemoEnterprise:
    name: str
    credit_code: str
    address: str
    industry: str
    contact_name: str
    contact_phone: str
    lon: float
    lat: float
    grid_code: str


@dataclass
class DemoUser:
    username: str
    role: str
    scope_codes: list[str]
    last_name: str = ""
    first_name: str = ""
    phone: str = ""


@dataclass
class Defects:
    """Coverage problems the demo plants on purpose, so the audit has something to show.

    The households outside their grid and the empty households are ordinary rows of the
    household file. The rest cannot pass an import (that is the point of the checks), so the
    loader writes them directly: households without a grid, residents without a household
    and a second resident with an ID number already in the registry.
    """

    households_outside_grid: list[str] = field(default_factory=list)
    empty_households: list[str] = field(default_factory=list)
    # (code, address, village code, member rows in RESIDENT_HEADERS order)
    households_without_grid: list[tuple[str, str, str, list[list[str]]]] = field(
        default_factory=list
    )
    # (village code, row in RESIDENT_HEADERS order without a household code)
    residents_without_household: list[tuple[str, list[str]]] = field(default_factory=list)
    # (ID number already used, household code of the second record, name)
    duplicate_id_numbers: list[tuple[str, str, str]] = field(default_factory=list)
    grids_without_worker: list[str] = field(default_factory=list)


@dataclass
class County:
    households: int
    seed: int
    units: list[DemoUnit]
    grids: list[DemoGrid]
    household_rows: list[list[str]] = field(default_factory=list)
    resident_rows: list[list[str]] = field(default_factory=list)
    enterprises: list[DemoEnterprise] = field(default_factory=list)
    users: list[DemoUser] = field(default_factory=list)
    defects: Defects = field(default_factory=Defects)


def chinese_number(n: int) -> str:
    """1..99 in Chinese numerals, as grid names count them (第十二网格)."""
    digits = "零一二三四五六七八九"
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return digits[ones]
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def grid_count(households: int) -> int:
    return max(MIN_GRIDS, round(households / HOUSEHOLDS_PER_GRID))


class DemoRandom(random.Random):
    """random.Random with cheaper integer draws: a million residents make tens of millions.

    int(random() * n) is off from uniform by about n / 2**53 for the small n used here, fine for
    demo data, and is several times faster than the exact randrange/randint/choice.
    """

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:  # type: ignore[override]
        if stop is None:
            start, stop = 0, start
        return start + step * int(self.random() * ((stop - start + step - 1) // step))

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq):  # type: ignore[no-untyped-def,override]
        return seq[int(self.random() * len(seq))]

    def weighted(self, items: Sequence[T], cumulative: Sequence[float]) -> T:
        """One of `items`, by cumulative weights (like choices(k=1), without the list)."""
        return items[bisect.bisect(cumulative, self.random() * cumulative[-1])]


def streams(seed: int, name: str) -> tuple[DemoRandom, np.random.Generator]:
    """Independent generators per part, so a change in one part leaves the others as they were."""
    key = sum(ord(c) * 31**i for i, c in enumerate(name)) % (2**31)
    return DemoRandom(f"{seed}:{name}"), np.random.default_rng([seed, key])


def largest_remainder(total: int, weights: list[float], minimum: list[int]) -> list[int]:
    """Split `total` into integer parts proportional to weights on top of the minimums."""
    rest = total - sum(minimum)
    if rest <= 0:
        return list(minimum)
    shares = [rest * w / sum(weights) for w in weights]
    parts = [int(s) for s in shares]
    order = sorted(range(len(shares)), key=lambda i: (parts[i] - shares[i], i))
    for i in order[: rest - sum(parts)]:
        parts[i] += 1
    return [m + p for m, p in zip(minimum, parts, strict=True)]


def _extra_village_names(r: random.Random, taken: set[str], count: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = r.choice(data.VILLAGE_PREFIXES) + r.choice(data.VILLAGE_CORES) + "村"
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def _plan_units(
    n_grids: int, r: random.Random, nprng: np.random.Generator
) -> tuple[list[DemoUnit], list[tuple[DemoUnit, list[DemoUnit], list[int]]]]:
    """Towns, their villages/communities and how many grids each gets."""
    n_towns = min(len(data.TOWNS), max(5, round(n_grids / 4)))
    towns = data.TOWNS[:n_towns]
    minimum = [4 if code == "100" else 3 if code == "101" else 2 for code, *_ in towns]
    per_town = largest_remainder(n_grids, [t[4] for t in towns], minimum)
    taken = {v for t in data.TOWNS for v in t[5]}
    plan = []
    for (suffix, name, _lon, _lat, _w, villages), grids in zip(towns, per_town, strict=True):
        town = DemoUnit(data.COUNTY_CODE + suffix, name)
        communities: list[str] = []
        if suffix == "100":
            # The county seat: most grids are urban communities.
            urban = max(2, round(grids * 0.55))
            communities = list(data.SEAT_COMMUNITIES[: min(16, max(2, round(urban / 8)))])
            village_grids = grids - urban
        else:
            urban = 0
            if grids >= 24:
                communities = [name[:-1] + "社区"]
                urban = max(2, round(grids * 0.12))
            village_grids = grids - urban
        n_villages = max(3 if suffix == "101" else 1, round(village_grids / 3.5))
        n_villages = max(1, min(n_villages, village_grids))
        names = list(villages[:n_villages])
        names += _extra_village_names(r, taken, n_villages - len(names))
        units = [
            DemoUnit(f"{town.code}{i:03d}", n, name) for i, n in enumerate(communities, start=1)
        ] + [DemoUnit(f"{town.code}{i:03d}", n, name) for i, n in enumerate(names, start=201)]
        noise = [float(x) for x in nprng.uniform(0.7, 1.3, len(units))]
        counts = largest_remainder(
            urban, noise[: len(communities)], [1] * len(communities)
        ) + largest_remainder(village_grids, noise[len(communities) :], [1] * len(names))
        plan.append((town, units, counts))
    plan.sort(key=lambda item: item[0].code)
    units = [DemoUnit(data.COUNTY_CODE, data.COUNTY_NAME)]
    for town, children, _counts in plan:
        units.append(town)
        units.extend(children)
    return units, plan


def _town_cells(plan: list[tuple[DemoUnit, list[DemoUnit], list[int]]]) -> list[Polygon]:
    outline = shapely.convex_hull(shapely.multipoints(data.COUNTY_OUTLINE))
    where = {data.COUNTY_CODE + t[0]: (t[2], t[3]) for t in data.TOWNS}
    seeds = np.array([where[town.code] for town, _u, _c in plan])
    return split(outline, seeds)


def _unit_seeds(
    town: DemoUnit, cell: Polygon, units: list[DemoUnit], nprng: np.random.Generator
) -> np.ndarray:
    """Seeds of a town's villages/communities, in the order of `units` (communities first).

    In the county seat the communities crowd around the centre in a sunflower pattern and the
    villages keep out of it; elsewhere the first unit sits nearest the town centre.
    """
    center = np.array(
        next((t[2], t[3]) for t in data.TOWNS if data.COUNTY_CODE + t[0] == town.code)
    )
    n_urban = sum(1 for u in units if u.urban)
    n_rural = len(units) - n_urban
    if n_urban and town.code.endswith("100"):
        k = np.arange(n_urban)
        radius = 0.004 * np.sqrt(n_urban) * np.sqrt((k + 0.5) / n_urban)
        angle = k * np.pi * (3 - np.sqrt(5)) + nprng.uniform(0, 2 * np.pi)
        urban = center + np.column_stack((np.cos(angle), np.sin(angle))) * radius[:, None]
        rural = _points_away(cell, n_rural, center, 0.004 * np.sqrt(n_urban) + 0.02, nprng)
        return np.concatenate([urban, rural])
    seeds = spread_seeds(cell, len(units), nprng)
    return seeds[np.argsort(np.hypot(*(seeds - center).T), kind="stable")]


def _points_away(
    cell: Polygon, n: int, center: np.ndarray, distance: float, nprng: np.random.Generator
) -> np.ndarray:
    """n random points in `cell` at least `distance` from `center` (fewer if there is no room)."""
    found = np.empty((0, 2))
    for _attempt in range(50):
        if len(found) >= n:
            break
        points = random_points(cell, 4 * n + 8, nprng)
        points = points[np.hypot(*(points - center).T) >= distance]
        found = np.concatenate([found, points])
    return found[:n]


def _build_territory(households: int, seed: int) -> tuple[list[DemoUnit], list[DemoGrid]]:
    r, nprng = streams(seed, "territory")
    n_grids = grid_count(households)
    units, plan = _plan_units(n_grids, r, nprng)
    cells: list[Polygon] = []
    grids: list[DemoGrid] = []
    for (town, children, counts), town_cell in zip(plan, _town_cells(plan), strict=True):
        seeds = _unit_seeds(town, town_cell, children, nprng)
        if len(seeds) != len(children):
            seeds = spread_seeds(town_cell, len(children), nprng)
        for unit, unit_cell, count in zip(children, split(town_cell, seeds), counts, strict=True):
            grid_seeds = spread_seeds(unit_cell, count, nprng)
            # Number grids from north-west to south-east, as a map is read.
            order = np.lexsort((grid_seeds[:, 0], -np.round(grid_seeds[:, 1], 2)))
            for i, grid_cell in enumerate(split(unit_cell, grid_seeds[order]), start=1):
                name = f"{unit.name}第{chinese_number(i)}网格"
                grids.append(
                    DemoGrid(f"{unit.code}{i:03d}", name, "comprehensive", unit, grid_cell)
                )
                cells.append(grid_cell)
    for grid, polygon in zip(grids, snap_coverage(cells), strict=True):
        grid.polygon = polygon
    _mark_dedicated(grids, units, n_grids)
    return units, grids


def _mark_dedicated(grids: list[DemoGrid], units: list[DemoUnit], n_grids: int) -> None:
    """The last grid of a few villages/communities serves one site: a school, a park."""
    wanted = data.DEDICATED_GRIDS[: 2 if n_grids < 200 else 4]
    for suffix, index, site in wanted:
        town_code = data.COUNTY_CODE + suffix
        children = [u for u in units if len(u.code) == 12 and u.code.startswith(town_code)]
        if index >= len(children):
            continue
        own = [g for g in grids if g.unit is children[index]]
        if len(own) < 2 or own[-1].kind == "dedicated":
            continue
        own[-1].kind = "dedicated"
        own[-1].name = f"{site}专属网格"

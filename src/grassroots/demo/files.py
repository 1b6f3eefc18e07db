"""The demo county as the files a county office would import: units, grids, households, residents.

The files hold what an import accepts: besides the clean rows, the households whose point lies
outside their grid and the households with no resident. The other planted problems (households
without a grid, residents without a household, an ID number held twice) are written by the
database loader only, since the importers refuse or cannot express them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .county import build_county
from .generator import DEFAULT_SEED, HOUSEHOLD_HEADERS, RESIDENT_HEADERS, County
from .shapes import geojson

UNIT_HEADERS = ["编码", "名称"]
GRID_KINDS = {"comprehensive": "综合", "dedicated": "专属"}


def _write_csv(path: Path, headers: list[str], rows: list[list[str]]) -> None:
    # UTF-8 with a BOM, which Excel opens correctly, like core.tables.write_table.
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        writer.writerows(rows)


def grids_geojson(county: County) -> dict[str, object]:
    """The grids as a GeoJSON FeatureCollection (properties code, name, kind)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": g.code, "name": g.name, "kind": GRID_KINDS[g.kind]},
                "geometry": geojson(g.polygon),
            }
            for g in county.grids
        ],
    }


def write_units(county: County, path: Path) -> None:
    _write_csv(path, UNIT_HEADERS, [[u.code, u.name] for u in county.units])


def write_grids(county: County, path: Path) -> None:
    path.write_text(
        json.dumps(grids_geojson(county), ensure_ascii=False, separators=(",", ":")),
        encoding="utf-8",
    )


def write_county(county: County, directory: str | Path) -> dict[str, Path]:
    """Write an already built county; returns the paths by kind."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "units": directory / "units.csv",
        "grids": directory / "grids.geojson",
        "households": directory / "households.csv",
        "residents": directory / "residents.csv",
    }
    write_units(county, paths["units"])
    write_grids(county, paths["grids"])
    _write_csv(paths["households"], HOUSEHOLD_HEADERS, county.household_rows)
    _write_csv(paths["residents"], RESIDENT_HEADERS, county.resident_rows)
    return paths


def write_demo_files(
    directory: str | Path, *, households: int, seed: int = DEFAULT_SEED
) -> dict[str, Path]:
    """Build the demo county for N households and write units.csv, grids.geojson,
    households.csv and residents.csv into `directory` (import them in that order)."""
    return write_county(build_county(households=households, seed=seed), directory)

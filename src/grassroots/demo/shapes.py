"""Geometry of the demo county: convex cells cut into smaller cells, and points inside them.

Cells are Voronoi polygons of seed points clipped to their parent cell. A Voronoi cell is convex
and so is its parent, so every clipped cell is one convex Polygon and the cells of a parent tile
it exactly. The finished grids are snapped to a common precision as one coverage (see
`snap_coverage`), so rounding cannot make neighbours overlap.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

# Coordinates are kept to 6 decimals (about 0.1 m).
PRECISION = 1e-6
# Household points keep this far (degrees, about 3 m) from their grid's border.
POINT_MARGIN = 3e-5


def _largest_polygon(geometry: shapely.Geometry) -> Polygon:
    if isinstance(geometry, Polygon):
        return geometry
    parts = [p for p in shapely.get_parts(geometry) if isinstance(p, Polygon)]
    if not parts:
        raise ValueError(f"no polygon in {geometry.geom_type}")
    return max(parts, key=lambda p: p.area)


def random_points(cell: Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points drawn uniformly inside `cell`, as an (n, 2) array."""
    min_x, min_y, max_x, max_y = cell.bounds
    fill = cell.area / ((max_x - min_x) * (max_y - min_y))
    found: list[np.ndarray] = []
    missing = n
    while missing > 0:
        size = int(missing / fill * 1.2) + 8
        xs = rng.uniform(min_x, max_x, size)
        ys = rng.uniform(min_y, max_y, size)
        keep = shapely.contains_xy(cell, xs, ys)
        points = np.column_stack((xs[keep], ys[keep]))[:missing]
        found.append(points)
        missing -= len(points)
    return np.concatenate(found) if found else np.empty((0, 2))


def split(cell: Polygon, seeds: np.ndarray) -> list[Polygon]:
    """The Voronoi cells of `seeds` clipped to `cell`, in the order of the seeds."""
    if len(seeds) == 1:
        return [cell]
    diagram = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=cell, ordered=True)
    parts = shapely.intersection(shapely.get_parts(diagram), cell)
    return [_largest_polygon(p) for p in parts]


def spread_seeds(
    cell: Polygon, n: int, rng: np.random.Generator, *, iterations: int = 2
) -> np.ndarray:
    """n seeds inside `cell`, evened out by Lloyd relaxation so that cells come out similar."""
    seeds = random_points(cell, n, rng)
    for _ in range(iterations if n > 1 else 0):
        cells = split(cell, seeds)
        seeds = shapely.get_coordinates(shapely.centroid(cells))
    return seeds


def snap_coverage(polygons: list[Polygon]) -> list[Polygon]:
    """The same tiling with every coordinate on the PRECISION grid, and no overlaps.

    Rounding each polygon alone can push a vertex that lies on a neighbour's edge (where a
    subdivided cell meets an undivided one) into that neighbour. So the borders are noded and
    snapped together, the faces rebuilt with polygonize, and each face given back to the cell
    its interior lies in: shared borders end up with identical vertices on both sides.
    """
    lines = shapely.union_all(shapely.boundary(np.asarray(polygons)), grid_size=PRECISION)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    tree = shapely.STRtree(polygons)
    owners: dict[int, list[Polygon]] = {}
    for face in faces:
        point = face.representative_point()
        hits = tree.query(point, predicate="within")
        owner = int(hits[0]) if len(hits) else int(tree.query_nearest(point)[0])
        owners.setdefault(owner, []).append(face)
    result = []
    for index in range(len(polygons)):
        parts = owners.get(index)
        if not parts:
            raise ValueError(f"cell {index} vanished when snapped to {PRECISION}")
        merged = parts[0] if len(parts) == 1 else shapely.union_all(parts, grid_size=PRECISION)
        result.append(shapely.orient_polygons(_largest_polygon(merged)))
    return result


def geojson(polygon: Polygon) -> dict[str, object]:
    """A GeoJSON Polygon with coordinates rounded to the precision grid."""
    rings = [polygon.exterior, *polygon.interiors]
    return {
        "type": "Polygon",
        "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring.coords] for ring in rings],
    }


def settlement_points(
    polygon: Polygon, n: int, rng: np.random.Generator, *, hamlets: int
) -> np.ndarray:
    """n points inside `polygon`, clustered around a few hamlets like real houses are.

    Points keep POINT_MARGIN from the border and are rounded to 6 decimals; rounding moves a
    point by far less than the margin, so every point stays strictly inside its polygon.
    """
    if n == 0:
        return np.empty((0, 2))
    inner = polygon.buffer(-POINT_MARGIN)
    if inner.is_empty or inner.area < polygon.area * 0.05:
        inner = polygon.buffer(-POINT_MARGIN / 10)
    inner = _largest_polygon(inner)
    centers = random_points(inner, max(1, hamlets), rng)
    sigma = 0.3 * np.sqrt(inner.area / len(centers))
    found: list[np.ndarray] = []
    missing = n
    while missing > 0:
        size = missing + 16
        # Three in four houses stand in a hamlet, the rest are scattered.
        which = rng.integers(0, len(centers), size)
        xs = centers[which, 0] + rng.normal(0.0, sigma, size)
        ys = centers[which, 1] + rng.normal(0.0, sigma, size)
        scattered = rng.random(size) < 0.25
        spread = random_points(inner, int(scattered.sum()), rng)
        xs[scattered], ys[scattered] = spread[:, 0], spread[:, 1]
        xs, ys = np.round(xs, 6), np.round(ys, 6)
        keep = shapely.contains_xy(inner, xs, ys) & shapely.contains_xy(polygon, xs, ys)
        points = np.column_stack((xs[keep], ys[keep]))[:missing]
        found.append(points)
        missing -= len(points)
    return np.concatenate(found)

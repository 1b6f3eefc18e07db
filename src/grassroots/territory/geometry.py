"""Grid geometry: parsing and checking GeoJSON polygons, and placing points into grids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from shapely.geometry import shape
from shapely.validation import explain_validity

# Two grids may share a border; an overlap smaller than this (square degrees, about 1 m²)
# is rounding noise from the tools that drew them.
OVERLAP_TOLERANCE = 1e-10


def parse_polygon(geometry: Any) -> Any:
    """A valid shapely Polygon or MultiPolygon from a GeoJSON geometry, or ValidationError."""
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValidationError(_("geometry must be a GeoJSON Polygon or MultiPolygon"))
    try:
        polygon = shape(geometry)
    except (ValueError, TypeError, IndexError, AttributeError, KeyError) as exc:
        raise ValidationError(_("geometry is not valid GeoJSON: %(e)s") % {"e": exc}) from None
    if polygon.is_empty:
        raise ValidationError(_("polygon is empty"))
    if not polygon.is_valid:
        raise ValidationError(
            _("polygon is not valid: %(reason)s") % {"reason": explain_validity(polygon)}
        )
    if polygon.area <= 0:
        raise ValidationError(_("polygon has no area"))
    min_lon, min_lat, max_lon, max_lat = polygon.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValidationError(
            _("coordinates are not WGS84 longitude/latitude (bounds %(b)s)")
            % {"b": ", ".join(f"{v:g}" for v in polygon.bounds)}
        )
    return polygon


def find_overlaps(
    candidates: Sequence[tuple[str, Any]], existing: Iterable[tuple[str, Any]] = ()
) -> list[tuple[str, str]]:
    """Pairs (code, other code) of polygons that overlap by more than the tolerance.

    `candidates` are checked against each other and against `existing`; a candidate whose code
    is also in `existing` replaces it.
    """
    new_codes = {code for code, _p in candidates}
    everything = list(candidates) + [(c, p) for c, p in existing if c not in new_codes]
    if len(everything) < 2:
        return []
    polygons = [p for _c, p in everything]
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons[: len(candidates)], predicate="intersects")
    overlaps = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i == j or (j < len(candidates) and j < i):
            continue
        if polygons[i].intersection(polygons[j]).area > OVERLAP_TOLERANCE:
            overlaps.append((everything[i][0], everything[j][0]))
    return overlaps


class GridIndex:
    """Places points into grids with an STR-tree; vectorized for whole files of households."""

    def __init__(self, grids: Iterable[tuple[Any, Any]]):
        pairs = list(grids)
        self.keys = [key for key, _p in pairs]
        self.polygons = [polygon for _k, polygon in pairs]
        self.tree = shapely.STRtree(self.polygons) if self.polygons else None

    @classmethod
    def from_queryset(cls, grids: Any) -> GridIndex:
        rows = grids.values_list("pk", "boundary")
        return cls((pk, parse_polygon(boundary)) for pk, boundary in rows)

    def locate(self, lons: Sequence[float], lats: Sequence[float]) -> list[Any]:
        """The key of the grid holding each point (a border point goes to the first grid), or None."""
        result: list[Any] = [None] * len(lons)
        if self.tree is None or not len(lons):
            return result
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        point_idx, grid_idx = self.tree.query(points, predicate="intersects")
        # Keep the lowest grid index per point: query output is sorted by point index.
        order = np.lexsort((grid_idx, point_idx))
        point_idx, grid_idx = point_idx[order], grid_idx[order]
        first = np.ones(len(point_idx), dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        for p, g in zip(point_idx[first].tolist(), grid_idx[first].tolist(), strict=True):
            result[p] = self.keys[g]
        return result


def points_inside(
    polygon: Any, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Boolean array: which points lie in or on the polygon."""
    return shapely.intersects_xy(
        polygon, np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    )

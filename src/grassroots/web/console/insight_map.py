"""Console map: the grids under a place, coloured by open cases, overdue cases or coverage
problems, with the places one level below and a table of the same figures.

The page renders the table and the legend; map.js fetches the GeoJSON of `map_data`, whose
features carry the colour and the popup (title, figures, links) already translated.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from shapely.geometry import mapping, shape

from grassroots.cases.models import Case
from grassroots.cases.selectors import open_and_overdue
from grassroots.core.scoping import Scope
from grassroots.registry.coverage import problem_records
from grassroots.territory.models import Grid
from grassroots.web.paging import paginate, sorting_of

from .insight import Where, link, several_places, where_of

INDICATORS = {
    "open": gettext_lazy("Open cases"),
    "overdue": gettext_lazy("Overdue cases"),
    "coverage": gettext_lazy("Coverage problems"),
}
DEFAULT_INDICATOR = "open"
# Problems of the coverage audit that belong to one grid (a household without a grid, or a
# resident without a household, belongs to none).
GRID_PROBLEMS = (
    "households_outside_grid",
    "empty_households",
    "duplicate_id_numbers",
    "grids_without_worker",
)
# Light to dark: no problem, then four classes of more.
COLOURS = ["#f2f2f2", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"]
# A boundary with more points than this is simplified for the map (about 5 m).
SIMPLIFY_ABOVE_POINTS = 400
SIMPLIFY_TOLERANCE = 0.00005


def case_counts(scope: Scope) -> tuple[Counter[str], Counter[str]]:
    """Open and overdue cases per scope code (grids, and unit queues) under `scope`."""
    counts = open_and_overdue(timezone.now())
    rows = (
        Case.objects.in_scope(scope)
        .filter(is_open=True)
        .order_by()
        .values("scope_code")
        .annotate(n_open=counts["open"], n_overdue=counts["overdue"])
        .values_list("scope_code", "n_open", "n_overdue")
    )
    opened: Counter[str] = Counter()
    late: Counter[str] = Counter()
    for code, n_open, n_overdue in rows:
        opened[code] = n_open
        late[code] = n_overdue
    return opened, late


def coverage_counts(scope: Scope) -> Counter[str]:
    """Coverage problems per grid code: records of the audit's problems that lie in a grid."""
    counts: Counter[str] = Counter()
    for key in GRID_PROBLEMS:
        model, records = problem_records(scope, key)
        column = "code" if model == "grid" else "scope_code"
        for code, n in (
            records.order_by().values(column).annotate(n=Count("pk")).values_list(column, "n")
        ):
            if code and len(code) == 15:
                counts[code] += n
    return counts


def grid_rows(where: Where) -> list[dict[str, Any]]:
    """One row per grid under the place: code, name, village and the three figures."""
    opened, late, problems = *case_counts(where.scope), coverage_counts(where.scope)
    grids = (
        Grid.objects.in_scope(where.scope)
        .order_by("code")
        .values_list("code", "name", "unit__name")
    )
    return [
        {
            "code": code,
            "name": name,
            "unit": unit,
            "open": opened[code],
            "overdue": late[code],
            "coverage": problems[code],
        }
        for code, name, unit in grids
    ]


def place_rows(where: Where, grids: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The places one level below, with the sums of their grids (and units' own queues)."""
    opened, late = case_counts(where.scope)
    rows = []
    for place in where.below:
        mine = [g for g in grids if g["code"].startswith(place.code)]
        rows.append(
            {
                "code": place.code,
                "name": place.name,
                "open": sum(n for c, n in opened.items() if c.startswith(place.code)),
                "overdue": sum(n for c, n in late.items() if c.startswith(place.code)),
                "coverage": sum(g["coverage"] for g in mine),
                "grids": len(mine),
            }
        )
    return rows


def classes(values: list[int]) -> list[tuple[int, int | None, str]]:
    """(from, to, colour) of the legend: 0, then four equal ranges up to the largest value."""
    top = max(values, default=0)
    legend: list[tuple[int, int | None, str]] = [(0, 0, COLOURS[0])]
    if top <= 0:
        return legend
    step = max(1, math.ceil(top / 4))
    start = 1
    for colour in COLOURS[1:]:
        if start > top:
            break
        end = min(start + step - 1, top)
        legend.append((start, end, colour))
        start = end + 1
    return legend


def colour_of(value: int, legend: list[tuple[int, int | None, str]]) -> str:
    for low, high, colour in legend:
        if value >= low and (high is None or value <= high):
            return colour
    return legend[-1][2]


def indicator_of(request: HttpRequest) -> str:
    value = request.GET.get("indicator", DEFAULT_INDICATOR)
    return value if value in INDICATORS else DEFAULT_INDICATOR


def legend_items(legend: list[tuple[int, int | None, str]]) -> list[dict[str, str]]:
    items = []
    for low, high, colour in legend:
        label = str(low) if low == high else f"{low}–{high}"
        items.append({"label": label, "colour": colour})
    return items


MAP_SORTS: dict[str, Sequence[str]] = {
    "code": ["code"],
    "name": ["name"],
    "open": ["open"],
    "overdue": ["overdue"],
    "coverage": ["coverage"],
}


@login_required
@permission_required("territory.view_grid", raise_exception=True)
def map_page(request: HttpRequest) -> HttpResponse:
    """The map of a place's grids, the places below it, and the table of the grids."""
    where = where_of(request)
    indicator = indicator_of(request)
    grids = grid_rows(where)
    legend = classes([g[indicator] for g in grids])
    sorting = sorting_of(request, MAP_SORTS, f"-{indicator}")
    ordered = sorted(grids, key=lambda g: g["code"])
    ordered.sort(key=lambda g: g[sorting.key], reverse=sorting.descending)
    page_obj = paginate(request, ordered)
    for row in page_obj.object_list:
        row["colour"] = colour_of(row[indicator], legend)
        row["cases_url"] = link("console:cases", query={"scope": row["code"]})
        row["households_url"] = link("worker:households", query={"grid": row["code"]})
    data_url = reverse("console:map_data") + "?" + request.GET.urlencode()
    context = {
        "title": _("Map"),
        "where": where,
        "several": several_places(request),
        "indicator": indicator,
        "indicator_label": INDICATORS[indicator],
        "indicators": list(INDICATORS.items()),
        "legend": legend_items(legend),
        "places": place_rows(where, grids),
        "page_obj": page_obj,
        "sorting": sorting,
        "data_url": data_url,
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
    }
    return render(request, "web/console/map.html", context)


def simplified(geometry: dict[str, Any]) -> dict[str, Any]:
    """The boundary as drawn: polygons with many points are simplified (topology kept)."""
    rings = geometry.get("coordinates") or []
    if geometry.get("type") == "MultiPolygon":
        points = sum(len(ring) for polygon in rings for ring in polygon)
    else:
        points = sum(len(ring) for ring in rings)
    if points <= SIMPLIFY_ABOVE_POINTS:
        return geometry
    return dict(mapping(shape(geometry).simplify(SIMPLIFY_TOLERANCE, preserve_topology=True)))


@login_required
@permission_required("territory.view_grid", raise_exception=True)
def map_data(request: HttpRequest) -> JsonResponse:
    """GeoJSON FeatureCollection of the grids under the place, with figures and colour."""
    where = where_of(request)
    indicator = indicator_of(request)
    rows = {g["code"]: g for g in grid_rows(where)}
    legend = classes([g[indicator] for g in rows.values()])
    labels = {key: str(label) for key, label in INDICATORS.items()}
    features = []
    for grid in Grid.objects.in_scope(where.scope).order_by("code"):
        row = rows.get(grid.code)
        if row is None:
            continue
        links = []
        cases_url = link("console:cases", query={"scope": grid.code})
        if cases_url:
            links.append([_("See the cases"), cases_url])
        households_url = link("worker:households", query={"grid": grid.code})
        if households_url:
            links.append([_("See the households"), households_url])
        features.append(
            {
                "type": "Feature",
                "id": grid.code,
                "bbox": [grid.min_lon, grid.min_lat, grid.max_lon, grid.max_lat],
                "geometry": simplified(grid.boundary),
                "properties": {
                    "code": grid.code,
                    "name": grid.name,
                    "unit": row["unit"],
                    "value": row[indicator],
                    "open": row["open"],
                    "overdue": row["overdue"],
                    "coverage": row["coverage"],
                    "colour": colour_of(row[indicator], legend),
                    "popup": {
                        "title": f"{grid.name} ({grid.code})",
                        "rows": [[labels[key], row[key]] for key in INDICATORS],
                        "links": links,
                    },
                },
            }
        )
    return JsonResponse(
        {
            "type": "FeatureCollection",
            "indicator": indicator,
            "legend": legend_items(legend),
            "features": features,
        }
    )

"""The "格不漏户、户不漏人" coverage audit: no household outside a grid, no person outside a household.

One report for a scope, served by `grassroots audit coverage`, the API and the web page. Counts
are computed in the database; the point-in-polygon test runs vectorized per grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.models import GridAssignment
from grassroots.accounts.roles import Role
from grassroots.core.scoping import Scope
from grassroots.core.validators import mask_id_number
from grassroots.territory.geometry import parse_polygon, points_inside
from grassroots.territory.models import Grid

from .models import CURRENT_RESIDENT, Household, Resident

PROBLEM_KEYS = (
    "households_without_grid",
    "households_outside_grid",
    "residents_without_household",
    "empty_households",
    "duplicate_id_numbers",
    "grids_without_worker",
)


@dataclass(frozen=True)
class Sample:
    """One problem record: what the report prints, and what the web page links to."""

    label: str
    model: str  # "household", "resident" or "grid"
    pk: int


@dataclass
class CoverageReport:
    scope: Scope
    households_total: int = 0
    residents_total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "households_total": self.households_total,
            "residents_total": self.residents_total,
        }
        data.update({key: self.counts[key] for key in PROBLEM_KEYS})
        data["samples"] = {key: [s.label for s in self.samples[key]] for key in PROBLEM_KEYS}
        return data

    @property
    def problems_total(self) -> int:
        return sum(self.counts.values())


def coverage_report(scope: Scope, *, sample_size: int | None = None) -> CoverageReport:
    """Compute the coverage audit for everything under `scope`."""
    n = sample_size if sample_size is not None else settings.COVERAGE_SAMPLE_SIZE
    report = CoverageReport(scope=scope)
    households = Household.objects.in_scope(scope)
    residents = Resident.objects.in_scope(scope).filter(CURRENT_RESIDENT)
    grids = Grid.objects.in_scope(scope)

    report.households_total = households.count()
    report.residents_total = residents.count()

    def household_samples(qs: Any) -> list[Sample]:
        return [
            Sample(code, "household", pk)
            for pk, code in qs.order_by("code").values_list("pk", "code")[:n]
        ]

    no_grid = households.filter(grid__isnull=True)
    report.counts["households_without_grid"] = no_grid.count()
    report.samples["households_without_grid"] = household_samples(no_grid)

    outside = _households_outside_grid(households)
    report.counts["households_outside_grid"] = len(outside)
    report.samples["households_outside_grid"] = [
        Sample(code, "household", pk) for code, pk in sorted(outside)[:n]
    ]

    homeless = residents.filter(household__isnull=True)
    report.counts["residents_without_household"] = homeless.count()
    report.samples["residents_without_household"] = [
        Sample(mask_id_number(number), "resident", pk)
        for pk, number in homeless.order_by("pk").values_list("pk", "id_number")[:n]
    ]

    current_members = Resident.objects.filter(CURRENT_RESIDENT, household=OuterRef("pk"))
    empty = households.filter(~Exists(current_members))
    report.counts["empty_households"] = empty.count()
    report.samples["empty_households"] = household_samples(empty)

    # ID numbers are encrypted: duplicates are found on their keyed hash (core.crypto).
    duplicated = _duplicated_hashes(scope)
    report.counts["duplicate_id_numbers"] = 0
    first_hashes: list[str] = []
    if duplicated is not None:
        sql, params = duplicated
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) duplicated", params)
            report.counts["duplicate_id_numbers"] = cursor.fetchone()[0]
            if n > 0:
                cursor.execute(
                    f"SELECT id_hash FROM ({sql}) duplicated ORDER BY id_hash LIMIT %s",
                    [*params, n],
                )
                first_hashes = [digest for (digest,) in cursor.fetchall()]
    first = {
        digest: (pk, number)
        for digest, pk, number in residents.filter(id_hash__in=first_hashes)
        .order_by("-pk")
        .values_list("id_hash", "pk", "id_number")
    }
    report.samples["duplicate_id_numbers"] = [
        Sample(mask_id_number(first[h][1]), "resident", first[h][0]) for h in first_hashes
    ]

    workers = GridAssignment.objects.filter(
        grid=OuterRef("pk"), user__is_active=True, user__role=Role.GRID_WORKER
    )
    unmanned = grids.filter(~Exists(workers))
    report.counts["grids_without_worker"] = unmanned.count()
    report.samples["grids_without_worker"] = [
        Sample(code, "grid", pk)
        for pk, code in unmanned.order_by("code").values_list("pk", "code")[:n]
    ]
    return report


# The partial index of current residents' (id_hash, scope_code) that the duplicate ID numbers'
# query is made for. SQLite plans without statistics and walks the scope_code index instead,
# sorting every hash: three times slower for a county of a million residents (1.5 s, not 0.5 s),
# so the query names it there. tests/registry/test_coverage.py fails if it is renamed.
CURRENT_ID_INDEX = "resident_current_id"

# The one raw query of the coverage audit: the keyed hashes of the ID numbers that more than
# one current resident under the scope holds.
DUPLICATED_ID_HASHES = (
    "SELECT id_hash FROM {table} {hint}"
    " WHERE moved_out_on IS NULL AND deceased_on IS NULL AND ({scope})"
    " GROUP BY id_hash HAVING COUNT(*) > 1"
)


def _duplicated_hashes(scope: Scope) -> tuple[str, tuple[Any, ...]] | None:
    """(SQL, params) of DUPLICATED_ID_HASHES under `scope`; None when it holds nothing."""
    if scope.codes == ():
        return None
    qn = connection.ops.quote_name
    where, params = scope.sql(qn("scope_code"))
    hint = f"INDEXED BY {qn(CURRENT_ID_INDEX)}" if connection.vendor == "sqlite" else ""
    sql = DUPLICATED_ID_HASHES.format(table=qn(Resident._meta.db_table), hint=hint, scope=where)
    return sql, tuple(params)


def _households_outside_grid(households: Any) -> list[tuple[str, int]]:
    """(code, pk) of households whose coordinates lie outside their own grid's polygon.

    A county holds ~300k located households: they are read as plain tuples (no model rows),
    grouped by grid with numpy, and tested against each grid's polygon in one vectorized call.
    """
    located = (
        households.filter(grid__isnull=False, lon__isnull=False)
        .values_list("grid_id", "lon", "lat", "pk")
        .order_by()
    )
    sql, params = located.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    grid_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    lons = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    lats = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
    pks = np.fromiter((r[3] for r in rows), dtype=np.int64, count=len(rows))
    order = np.argsort(grid_ids, kind="stable")
    grid_ids, lons, lats, pks = grid_ids[order], lons[order], lats[order], pks[order]
    starts = np.flatnonzero(np.r_[True, grid_ids[1:] != grid_ids[:-1]])
    ends = np.r_[starts[1:], len(grid_ids)]
    boundaries = dict(
        Grid.objects.filter(pk__in=grid_ids[starts].tolist()).values_list("pk", "boundary")
    )
    outside_pks: list[int] = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        polygon = parse_polygon(boundaries[int(grid_ids[start])])
        inside = points_inside(polygon, lons[start:end], lats[start:end])
        outside_pks.extend(pks[start:end][~inside].tolist())
    if not outside_pks:
        return []
    codes: list[tuple[str, int]] = []
    for i in range(0, len(outside_pks), 900):
        chunk = outside_pks[i : i + 900]
        codes.extend(Household.objects.filter(pk__in=chunk).values_list("code", "pk"))
    return codes


def problem_records(scope: Scope, key: str) -> tuple[str, Any]:
    """("household" | "resident" | "grid", queryset of the records) behind one problem of
    the audit, under `scope`: what a page lists when someone drills down into a count.

    Same definitions as `coverage_report`; for duplicate ID numbers it holds every current
    resident whose number another current resident in the scope also holds.
    """
    households = Household.objects.in_scope(scope)
    residents = Resident.objects.in_scope(scope).filter(CURRENT_RESIDENT)
    if key == "households_without_grid":
        return "household", households.filter(grid__isnull=True)
    if key == "households_outside_grid":
        pks = [pk for _code, pk in _households_outside_grid(households)]
        return "household", Household.objects.filter(pk__in=pks)
    if key == "residents_without_household":
        return "resident", residents.filter(household__isnull=True)
    if key == "empty_households":
        current_members = Resident.objects.filter(CURRENT_RESIDENT, household=OuterRef("pk"))
        return "household", households.filter(~Exists(current_members))
    if key == "duplicate_id_numbers":
        duplicated = _duplicated_hashes(scope)
        if duplicated is None:
            return "resident", residents.none()
        return "resident", residents.filter(id_hash__in=RawSQL(*duplicated))
    if key == "grids_without_worker":
        workers = GridAssignment.objects.filter(
            grid=OuterRef("pk"), user__is_active=True, user__role=Role.GRID_WORKER
        )
        return "grid", Grid.objects.in_scope(scope).filter(~Exists(workers))
    raise KeyError(key)


# What each problem of the audit is called on pages (the command and the API use the keys).
PROBLEM_LABELS = {
    "households_without_grid": _("Households without a grid"),
    "households_outside_grid": _("Households outside their grid's boundary"),
    "residents_without_household": _("Current residents without a household"),
    "empty_households": _("Households without current members"),
    "duplicate_id_numbers": _("ID numbers held by more than one current resident"),
    "grids_without_worker": _("Grids without a grid worker"),
}

"""The organization tree of a user's scope with each organization's figures: members,
probationary members overdue for conversion, whether the secretary post is filled, and branch
life over a range of dates. A fixed number of queries whatever the number of organizations
(one county holds about 300): the pages and the API read it, `make bench` times it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q

from grassroots.cases.models import Case
from grassroots.registry.models import CURRENT_RESIDENT, Household, Resident

from .life import Life, life_overview
from .models import Member, MemberPost, Organization, Post, add_years


@dataclass
class TreeRow:
    org: Organization
    depth: int
    members: int
    probationary: int
    conversions_overdue: int
    has_secretary: bool
    life: Life
    # Summed once: a county's page shows some 300 rows.
    held: int = field(init=False)
    required: int = field(init=False)
    missing: int = field(init=False)
    attendance_percent: int = field(init=False)

    def __post_init__(self) -> None:
        kinds = self.life.kinds.values()
        self.held = sum(k.held for k in kinds)
        self.required = sum(k.required for k in kinds)
        self.missing = sum(len(k.missing_periods) for k in kinds)
        self.attendance_percent = round(self.life.attendance_rate * 100)


def year_range(year: int, today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """Branch life of a year: from 1 January to 31 December, or to today for this year."""
    return datetime.date(year, 1, 1), min(datetime.date(year, 12, 31), today)


def org_tree(
    orgs: Any, since: datetime.date, until: datetime.date, today: datetime.date
) -> list[TreeRow]:
    """The organizations of the queryset `orgs`, each under its parent when the parent is
    among them (else at the top), in code order at each level."""
    rows = list(orgs.select_related("parent").order_by("code"))
    ids = [o.pk for o in rows]
    overdue_since = add_years(today, -1)
    counts = {
        r["organization_id"]: r
        for r in Member.objects.filter(organization_id__in=ids)
        .order_by()
        .values("organization_id")
        .annotate(
            n=Count("pk"),
            probationary=Count("pk", filter=Q(status=Member.Status.PROBATIONARY)),
            overdue=Count(
                "pk",
                filter=Q(status=Member.Status.PROBATIONARY, joined_on__lte=overdue_since),
            ),
        )
    }
    with_secretary = set(
        MemberPost.objects.filter(
            organization_id__in=ids, post=Post.SECRETARY, ended_on__isnull=True
        ).values_list("organization_id", flat=True)
    )
    lives = life_overview(rows, since, until)
    children: dict[int | None, list[Organization]] = {}
    known = set(ids)
    for org in rows:
        parent = org.parent_id if org.parent_id in known else None
        children.setdefault(parent, []).append(org)
    result: list[TreeRow] = []

    def walk(parent: int | None, depth: int, seen: set[int]) -> None:
        for org in children.get(parent, []):
            if org.pk in seen:
                continue
            seen.add(org.pk)
            c: dict[str, Any] = dict(counts.get(org.pk, {}))
            result.append(
                TreeRow(
                    org,
                    depth,
                    c.get("n", 0),
                    c.get("probationary", 0),
                    c.get("overdue", 0),
                    org.pk in with_secretary,
                    lives[org.pk],
                )
            )
            walk(org.pk, depth + 1, seen)

    walk(None, 0, set())
    return result


@dataclass
class UnitFigures:
    code: str
    name: str
    households: int
    residents: int
    members: int
    open_cases: int


def unit_figures(org: Organization) -> tuple[list[UnitFigures], UnitFigures]:
    """Each unit the organization serves with its households, current residents, party
    members living there and open cases, and their sum: a joint branch's villages side by
    side, never merged (五个不变). Four queries per unit, a handful of units."""
    rows: list[UnitFigures] = []
    for link in org.served.select_related("unit").order_by("unit_code"):
        code = link.unit_code
        rows.append(
            UnitFigures(
                code,
                link.unit.name,
                Household.objects.filter(scope_code__startswith=code).count(),
                Resident.objects.filter(CURRENT_RESIDENT, scope_code__startswith=code).count(),
                Member.objects.filter(resident__scope_code__startswith=code).count(),
                Case.objects.open().filter(scope_code__startswith=code).count(),
            )
        )
    total = UnitFigures(
        "",
        "",
        sum(r.households for r in rows),
        sum(r.residents for r in rows),
        sum(r.members for r in rows),
        sum(r.open_cases for r in rows),
    )
    return rows, total

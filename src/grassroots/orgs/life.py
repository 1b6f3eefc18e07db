"""Branch life (三会一课 and 主题党日): for an organization and a range of dates, each kind of
meeting held against what is required, the periods that lack one, and the attendance rate.

A period (a month, labelled 2026-03, or a quarter, labelled 2026Q1) counts when it ends inside
the range. `required` is the counted periods times the kind's `times`; `held` the meetings of
that kind in those periods; a period is missing when it holds fewer than `times`. The
attendance rate is the present among the present and absent of the organization's meetings in
the range (members on leave are excused); 0 when nobody was expected.
"""

from __future__ import annotations

import datetime
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from .models import LifeRequirement, Meeting, MeetingKind, Organization

DEFAULT_REQUIREMENTS: dict[str, tuple[str, int]] = {
    MeetingKind.MEMBER_MEETING: ("quarter", 1),
    MeetingKind.COMMITTEE_MEETING: ("month", 1),
    MeetingKind.GROUP_MEETING: ("month", 1),
    MeetingKind.PARTY_LECTURE: ("quarter", 1),
    MeetingKind.THEME_DAY: ("month", 1),
}


def requirements() -> dict[str, tuple[str, int]]:
    """(period, times) per kind: the administrator's rows over the defaults."""
    found = dict(DEFAULT_REQUIREMENTS)
    for row in LifeRequirement.objects.all():
        found[row.kind] = (row.period, row.times)
    return found


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime.date
    end: datetime.date


def _month_end(year: int, month: int) -> datetime.date:
    following = datetime.date(year + month // 12, month % 12 + 1, 1)
    return following - datetime.timedelta(days=1)


def periods(period: str, since: datetime.date, until: datetime.date) -> list[Period]:
    """The months (`period` "month") or quarters ending inside [since, until], in order."""
    found: list[Period] = []
    year, month = since.year, since.month
    while datetime.date(year, month, 1) <= until:
        if period == "month":
            start, end = datetime.date(year, month, 1), _month_end(year, month)
            label = f"{year}-{month:02d}"
        else:
            q = (month - 1) // 3
            start = datetime.date(year, 3 * q + 1, 1)
            end, label = _month_end(year, 3 * q + 3), f"{year}Q{q + 1}"
        if since <= end <= until and (not found or found[-1].label != label):
            found.append(Period(label, start, end))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return found


@dataclass
class KindLife:
    required: int = 0
    held: int = 0
    missing_periods: list[str] = field(default_factory=list)


@dataclass
class Life:
    org: str
    kinds: dict[str, KindLife]
    attendance_rate: float

    def as_json(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "kinds": {
                kind: {"required": k.required, "held": k.held, "missing_periods": k.missing_periods}
                for kind, k in self.kinds.items()
            },
            "attendance_rate": self.attendance_rate,
        }


def life(org: Organization, since: datetime.date, until: datetime.date) -> Life:
    """The organization's branch life over [since, until] (see the module's docstring)."""
    return life_overview([org], since, until)[org.pk]


def life_overview(
    orgs: list[Organization], since: datetime.date, until: datetime.date
) -> dict[int, Life]:
    """`life()` of many organizations at once (the organization tree of a county): one query
    for their meetings, whatever their number; attendance from the counts each meeting keeps
    (a county's year holds some 600,000 attendance rows)."""
    rules = requirements()
    counted = {kind: periods(rules[kind][0], since, until) for kind in MeetingKind.values}
    start = min((p.start for ps in counted.values() for p in ps), default=since)
    # Each meeting goes into its period once: the periods' first days, in order, per kind.
    starts = {kind: [p.start for p in ps] for kind, ps in counted.items()}
    ids = [org.pk for org in orgs]
    # (organization, kind) -> meetings held in each counted period.
    held: dict[tuple[int, str], list[int]] = {}
    present: dict[int, int] = {}
    expected: dict[int, int] = {}
    for org_id, kind, day, n_present, n_absent in (
        Meeting.objects.filter(organization_id__in=ids, held_on__gte=start, held_on__lte=until)
        .order_by()
        .values_list("organization_id", "kind", "held_on", "present_count", "absent_count")
    ):
        if day >= since:
            present[org_id] = present.get(org_id, 0) + n_present
            expected[org_id] = expected.get(org_id, 0) + n_present + n_absent
        i = bisect_right(starts.get(kind, ()), day) - 1
        if i >= 0 and day <= counted[kind][i].end:
            key = (org_id, kind)
            if key not in held:
                held[key] = [0] * len(counted[kind])
            held[key][i] += 1
    result: dict[int, Life] = {}
    for org in orgs:
        kinds: dict[str, KindLife] = {}
        for kind, ps in counted.items():
            times = rules[kind][1]
            per_period = held.get((org.pk, kind)) or [0] * len(ps)
            kinds[kind] = KindLife(
                required=times * len(ps),
                held=sum(per_period),
                missing_periods=[p.label for p, n in zip(ps, per_period, strict=True) if n < times],
            )
        total = expected.get(org.pk, 0)
        rate = present.get(org.pk, 0) / total if total else 0.0
        result[org.pk] = Life(org.code, kinds, round(rate, 4))
    return result

"""The two deadlines of a case (DOMAIN.md, "Two deadlines").

- `due_at`, the case's due date: the promise made to the reporter at intake, the time limit of
  the case's first tier counted from the report. Escalation never moves it; a deferral (延期)
  does. "Overdue" (models.overdue_q) and on-time closure are judged against it.
- `tier_due_at`, the deadline of the tier the case is at: each tier gets its own time limit when
  the case reaches it (intake, escalation by hand or by the sweep); a deferral moves it too. The
  sweep escalates a case when it passes.

At intake both are the same moment. Limits count working days on the Chinese calendar for normal
cases and clock hours for urgent ones (workdays.py).
"""

from __future__ import annotations

import datetime

from .models import TIER_ORDER, Case, Category, Tier
from .workdays import WorkingCalendar

# The tier of a case placed at a unit's queue (no grid), by the unit's level.
UNIT_TIER = {"village": Tier.VILLAGE, "town": Tier.TOWN, "county": Tier.COUNTY}


def deadline_for(
    category: Category, tier: str, urgent: bool, start: datetime.datetime, cal: WorkingCalendar
) -> tuple[datetime.datetime, bool]:
    """(deadline, fallback?) of `tier`'s time limit for a case of `category` from `start`."""
    limit = category.limit(tier, urgent=urgent)
    result = cal.add_hours(start, limit) if urgent else cal.add_working_days(start, limit)
    return result.due, result.fallback


def first_tier(category: Category, unit_level: str | None) -> str:
    """The category's first tier, raised to the unit's level for a case in a unit's queue
    (`unit_level` None: the case lies in a grid)."""
    tier = category.first_tier
    floor = Tier.GRID if unit_level is None else UNIT_TIER[unit_level]
    return TIER_ORDER[max(TIER_ORDER.index(Tier(tier)), TIER_ORDER.index(Tier(floor)))]


def start_at_tier(
    case: Case, tier: str, now: datetime.datetime, cal: WorkingCalendar
) -> tuple[datetime.datetime, bool]:
    """Put `case` at `tier` from `now` with that tier's own time limit; returns the deadline."""
    case.tier = tier
    case.tier_started_at = now
    case.tier_due_at, case.tier_due_fallback = deadline_for(
        case.category, tier, case.urgent, now, cal
    )
    return case.tier_due_at, case.tier_due_fallback


def extend(case: Case, days: int, now: datetime.datetime, cal: WorkingCalendar) -> None:
    """A deferral: `days` more working days on the due date and on the tier's deadline, each
    counted from itself or from now when it has passed."""
    due = cal.add_working_days(max(case.due_at, now), days)
    tier_due = cal.add_working_days(max(case.tier_due_at, now), days)
    case.due_at, case.due_fallback = due.due, due.fallback
    case.tier_due_at, case.tier_due_fallback = tier_due.due, tier_due.fallback

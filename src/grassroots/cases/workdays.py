"""Deadlines on the Chinese working-day calendar.

Normal cases count working days: Monday to Friday, minus public holidays, plus the weekend days
made working days to balance them (调休). The official days come from the chinese-calendar
package for the years it knows (the State Council announces each year late in the year
before). Past those years the count falls back to Monday–Friday plus the days an administrator
entered (`CalendarDay`), never raises, and says so: `Deadline.fallback` is true when any day
counted lay outside the official data. Days entered by an administrator also override the
official calendar (a local holiday, a corrected day).

A deadline of N working days from a moment is the end (23:59:59.999999, local time) of the N-th
working day after that moment's date; the day of the report itself does not count. Urgent cases
count clock hours instead (`add_hours`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cached_property

import chinese_calendar
from chinese_calendar import constants
from django.utils import timezone

from .models import CalendarDay

# The official data ends with the last year the package lists a holiday for.
OFFICIAL_FIRST_YEAR = min(constants.holidays).year
OFFICIAL_LAST_YEAR = max(constants.holidays).year
# A deadline further away than this many calendar days is refused as a mistake.
MAX_SPAN_DAYS = 3660


@dataclass(frozen=True)
class Deadline:
    due: datetime.datetime
    # True when a day counted lay outside the official calendar data (Monday–Friday and the
    # administrator's days were used for it).
    fallback: bool


class WorkingCalendar:
    """Working days from chinese-calendar, with the administrator's days on top."""

    def __init__(self, overrides: dict[datetime.date, bool] | None = None) -> None:
        # date -> True (working) / False (holiday); None: read CalendarDay when first needed.
        self._given = overrides

    @cached_property
    def overrides(self) -> dict[datetime.date, bool]:
        if self._given is not None:
            return dict(self._given)
        return {
            day: kind == CalendarDay.Kind.WORKDAY
            for day, kind in CalendarDay.objects.values_list("date", "kind")
        }

    @staticmethod
    def is_official(day: datetime.date) -> bool:
        return OFFICIAL_FIRST_YEAR <= day.year <= OFFICIAL_LAST_YEAR

    def is_working_day(self, day: datetime.date) -> tuple[bool, bool]:
        """(working?, fallback?) for one date."""
        if day in self.overrides:
            return self.overrides[day], not self.is_official(day)
        if self.is_official(day):
            return bool(chinese_calendar.is_workday(day)), False
        return day.weekday() < 5, True

    def add_working_days(self, start: datetime.datetime, days: int) -> Deadline:
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ValueError(f"days: a whole number of working days >= 0, not {days!r}")
        local = timezone.localtime(start) if timezone.is_aware(start) else start
        day, fallback, counted = local.date(), False, 0
        while counted < days:
            day += datetime.timedelta(days=1)
            if (day - local.date()).days > MAX_SPAN_DAYS:
                raise ValueError(f"days: {days} working days reach beyond ten years")
            working, outside = self.is_working_day(day)
            fallback = fallback or outside
            if working:
                counted += 1
        end = datetime.datetime.combine(day, datetime.time.max)
        if timezone.is_aware(start):
            end = timezone.make_aware(end, timezone.get_current_timezone())
        return Deadline(end, fallback)

    def add_hours(self, start: datetime.datetime, hours: int | float) -> Deadline:
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours >= 0:
            raise ValueError(f"hours: a number of hours >= 0, not {hours!r}")
        return Deadline(start + datetime.timedelta(hours=hours), False)

    def working_days_between(self, start: datetime.date, end: datetime.date) -> int:
        """Working days after `start` up to and including `end` (0 if end <= start)."""
        count, day = 0, start
        while day < end:
            day += datetime.timedelta(days=1)
            if self.is_working_day(day)[0]:
                count += 1
        return count

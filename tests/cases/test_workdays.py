"""Deadlines count working days on the Chinese calendar, and never crash past its data."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from grassroots.cases.models import CalendarDay
from grassroots.cases.workdays import OFFICIAL_LAST_YEAR, WorkingCalendar


def at(y: int, m: int, d: int, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(y, m, d, hour))


def due_date(deadline) -> datetime.date:
    return timezone.localtime(deadline.due).date()


def test_national_day_week_and_its_adjusted_working_days():
    # 2024: 1–7 October off; Sunday 29 September and Saturday 12 October are working days.
    cal = WorkingCalendar({})
    deadline = cal.add_working_days(at(2024, 9, 27), 1)  # Friday → the adjusted Sunday
    assert due_date(deadline) == datetime.date(2024, 9, 29) and not deadline.fallback
    assert due_date(cal.add_working_days(at(2024, 9, 29), 1)) == datetime.date(2024, 9, 30)
    # Monday 30 September + 1 working day: the holiday week is skipped, to Tuesday 8 October.
    assert due_date(cal.add_working_days(at(2024, 9, 30), 1)) == datetime.date(2024, 10, 8)
    # From 8 October, 5 working days: 9, 10, 11, Saturday 12 (adjusted), Monday 14.
    assert due_date(cal.add_working_days(at(2024, 10, 8), 5)) == datetime.date(2024, 10, 14)


def test_the_deadline_is_the_end_of_the_last_working_day_in_local_time():
    deadline = WorkingCalendar({}).add_working_days(at(2025, 3, 3, 23), 2)  # a Monday night
    local = timezone.localtime(deadline.due)
    assert local.date() == datetime.date(2025, 3, 5)
    assert (local.hour, local.minute, local.second) == (23, 59, 59)
    assert WorkingCalendar({}).add_working_days(at(2025, 3, 3), 0).due.date() == datetime.date(
        2025, 3, 3
    )


def test_urgent_cases_count_clock_hours_through_holidays():
    deadline = WorkingCalendar({}).add_hours(at(2024, 10, 1, 8), 24)
    assert deadline.due == at(2024, 10, 2, 8) and not deadline.fallback


def test_past_the_known_years_it_counts_monday_to_friday_and_says_so():
    year = OFFICIAL_LAST_YEAR + 1
    friday = next(
        datetime.date(year, 1, d) for d in range(1, 8) if datetime.date(year, 1, d).weekday() == 4
    )
    start = timezone.make_aware(datetime.datetime.combine(friday, datetime.time(9)))
    deadline = WorkingCalendar({}).add_working_days(start, 1)
    assert due_date(deadline) == friday + datetime.timedelta(days=3)  # Monday
    assert deadline.fallback is True
    # Far in the future too: no exception.
    assert WorkingCalendar({}).add_working_days(at(2039, 5, 1), 20).fallback


@pytest.mark.django_db
def test_days_entered_by_an_administrator_are_counted():
    year = OFFICIAL_LAST_YEAR + 1
    monday = next(
        datetime.date(year, 2, d) for d in range(1, 8) if datetime.date(year, 2, d).weekday() == 0
    )
    CalendarDay.objects.create(date=monday, kind="holiday", name="春节")
    CalendarDay.objects.create(
        date=monday - datetime.timedelta(days=1), kind="workday", name="春节调休"
    )
    friday = monday - datetime.timedelta(days=3)
    start = timezone.make_aware(datetime.datetime.combine(friday, datetime.time(9)))
    cal = WorkingCalendar()
    # Friday + 1: the adjusted Sunday; + 2: Tuesday (Monday is the holiday).
    assert due_date(cal.add_working_days(start, 1)) == monday - datetime.timedelta(days=1)
    assert due_date(cal.add_working_days(start, 2)) == monday + datetime.timedelta(days=1)
    assert cal.working_days_between(friday, monday + datetime.timedelta(days=1)) == 2


@pytest.mark.parametrize("days", [-1, 1.5, True, "3", None])
def test_bad_day_counts_are_refused_naming_the_parameter(days):
    with pytest.raises(ValueError, match="days"):
        WorkingCalendar({}).add_working_days(at(2025, 1, 6), days)


def test_a_deadline_beyond_ten_years_is_refused():
    with pytest.raises(ValueError, match="beyond ten years"):
        WorkingCalendar({}).add_working_days(at(2025, 1, 6), 5000)


@pytest.mark.parametrize("hours", [-1, float("nan"), True, "2"])
def test_bad_hour_counts_are_refused_naming_the_parameter(hours):
    with pytest.raises(ValueError, match="hours"):
        WorkingCalendar({}).add_hours(at(2025, 1, 6), hours)

"""Fills the tier deadline of every case, and the due date of escalated cases (two deadlines).

Until now a case had one deadline, which each escalation replaced with the new tier's. So:

1. every case's `tier_due_at` (and its fallback flag) is the deadline it has;
2. the due date (`due_at`) of a case that was escalated and never deferred goes back to the
   promise made at intake: its first tier's time limit, counted from the report. The first tier
   is the category's, raised to the unit's level for a case in a unit's queue; the limits are
   the category's as they are now. Set-wise: one calculation per category, first tier and report
   day (working days) and one UPDATE per category and first tier with the days as a CASE
   (urgent cases: the report time plus the hours, in SQL). A deferred case keeps its date: its
   extension cannot be told apart from the deadlines it had;
3. "closed on time" of the closed cases whose due date changed is judged again (handled by the
   due date, which never passed while open), and the statistics buckets get the difference.

Open cases whose due date now lies in the past are marked, and counted as due, by the next
deadline sweep. Going back restores the one deadline (`due_at` from `tier_due_at`); run
`grassroots cases rebuild-stats` after it.
"""

import datetime
from collections import defaultdict

from django.db import migrations
from django.db.models import BooleanField, Count, DateTimeField, F, Q, Value, When
from django.db.models import Case as Switch
from django.db.models.functions import Length
from django.utils import timezone

from grassroots.cases.workdays import WorkingCalendar

TIERS = ["grid", "village", "town", "county"]
# A case in a unit's queue starts at the unit's level at least: by the length of its code.
QUEUE_TIER = {12: "village", 9: "town", 6: "county"}
DONE = ["closed", "rated"]
BATCH_DAYS = 400


def _first_tier(category, code_length):
    floor = QUEUE_TIER.get(code_length, "grid")
    return TIERS[max(TIERS.index(category.first_tier), TIERS.index(floor))]


def _places(Case):
    """(first-tier class, queryset of the escalated, never deferred cases in it)."""
    escalated = Case.objects.filter(escalations__gt=0, deferred=False)
    yield None, escalated.filter(grid__isnull=False)
    queued = escalated.filter(grid__isnull=True).alias(code_length=Length("scope_code"))
    for length in QUEUE_TIER:
        yield length, queued.filter(code_length=length)


def _on_time_by_bucket(Case):
    closed = Case.objects.filter(escalations__gt=0, deferred=False, stage__in=DONE)
    rows = (
        closed.order_by()
        .values("scope_code", "reported_on")
        .annotate(n=Count("id", filter=Q(closed_on_time=True)))
        .values_list("scope_code", "reported_on", "n")
    )
    return {(code, day): n for code, day, n in rows}


def fill(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    Category = apps.get_model("cases", "Category")
    CalendarDay = apps.get_model("cases", "CalendarDay")
    Bucket = apps.get_model("cases", "CaseStatBucket")

    Case.objects.update(tier_due_at=F("due_at"), tier_due_fallback=F("due_fallback"))

    calendar = WorkingCalendar(
        {day: kind == "workday" for day, kind in CalendarDay.objects.values_list("date", "kind")}
    )
    on_time_before = _on_time_by_bucket(Case)
    for category in Category.objects.all():
        for length, cases in _places(Case):
            mine = cases.filter(category_id=category.pk)
            tier = _first_tier(category, length)
            hours = getattr(category, f"{tier}_hours")
            mine.filter(urgent=True).update(
                due_at=F("reported_at") + datetime.timedelta(hours=hours), due_fallback=False
            )
            normal = mine.filter(urgent=False)
            days = sorted(set(normal.order_by().values_list("reported_on", flat=True)))
            for start in range(0, len(days), BATCH_DAYS):
                batch = days[start : start + BATCH_DAYS]
                due = {}
                for day in batch:
                    noon = timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))
                    due[day] = calendar.add_working_days(noon, getattr(category, f"{tier}_days"))
                normal.filter(reported_on__in=batch).update(
                    due_at=Switch(
                        *[When(reported_on=d, then=Value(due[d].due)) for d in batch],
                        output_field=DateTimeField(),
                    ),
                    due_fallback=Switch(
                        *[When(reported_on=d, then=Value(due[d].fallback)) for d in batch],
                        output_field=BooleanField(),
                    ),
                )

    closed = Case.objects.filter(escalations__gt=0, deferred=False, stage__in=DONE)
    closed.update(
        closed_on_time=Switch(
            When(Q(missed_deadline=False, handled_at__lte=F("due_at")), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
    change = defaultdict(int)
    for key, n in _on_time_by_bucket(Case).items():
        change[key] += n
    for key, n in on_time_before.items():
        change[key] -= n
    for (code, day), n in change.items():
        if n:
            Bucket.objects.filter(scope_code=code, day=day).update(
                closed_on_time=F("closed_on_time") + n
            )


def back(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    Case.objects.update(due_at=F("tier_due_at"), due_fallback=F("tier_due_fallback"))


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0008_case_tier_deadline"),
    ]

    operations = [migrations.RunPython(fill, back)]

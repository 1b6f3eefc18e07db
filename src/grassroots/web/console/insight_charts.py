"""Queries and ECharts options of the dashboard.

The trend reads the per-grid, per-day statistics buckets (cases/stats.py); the breakdowns by
category, stage, tier and rating group the cases of the scope and period in one query, which
the index `case_scope_day` (scope_code, reported_on) bounds. Each chart comes with the rows of its table,
so the figures stay readable without JavaScript and on a projector.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from grassroots.cases import selectors, stats
from grassroots.cases.models import DONE_STAGES, Case, CaseStatBucket, Stage, Tier
from grassroots.core.scoping import Scope

# Colours that read on a projector and for most colour-blind people (Okabe–Ito).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
# Months or weeks: a period longer than this is drawn by month.
WEEKLY_UP_TO_DAYS = 120


def cases_in(scope: Scope, since: datetime.date, until: datetime.date) -> QuerySet[Case]:
    """The cases reported under `scope` in the period, less those merged into another."""
    return (
        Case.objects.in_scope(scope)
        .filter(reported_on__gte=since, reported_on__lte=until)
        .exclude(stage=Stage.MERGED)
        .order_by()
    )


def open_and_overdue(scope: Scope, now: datetime.datetime) -> tuple[int, int]:
    """Open cases under `scope` now, and those of them past their due date."""
    counts = (
        Case.objects.in_scope(scope)
        .filter(is_open=True)
        .aggregate(**selectors.open_and_overdue(now))
    )
    return int(counts["open"]), int(counts["overdue"])


@dataclass
class Breakdown:
    """The cases of a scope and period by category, stage, the tier that settled them and
    rating: what the dashboard's four breakdown charts show."""

    # (code, name, cases) per category, most cases first; names in the page's language.
    categories: list[tuple[str, str, int]]
    # (stage, label, cases) in workflow order, stages without cases left out.
    stages: list[tuple[str, str, int]]
    # (tier, label, closed cases handled there), grid tier first.
    tiers: list[tuple[str, str, int]]
    # (rating 1–5, cases) for every rating.
    ratings: list[tuple[int, int]]


def breakdown(scope: Scope, since: datetime.date, until: datetime.date) -> Breakdown:
    """The four breakdowns from one grouped query: at county scale each reading of the
    period's cases costs about as much as the whole page, so they are read once."""
    english = (get_language() or "").startswith("en")
    rows = (
        cases_in(scope, since, until)
        .values(
            "category__code",
            "category__name",
            "category__name_en",
            "stage",
            "handled_tier",
            "rating",
        )
        .annotate(n=Count("id"))
        .values_list(
            "category__code",
            "category__name",
            "category__name_en",
            "stage",
            "handled_tier",
            "rating",
            "n",
        )
    )
    categories: Counter[tuple[str, str]] = Counter()
    stages: Counter[str] = Counter()
    tiers: Counter[str] = Counter()
    ratings: Counter[int] = Counter()
    for code, name, name_en, stage, handled_tier, rating, n in rows:
        categories[code, name_en if english and name_en else name] += n
        stages[stage] += n
        if stage in DONE_STAGES:
            tiers[handled_tier] += n
        if rating is not None:
            ratings[rating] += n
    return Breakdown(
        categories=sorted(
            ((code, label, int(n)) for (code, label), n in categories.items()),
            key=lambda r: (-r[2], r[0]),
        ),
        stages=[(s.value, str(s.label), int(stages[s.value])) for s in Stage if stages[s.value]],
        tiers=[(t.value, str(t.label), int(tiers[t.value])) for t in Tier],
        ratings=[(r, int(ratings[r])) for r in range(1, 6)],
    )


def average_rating(ratings: Sequence[tuple[int, int]]) -> float | None:
    rated = sum(n for _r, n in ratings)
    return sum(r * n for r, n in ratings) / rated if rated else None


def period_start(day: datetime.date, monthly: bool) -> datetime.date:
    if monthly:
        return day.replace(day=1)
    return day - datetime.timedelta(days=day.weekday())


def trend(
    scope: Scope, since: datetime.date, until: datetime.date
) -> tuple[bool, list[dict[str, Any]]]:
    """(monthly?, rows) of received cases and the on-time closure rate per week or month,
    from the buckets, by the formulas of stats.indicators."""
    monthly = (until - since).days > WEEKLY_UP_TO_DAYS
    columns = ("total", "merged", "closed_on_time", "due", "deferred")
    days = (
        CaseStatBucket.objects.in_scope(scope)
        .filter(day__gte=since, day__lte=until)
        .order_by()
        .values("day")
        .annotate(**{f"sum_{c}": Sum(c) for c in columns})
        .values_list("day", *[f"sum_{c}" for c in columns])
    )
    sums: dict[datetime.date, dict[str, int]] = {}
    start = period_start(since, monthly)
    while start <= until:  # every period, also those without cases
        sums[start] = dict.fromkeys(columns, 0)
        start = (
            (start.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            if monthly
            else start + datetime.timedelta(days=7)
        )
    for day, *values in days:
        bucket = sums[period_start(day, monthly)]
        for c, value in zip(columns, values, strict=True):
            bucket[c] += int(value or 0)
    rows = []
    for start, s in sums.items():
        rows.append(
            {
                "label": start.strftime("%Y-%m") if monthly else start.isoformat(),
                "received": stats.cases_total(s),
                "on_time": stats.on_time_closure_rate(s),
            }
        )
    return monthly, rows


# ECharts options


def _base() -> dict[str, Any]:
    return {
        "color": PALETTE,
        "animation": False,
        "aria": {"enabled": True},
        "textStyle": {"fontSize": 14},
        "grid": {"left": 8, "right": 24, "top": 32, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
    }


def bar_option(labels: list[str], values: list[int], name: str, *, horizontal: bool) -> Any:
    option = _base()
    category_axis: dict[str, Any] = {
        "type": "category",
        "data": labels,
        "axisLabel": {"interval": 0},
    }
    value_axis = {"type": "value", "minInterval": 1}
    if horizontal:
        category_axis["inverse"] = True
        option.update(xAxis=value_axis, yAxis=category_axis)
    else:
        category_axis["axisLabel"] = {"interval": 0, "rotate": 30 if len(labels) > 5 else 0}
        option.update(xAxis=category_axis, yAxis=value_axis)
    option["series"] = [
        {
            "type": "bar",
            "name": name,
            "data": values,
            "label": {"show": True, "position": "right" if horizontal else "top"},
        }
    ]
    return option


def trend_option(rows: list[dict[str, Any]]) -> Any:
    option = _base()
    received, rate = _("Received"), _("On-time closure rate (%)")
    option.update(
        legend={"top": 0},
        xAxis={"type": "category", "data": [r["label"] for r in rows]},
        yAxis=[
            {"type": "value", "name": received, "minInterval": 1},
            {"type": "value", "name": "%", "min": 0, "max": 100, "position": "right"},
        ],
        series=[
            {"type": "bar", "name": received, "data": [r["received"] for r in rows]},
            {
                "type": "line",
                "name": rate,
                "yAxisIndex": 1,
                "connectNulls": True,
                "data": [
                    None if r["on_time"] is None else round(r["on_time"] * 100, 1) for r in rows
                ],
            },
        ],
    )
    option["grid"]["top"] = 48
    return option


def pie_option(items: list[tuple[str, int]], name: str) -> Any:
    option = _base()
    option["tooltip"] = {"trigger": "item", "formatter": "{b}: {c} ({d}%)"}
    option["legend"] = {"bottom": 0}
    option["series"] = [
        {
            "type": "pie",
            "name": name,
            "radius": ["35%", "65%"],
            "label": {"formatter": "{b}\n{c} ({d}%)"},
            "data": [{"name": label, "value": value} for label, value in items],
        }
    ]
    return option


def stars(rating: int) -> str:
    return ngettext("%(stars)s star", "%(stars)s stars", rating) % {"stars": rating}


def share(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f}%" if whole else "–"


def _bar_chart(
    chart_id: str,
    title: Any,
    heading: Any,
    items: list[tuple[Any, int]],
    *,
    horizontal: bool,
    series: Any = None,
) -> dict[str, Any]:
    """A bar chart of (label, count) and its table with each label's share of the total."""
    total = sum(n for _label, n in items)
    return {
        "id": chart_id,
        "title": title,
        "option": bar_option(
            [label for label, _n in items],
            [n for _label, n in items],
            series or _("Number of cases"),
            horizontal=horizontal,
        ),
        "empty": not total,
        "headers": [heading, _("Number of cases"), _("Share")],
        "rows": [[label, n, share(n, total)] for label, n in items],
    }


def dashboard_charts(
    scope: Scope,
    since: datetime.date,
    until: datetime.date,
    counts: Breakdown,
) -> list[dict[str, Any]]:
    """The charts of the dashboard, each with its option and the rows of its table."""
    categories, stages = counts.categories, counts.stages
    tiers, ratings = counts.tiers, counts.ratings
    monthly, trend_rows = trend(scope, since, until)
    closed_total = sum(n for _t, _l, n in tiers)
    return [
        _bar_chart(
            "chart-category",
            _("Cases by category"),
            _("Category"),
            [(label, n) for _c, label, n in categories],
            horizontal=True,
        ),
        _bar_chart(
            "chart-stage",
            _("Cases by stage"),
            _("Stage"),
            [(label, n) for _s, label, n in stages],
            horizontal=False,
        ),
        {
            "id": "chart-trend",
            "title": _("On-time closure by month") if monthly else _("On-time closure by week"),
            "option": trend_option(trend_rows),
            "empty": not any(r["received"] for r in trend_rows),
            "headers": [
                _("Month") if monthly else _("Week from"),
                _("Received"),
                _("On-time closure rate"),
            ],
            "rows": [
                [
                    r["label"],
                    r["received"],
                    "–" if r["on_time"] is None else f"{r['on_time'] * 100:.1f}%",
                ]
                for r in trend_rows
            ],
        },
        {
            "id": "chart-tier",
            "title": _("Closed cases by the tier that settled them"),
            "option": pie_option([(label, n) for _t, label, n in tiers if n], _("Closed cases")),
            "empty": not closed_total,
            "headers": [_("Tier"), _("Closed cases"), _("Share")],
            "rows": [[label, n, share(n, closed_total)] for _t, label, n in tiers],
        },
        _bar_chart(
            "chart-rating",
            _("Ratings by residents"),
            _("Rating"),
            [(stars(r), n) for r, n in ratings],
            horizontal=False,
            series=_("Ratings"),
        ),
    ]

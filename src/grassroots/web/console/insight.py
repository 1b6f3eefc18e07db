"""Console insight pages: where the user looks (scope picker) and the case dashboard.

Every insight page takes `?scope=CODE` (a unit or grid in the user's scope; anything else is a
404) and shows a breadcrumb from the top of the user's scope down to it, with the places one
level below to drill into. The map and the coverage audit live in insight_map.py and
insight_coverage.py; the chart queries and ECharts options in insight_charts.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.cases import stats
from grassroots.core.scoping import Scope
from grassroots.territory.models import Grid, Unit
from grassroots.territory.selectors import Place, child_places, places

from . import insight_charts as charts

SCOPE_LENGTHS = (6, 9, 12, 15)


@dataclass
class Where:
    """The part of the user's scope a page looks at, and how to move around it."""

    scope: Scope
    place: Place | None  # None: the user's whole scope (several places, or everything)
    crumbs: list[Place] = field(default_factory=list)
    below: list[Place] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.place.code if self.place else ""

    @property
    def is_grid(self) -> bool:
        return len(self.code) == 15


def where_of(request: HttpRequest) -> Where:
    """The scope a page shows, from `?scope=`; a place outside the user's scope is a 404."""
    user = request.user
    mine = Scope.for_user(user)
    code = request.GET.get("scope", "").strip()
    if code:
        if not (code.isdigit() and len(code) in SCOPE_LENGTHS) or not mine.contains(code):
            raise Http404(_("No such place in your scope."))
        model = Grid if len(code) == 15 else Unit
        if not model.objects.filter(code=code).exists():
            raise Http404(_("No such place in your scope."))
        scope = mine.narrow(code)
    elif mine.codes is not None and len(mine.codes) == 1:
        code, scope = mine.codes[0], mine
    else:
        scope = mine
    if not code:
        if scope.is_everything:
            below = [
                Place(c, n)
                for c, n in Unit.objects.filter(parent__isnull=True).values_list("code", "name")
            ]
        else:
            below = places(list(scope.codes or ()))
        return Where(scope, None, [], below)
    # The ancestors the user may see, down to the place itself.
    chain = [code[:n] for n in SCOPE_LENGTHS if n <= len(code)]
    crumbs = places([c for c in chain if mine.contains(c)])
    place = crumbs[-1] if crumbs else Place(code, "")
    below = [] if len(code) == 15 else child_places(user, code)
    return Where(scope, place, crumbs, below)


def several_places(request: HttpRequest) -> bool:
    """Whether the user's scope has a top above its places (a "my scope" crumb makes sense)."""
    mine = Scope.for_user(request.user)
    return mine.codes is None or len(mine.codes) != 1


def link(name: str, *args: Any, query: dict[str, str] | None = None) -> str | None:
    """The address of a page of another part, or None while that part has no such page."""
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return None
    if query:
        url += "?" + urlencode(query)
    return url


# Period


PRESETS = [
    ("7", _("Last 7 days")),
    ("30", _("Last 30 days")),
    ("90", _("Last 90 days")),
    ("year", _("This year")),
    ("custom", _("Custom dates")),
]
DEFAULT_PRESET = "30"


class PeriodForm(forms.Form):
    """The period of the dashboard: a preset, or dates (which win when given)."""

    period = forms.ChoiceField(label=_("Period"), choices=PRESETS, required=False)
    since = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end date comes before the start date."))
        if since and since.year < 2000:
            self.add_error("since", _("Enter a date after the year 2000."))
        return data


def period_of(form: PeriodForm, today: datetime.date) -> tuple[datetime.date, datetime.date, str]:
    """(since, until, preset) the form asks for; the default period when it is invalid."""
    preset = DEFAULT_PRESET
    if form.is_valid():
        data = form.cleaned_data
        preset = data.get("period") or DEFAULT_PRESET
        if data.get("since") or data.get("until"):
            until = data.get("until") or today
            since = data.get("since") or until - datetime.timedelta(days=29)
            return since, until, "custom"
        if preset == "year":
            return datetime.date(today.year, 1, 1), today, preset
        if preset == "custom":
            preset = DEFAULT_PRESET
    days = int(preset)
    return today - datetime.timedelta(days=days - 1), today, preset


# Dashboard


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


@login_required
@permission_required("cases.view_case", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    """Case indicators of a scope over a period, with charts and their tables."""
    where = where_of(request)
    form = PeriodForm(request.GET or None)
    today = timezone.localdate()
    since, until, preset = period_of(form, today)
    if not form.is_bound or form.is_valid():
        # The date fields show the period in force, ready to be adjusted.
        form = PeriodForm(initial={"since": since, "until": until})
    figures = stats.indicators(where.code, since, until, scope=where.scope)
    now_open, now_overdue = charts.open_and_overdue(where.scope, timezone.now())
    counts = charts.breakdown(where.scope, since, until)
    average = charts.average_rating(counts.ratings)
    cards = [
        {"key": "received", "label": _("Received"), "value": figures["cases_total"]},
        {"key": "open", "label": _("Open now"), "value": now_open},
        {"key": "overdue", "label": _("Overdue now"), "value": now_overdue, "bad": now_overdue},
        {
            "key": "on_time",
            "label": _("On-time closure rate"),
            "value": percent(figures["on_time_closure_rate"]),
        },
        {
            "key": "grid_share",
            "label": _("Settled at grid tier"),
            "value": percent(figures["grid_tier_share"]),
        },
        {
            "key": "satisfaction",
            "label": _("Satisfied (rating 4–5)"),
            "value": percent(figures["satisfaction_rate"]),
        },
        {
            "key": "closure",
            "label": _("Closure rate"),
            "value": percent(figures["closure_rate"]),
        },
        {
            "key": "average_rating",
            "label": _("Average rating"),
            "value": "–" if average is None else f"{average:.2f}",
        },
    ]
    context = {
        "title": _("Dashboard"),
        "where": where,
        "several": several_places(request),
        "form": form,
        "since": since,
        "until": until,
        "preset": preset,
        "presets": PRESETS[:-1],
        "figures": figures,
        "cards": cards,
        "cases_url": link("console:cases", query={"scope": where.code} if where.code else None),
        "charts": charts.dashboard_charts(where.scope, since, until, counts),
    }
    return render(request, "web/console/dashboard.html", context)

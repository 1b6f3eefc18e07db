"""Console pages of party organizations: the tree of the user's scope with branch life, an
organization's page (members with masked numbers, posts, life, meetings, activities; a joint
branch's villages with their combined figures), the talent pool search."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.orgs.models import Organization
from grassroots.orgs.overview import org_tree, year_range
from grassroots.orgs.selectors import organizations_for

FIRST_YEAR = 2000


def year_of(request: HttpRequest, today: datetime.date) -> int:
    """`?year=`: a year from FIRST_YEAR to this one; anything else is a 404."""
    raw = request.GET.get("year", "").strip()
    if not raw:
        return today.year
    if not raw.isdigit() or not FIRST_YEAR <= int(raw) <= today.year:
        raise Http404(_("No such year."))
    return int(raw)


@login_required
@permission_required("orgs.view_organization", raise_exception=True)
def tree(request: HttpRequest) -> HttpResponse:
    """The organizations the user sees, each under its parent, with the year's branch life."""
    today = timezone.localdate()
    year = year_of(request, today)
    since, until = year_range(year, today)
    orgs = organizations_for(request.user)
    kind = request.GET.get("kind", "")
    if kind in Organization.Kind.values:
        orgs = orgs.filter(kind=kind)
    else:
        kind = ""
    rows = org_tree(orgs, since, until, today)
    gaps_only = request.GET.get("gaps") == "1"
    if gaps_only:
        rows = [r for r in rows if r.missing or not r.has_secretary or r.conversions_overdue]
    context: dict[str, Any] = {
        "rows": rows,
        "year": year,
        "years": list(range(today.year, max(FIRST_YEAR, today.year - 5) - 1, -1)),
        "kind": kind,
        "kinds": Organization.Kind.choices,
        "gaps_only": gaps_only,
        "since": since,
        "until": until,
        "totals": {
            "orgs": len(rows),
            "members": sum(r.members for r in rows),
            "vacant": sum(1 for r in rows if not r.has_secretary),
            "missing": sum(1 for r in rows if r.missing),
        },
    }
    return render(request, "web/console/orgs_tree.html", context)

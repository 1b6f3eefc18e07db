"""Pages outside the admin: the home page and the coverage audit (格不漏户、户不漏人)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.roles import Role
from grassroots.core.admin_support import page_context
from grassroots.core.scoping import Scope
from grassroots.territory.models import Grid, Unit
from grassroots.territory.selectors import Place, child_places, places

from .coverage import PROBLEM_KEYS, PROBLEM_LABELS, coverage_report
from .models import CURRENT_RESIDENT, Household, Resident

# Which admin change page a coverage sample links to.
SAMPLE_ADMIN = {
    "household": "admin:registry_household_change",
    "resident": "admin:registry_resident_change",
    "grid": "admin:territory_grid_change",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Who you are, what your scope holds, and where to go from here."""
    user = request.user
    scope = Scope.for_user(user)
    counts = [
        (Unit._meta.verbose_name_plural, Unit.objects.visible_to(user).count()),
        (Grid._meta.verbose_name_plural, Grid.objects.visible_to(user).count()),
        (Household._meta.verbose_name_plural, Household.objects.visible_to(user).count()),
        (
            _("current residents"),
            Resident.objects.visible_to(user).filter(CURRENT_RESIDENT).count(),
        ),
    ]
    role = getattr(user, "role", "")
    roles = [Role(role).label] if role in Role.values else []
    if user.is_superuser:
        roles.insert(0, _("Superuser"))
    context = {
        **page_context(request, _("My scope")),
        "role_label": ", ".join(str(r) for r in roles) or _("none"),
        "everything": scope.is_everything,
        "scope_places": places(list(scope.codes or ())),
        "counts": counts,
        "can_view_coverage": user.has_perm("registry.view_coverage"),
    }
    return render(request, "registry/home.html", context)


@login_required
@permission_required("registry.view_coverage", raise_exception=True)
def coverage(request: HttpRequest) -> HttpResponse:
    """The coverage audit of the user's scope, or of one place in it (?scope=CODE)."""
    user = request.user
    scope = Scope.for_user(user)
    code = request.GET.get("scope", "").strip()
    place: Place | None = None
    if code:
        found = places([code])[0]
        visible = (
            Unit.objects.visible_to(user).filter(code=code).exists()
            or Grid.objects.visible_to(user).filter(code=code).exists()
        )
        if not visible:
            raise Http404(_("No such place in your scope."))
        scope, place = scope.narrow(code), found
    report = coverage_report(scope)
    problems = [
        {
            "key": key,
            "label": PROBLEM_LABELS[key],
            "count": report.counts[key],
            "samples": [(s.label, sample_url(s.model, s.pk)) for s in report.samples[key]],
        }
        for key in PROBLEM_KEYS
    ]
    if place is not None:
        below = child_places(user, place.code)
    elif scope.is_everything:
        below = [
            Place(c, n)
            for c, n in Unit.objects.filter(parent__isnull=True).values_list("code", "name")
        ]
    else:
        codes = list(scope.codes or ())
        below = places(codes) if len(codes) > 1 else child_places(user, codes[0]) if codes else []
    context = {
        **page_context(request, _("Coverage audit")),
        "place": place,
        "everything": scope.is_everything and place is None,
        "scope_places": places(list(scope.codes or ())) if place is None else [place],
        "report": report,
        "problems": problems,
        "below": below,
    }
    return render(request, "registry/coverage.html", context)


def sample_url(model: str, pk: int) -> str | None:
    try:
        return reverse(SAMPLE_ADMIN[model], args=[pk])
    except (KeyError, NoReverseMatch):
        return None

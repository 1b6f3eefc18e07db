"""Grid worker pages, phone first: my grids, households, one household, a report, my tasks.

Reads go through the registry and cases selectors (which start from `visible_to`), the report
through `cases.intake.case_report`; "overdue" is models.overdue_q (Case.overdue for one case): objects outside the user's scope answer 404, and ID and
phone numbers leave here masked only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.accounts.roles import Role
from grassroots.cases.deadlines import UNIT_TIER
from grassroots.cases.errors import CaseInputError
from grassroots.cases.intake import case_report
from grassroots.cases.models import Case, overdue_q
from grassroots.cases.selectors import cases_for, my_tasks
from grassroots.core.scoping import Scope
from grassroots.core.text import clean_text
from grassroots.registry.filters import HouseholdFilters
from grassroots.registry.models import CURRENT_RESIDENT, Household, Resident
from grassroots.registry.selectors import household_list, resident_list, tags_for
from grassroots.territory.models import Grid, Unit
from grassroots.web.paging import Sorting, sorted_page

from .forms import ReportForm, category_label

if TYPE_CHECKING:
    from grassroots.accounts.models import User

# Above this many grids in scope, the grid filter is a code box instead of a list.
GRID_CHOICES_LIMIT = 100
# The queues offered on the report form to someone who is not a grid worker.
UNIT_CHOICES_LIMIT = 200
SEARCH_MAX_LENGTH = 50
# Service error keys that have no field of their own on the form.
REPORT_ERROR_FIELDS = {"location": "unit", "media_url": "photos", "reporter_household": "household"}


def signed_in(request: HttpRequest) -> User:
    """The user of a view behind `login_required`."""
    return cast("User", request.user)


def case_url(tracking_code: str) -> str:
    """The shared case page (console:case); its literal address while that page is missing."""
    try:
        return reverse("console:case", args=[tracking_code])
    except NoReverseMatch:
        return f"/console/cases/{tracking_code}/"


def sort_options(sorting: Sorting, options: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The choices of a "sort by" select, the current one marked (phones get a select, not
    a table of sortable headers)."""
    current = f"{'-' if sorting.descending else ''}{sorting.key}"
    return [{"value": v, "label": label, "selected": v == current} for v, label in options]


def _count(rows: QuerySet[Any]) -> Coalesce:
    """How many of `rows` (filtered on OuterRef("code")): a correlated subquery, no GROUP BY."""
    counted = rows.order_by().values("scope_code").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _grid_param(request: HttpRequest) -> str:
    """`?grid=`: a grid code (a code outside the scope simply finds nothing)."""
    return clean_text(request.GET.get("grid", ""))[:15]


def _grid_choices(user: Any) -> list[tuple[str, str]] | None:
    """The grids to filter by, or None when there are too many for a list."""
    rows = list(
        Grid.objects.visible_to(user)
        .order_by("code")
        .values_list("code", "name")[: GRID_CHOICES_LIMIT + 1]
    )
    return None if len(rows) > GRID_CHOICES_LIMIT else rows


# --- My grids ----------------------------------------------------------------------------------


@login_required
@permission_required("territory.view_grid", raise_exception=True)
def home(request: HttpRequest) -> HttpResponse:
    """The grids of a grid worker (of anyone else: the grids in their scope), with counts."""
    user = signed_in(request)
    now = timezone.now()
    grids: QuerySet[Any] = (
        Grid.objects.visible_to(user)
        .select_related("unit")
        .defer("boundary")
        .annotate(
            household_count=_count(Household.objects.filter(scope_code=OuterRef("code"))),
            resident_count=_count(
                Resident.objects.filter(CURRENT_RESIDENT, scope_code=OuterRef("code"))
            ),
        )
    )
    sorts: dict[str, Sequence[str]] = {
        "code": ["code"],
        "name": ["name", "code"],
        "households": ["household_count"],
    }
    options = [
        ("code", _("Grid code")),
        ("name", _("Grid name")),
        ("-households", _("Most households")),
    ]
    see_cases = user.has_perm("cases.view_case")
    context: dict[str, Any] = {"see_cases": see_cases}
    if see_cases:
        open_cases = Case.objects.filter(is_open=True, scope_code=OuterRef("code"))
        grids = grids.annotate(
            open_count=_count(open_cases),
            overdue_count=_count(open_cases.filter(overdue_q(now))),
        )
        sorts.update(open=["open_count"], overdue=["overdue_count"])
        options += [("-open", _("Most open cases")), ("-overdue", _("Most overdue cases"))]
        tasks = my_tasks(user)
        context["task_count"] = tasks.count()
        context["overdue_task_count"] = tasks.filter(overdue_q(now)).count()
    context.update(sorted_page(request, grids, sorts, "code"))
    context["sort_options"] = sort_options(context["sorting"], options)
    context["is_worker"] = getattr(user, "role", "") == Role.GRID_WORKER
    context["title"] = _("My grids") if context["is_worker"] else _("Grids in my area")
    return render(request, "web/worker/home.html", context)


# --- Households --------------------------------------------------------------------------------

HOUSEHOLD_SORTS: dict[str, Sequence[str]] = {
    "code": ["code"],
    "address": ["address", "code"],
    "members": ["member_count"],
}


@login_required
@permission_required("registry.view_household", raise_exception=True)
def households(request: HttpRequest) -> HttpResponse:
    """Households in scope: search, a grid filter, sorting and pages; current members named.

    The filters are the API's (registry.filters.HouseholdFilters, the same names); one that
    does not parse finds nothing, like one naming a grid outside the scope.
    """
    user = signed_in(request)
    query = clean_text(request.GET.get("q", ""))[:SEARCH_MAX_LENGTH]
    grid = _grid_param(request)
    rows = household_list(user=user)
    try:
        given = {**request.GET.dict(), "q": query, "grid": grid}
        rows = HouseholdFilters.parse(given).filter(rows, user=user)
    except ValidationError:
        rows = rows.none()
    see_members = user.has_perm("registry.view_resident")
    if see_members:
        current = Resident.objects.filter(CURRENT_RESIDENT).only("name", "relation", "household")
        rows = rows.prefetch_related(
            Prefetch("members", queryset=current.order_by("name_key", "id"), to_attr="current")
        )
    context = sorted_page(request, rows, HOUSEHOLD_SORTS, "code")
    for household in context["page_obj"]:
        household.visible_tags = tags_for(user, household.tags)
        if see_members:
            # Head of household first.
            household.member_names = [
                r.name for r in sorted(household.current, key=lambda r: r.relation != "head")
            ]
    context.update(
        title=_("My households")
        if getattr(user, "role", "") == Role.GRID_WORKER
        else _("Households in my area"),
        query=query,
        grid=grid,
        grid_choices=_grid_choices(user),
        see_members=see_members,
        sort_options=sort_options(
            context["sorting"],
            [
                ("code", _("Household code")),
                ("address", _("Address")),
                ("-members", _("Most members")),
            ],
        ),
    )
    return render(request, "web/worker/households.html", context)


def _member(resident: Resident, user: Any) -> dict[str, Any]:
    """What the household page shows of a member: numbers masked, tags as the user may see."""
    return {
        "name": resident.name,
        "relation": resident.get_relation_display(),
        "residency": resident.get_residency_display(),
        "sex": resident.get_sex_display(),
        "age": resident.age,
        "id_number": resident.id_number_masked,
        "phone": resident.phone_masked,
        "tags": tags_for(user, resident.tags),
        "current": resident.is_current,
        "moved_out_on": resident.moved_out_on,
        "deceased_on": resident.deceased_on,
        "head": resident.relation == Resident.Relation.HEAD,
    }


@login_required
@permission_required("registry.view_household", raise_exception=True)
def household(request: HttpRequest, pk: int) -> HttpResponse:
    """One household in scope: its members (masked), tags, address and the cases it reported."""
    user = signed_in(request)
    found = get_object_or_404(household_list(user=user), pk=pk)
    context: dict[str, Any] = {
        "title": found.code,
        "household": found,
        "tags": tags_for(user, found.tags),
        "see_members": user.has_perm("registry.view_resident"),
        "see_cases": user.has_perm("cases.view_case"),
        "can_report": user.has_perm("cases.add_case"),
    }
    if context["see_members"]:
        members = [_member(r, user) for r in resident_list(user=user).filter(household=found)]
        members.sort(key=lambda m: (not m["current"], not m["head"]))
        context["members"] = members
    if context["see_cases"]:
        cases = cases_for(user).filter(reporter_household=found)
        context.update(
            sorted_page(
                request,
                cases,
                {"reported": ["reported_at"], "due": ["due_at"], "stage": ["stage"]},
                "-reported",
            )
        )
        for case in context["page_obj"]:
            _decorate(case)
        context["sort_options"] = sort_options(
            context["sorting"],
            [("-reported", _("Newest first")), ("reported", _("Oldest first")), ("due", _("Due"))],
        )
    return render(request, "web/worker/household.html", context)


# --- Report ------------------------------------------------------------------------------------


def _queue_units(user: Any) -> list[tuple[str, str]]:
    """The unit queues the user may send a case without a place to (as the API allows)."""
    if getattr(user, "role", "") == Role.GRID_WORKER:
        units: QuerySet[Unit] = Unit.objects.filter(grids__code__in=user.scope_codes()).distinct()
    else:
        units = Unit.objects.visible_to(user).filter(level__in=list(UNIT_TIER))
    rows = units.order_by("code").values_list("code", "name")[:UNIT_CHOICES_LIMIT]
    return [(code, f"{name} ({code})") for code, name in rows]


def _submit_report(request: HttpRequest, form: ReportForm) -> Case | None:
    """Report the case through the intake service; its errors go next to their fields."""
    user = signed_in(request)
    data = form.cleaned_data
    reporter_household = None
    if data["household"]:
        reporter_household = (
            Household.objects.visible_to(user).filter(code=clean_text(data["household"])).first()
        )
        if reporter_household is None:
            form.add_error("household", _("There is no household with this code in your area."))
            return None
    try:
        return case_report(
            actor=user,
            channel=Case.Channel.GRID_WORKER,
            category=data["category"],
            description=data["description"],
            urgent=data["urgent"],
            address=data["address"],
            lon=data["lon"],
            lat=data["lat"],
            unit=data["unit"] or None,
            reporter_household=reporter_household,
            photos=data["photos"],
        )
    except CaseInputError as exc:
        for key, errors in exc.message_dict.items():
            field = REPORT_ERROR_FIELDS.get(key, key)
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return None


@login_required
@permission_required("cases.add_case", raise_exception=True)
def report(request: HttpRequest) -> HttpResponse:
    """Report a case on patrol (channel grid_worker), optionally for a household in scope."""
    user = signed_in(request)
    units = _queue_units(user)
    for_household = None
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES, units=units)
        if form.is_valid():
            case = _submit_report(request, form)
            if case is not None:
                if Scope.for_user(user).contains(case.scope_code):
                    messages.success(
                        request,
                        _("Case %(code)s reported. Its deadline runs from now.")
                        % {"code": case.tracking_code},
                    )
                    return redirect(case_url(case.tracking_code))
                # A point in someone else's area: the case went there; say so, not what.
                messages.success(
                    request,
                    _("Case %(code)s reported. It lies outside your area and went to its grid.")
                    % {"code": case.tracking_code},
                )
                return redirect("worker:tasks")
    else:
        initial: dict[str, Any] = {}
        pk = request.GET.get("household", "")
        if pk.isdigit():
            for_household = get_object_or_404(Household.objects.visible_to(user), pk=int(pk))
            initial.update(household=for_household.code, address=for_household.address)
        if len(units) == 1:
            initial["unit"] = units[0][0]
        form = ReportForm(initial=initial, units=units)
    context = {"title": _("Report a case"), "form": form, "for_household": for_household}
    return render(request, "web/worker/report.html", context)


# --- My tasks ----------------------------------------------------------------------------------

TASK_SORTS: dict[str, Sequence[str]] = {
    "due": ["-is_open", "due_at"],
    "reported": ["reported_at"],
    "code": ["tracking_code"],
}


def _my_cases(user: Any) -> QuerySet[Case]:
    """The rule of `my_tasks` without its open filter: the task list's "all" view."""
    mine = Q(assignee=user)
    if getattr(user, "role", "") == Role.GRID_WORKER:
        mine |= Q(assignee__isnull=True, scope_code__in=user.scope_codes())
    return cases_for(user).filter(mine)


def _decorate(case: Case) -> None:
    """What the case lists show beyond the row (whether it is overdue: Case.overdue): its page
    and its category's label."""
    case.url = case_url(case.tracking_code)  # type: ignore[attr-defined]
    case.category_label = category_label(case.category)  # type: ignore[attr-defined]


@login_required
@permission_required("cases.view_case", raise_exception=True)
def tasks(request: HttpRequest) -> HttpResponse:
    """Open cases for me (assigned, or waiting in my grids): overdue first, then by deadline."""
    user = signed_in(request)
    show = "all" if request.GET.get("show") == "all" else "open"
    rows = my_tasks(user) if show == "open" else _my_cases(user)
    grid = _grid_param(request)
    if grid:
        rows = rows.filter(scope_code=grid)
    context = sorted_page(request, rows, TASK_SORTS, "due")
    for case in context["page_obj"]:
        _decorate(case)
    context.update(
        title=_("My tasks"),
        show=show,
        grid=grid,
        grid_choices=_grid_choices(user),
        sort_options=sort_options(
            context["sorting"],
            [
                ("due", _("Overdue first, then by deadline")),
                ("-reported", _("Newest first")),
                ("reported", _("Oldest first")),
            ],
        ),
    )
    return render(request, "web/worker/tasks.html", context)

"""Console pages of the shared work of joint branches and alliances: the shared resources, a
resource with its bookings ahead and a booking form (a clash is refused naming its times), the
joint projects with their progress, a project with its milestones, income by year and the
households taking part. Reads through orgs.shared's selectors, writes through its services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.orgs.models import Booking, Project, Resource
from grassroots.orgs.shared import (
    bookable_for,
    booking_cancel,
    booking_create,
    bookings_ahead,
    cancellable,
    income_record,
    may_manage,
    milestone_add,
    milestone_done,
    project_facts,
    projects_for,
    resource_pool,
    resources_for,
)
from grassroots.web.paging import sorted_page

from .orgs_shared_forms import BookingForm, DoneForm, IncomeForm, MilestoneForm

RESOURCE_SORTS: dict[str, Sequence[str]] = {
    "kind": ["kind", "name"],
    "name": ["name"],
    "next": ["next_booking"],
}
PROJECT_SORTS: dict[str, Sequence[str]] = {
    "started": ["started_on"],
    "name": ["name"],
    "investment": ["investment_yuan"],
    "overdue": ["milestones_overdue"],
}


def _user(request: HttpRequest) -> User:
    """The signed-in user (the pages are behind login_required)."""
    user = request.user
    assert isinstance(user, User)
    return user


@login_required
@permission_required("orgs.view_resource", raise_exception=True)
def resources(request: HttpRequest) -> HttpResponse:
    """The venues, machinery and funds shared in the user's scope, with their next booking."""
    rows = resources_for(request.user)
    kind = request.GET.get("kind", "")
    if kind in Resource.Kind.values:
        rows = rows.filter(kind=kind)
    else:
        kind = ""
    context = {
        **sorted_page(request, rows, RESOURCE_SORTS, "kind"),
        "kind": kind,
        "kinds": Resource.Kind.choices,
    }
    return render(request, "web/console/orgs_resources.html", context)


def _resource_page(
    request: HttpRequest, resource: Resource, form: BookingForm | None, status: int = 200
) -> HttpResponse:
    ahead = list(bookings_ahead(resource))
    context = {
        "resource": resource,
        "pool": resource_pool(resource).order_by("code"),
        "bookings": ahead,
        "cancellable": cancellable(request.user, resource, ahead),
        "form": form,
        "clash": form is not None and bool(form.errors.get("starts_at")),
    }
    return render(request, "web/console/orgs_resource.html", context, status=status)


@login_required
@permission_required("orgs.view_resource", raise_exception=True)
def resource(request: HttpRequest, pk: int) -> HttpResponse:
    """A resource: who shares it, its bookings ahead, and booking it (POST `book`) or
    cancelling a booking (POST `cancel` with the booking's id)."""
    row = get_object_or_404(resources_for(request.user), pk=pk)
    organizations = bookable_for(request.user, row)
    form = BookingForm(organizations=organizations) if organizations else None
    if request.method != "POST":
        return _resource_page(request, row, form)
    if "cancel" in request.POST:
        return _cancel(request, row)
    if form is None:
        raise PermissionDenied(_("You may not book this resource."))
    form = BookingForm(request.POST, organizations=organizations)
    if form.is_valid():
        try:
            booking = booking_create(
                actor=_user(request),
                resource=row,
                organization=form.cleaned_data["organization"],
                data=form.data_for_service(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            messages.success(
                request,
                _("Booked from %(start)s until %(end)s.")
                % {
                    "start": timezone.localtime(booking.starts_at).strftime("%Y-%m-%d %H:%M"),
                    "end": timezone.localtime(booking.ends_at).strftime("%Y-%m-%d %H:%M"),
                },
            )
            return redirect("console:org_resource", pk=row.pk)
    return _resource_page(request, row, form, status=400)


def _cancel(request: HttpRequest, row: Resource) -> HttpResponse:
    raw = request.POST.get("cancel", "")
    if not raw.isdigit():
        raise Http404(_("No such booking."))
    booking = get_object_or_404(Booking.objects.filter(resource=row), pk=int(raw))
    try:
        booking_cancel(actor=_user(request), booking=booking)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The booking is cancelled."))
    return redirect("console:org_resource", pk=row.pk)


@login_required
@permission_required("orgs.view_project", raise_exception=True)
def projects(request: HttpRequest) -> HttpResponse:
    """The joint projects in the user's scope with their progress and overdue milestones."""
    rows = projects_for(request.user)
    industry = request.GET.get("industry", "")
    if industry in Project.Industry.values:
        rows = rows.filter(industry=industry)
    else:
        industry = ""
    context = {
        **sorted_page(request, rows, PROJECT_SORTS, "-started"),
        "industry": industry,
        "industries": Project.Industry.choices,
        "totals": rows.aggregate(investment=Sum("investment_yuan")),
    }
    return render(request, "web/console/orgs_projects.html", context)


# The forms of a project's page, by the value of the `form` button that sends each.
PROJECT_FORMS = {"milestone": MilestoneForm, "done": DoneForm, "income": IncomeForm}


@login_required
@permission_required("orgs.view_project", raise_exception=True)
def project(request: HttpRequest, pk: int) -> HttpResponse:
    """A project: progress, milestones (overdue ones marked), income by year, households
    taking part; for whoever edits it, forms to add a milestone, mark one done and record a
    year's income (POST `form`: milestone, done or income)."""
    row = get_object_or_404(projects_for(request.user), pk=pk)
    editor = may_manage(request.user, row.organization, "orgs.change_project")
    forms: dict[str, Any] = {name: cls() for name, cls in PROJECT_FORMS.items()} if editor else {}
    status = 200
    if request.method == "POST":
        if not editor:
            raise PermissionDenied(_("You may not change this project."))
        name = request.POST.get("form", "")
        if name not in PROJECT_FORMS:
            return redirect("console:org_project", pk=row.pk)
        form = PROJECT_FORMS[name](request.POST)
        forms[name] = form
        if form.is_valid():
            try:
                message = _write(request, row, name, form.cleaned_data)
            except ValidationError as exc:
                form.add_service_errors(exc.message_dict)
            else:
                messages.success(request, message)
                return redirect("console:org_project", pk=row.pk)
        status = 400
    facts = project_facts(row)
    context = {
        "project": row,
        "facts": facts,
        "percent": round((facts.progress or 0) * 100),
        "editor": editor,
        "forms": forms,
        "incomes": [
            {"row": i, "total": i.collective_yuan + i.households_yuan} for i in facts.incomes
        ],
    }
    return render(request, "web/console/orgs_project.html", context, status=status)


def _write(request: HttpRequest, row: Project, name: str, data: dict[str, Any]) -> str:
    """Run the service a project form stands for; the message to show once done."""
    if name == "milestone":
        milestone = milestone_add(actor=_user(request), project=row, data=data)
        return _("Milestone “%(title)s” added.") % {"title": milestone.title}
    if name == "done":
        milestone = get_object_or_404(row.milestones.all(), pk=data["milestone"])
        milestone_done(actor=_user(request), milestone=milestone, done_on=data["done_on"])
        return _("Milestone “%(title)s” done.") % {"title": milestone.title}
    income = income_record(actor=_user(request), project=row, **data)
    return _("Income of %(year)s recorded.") % {"year": income.year}

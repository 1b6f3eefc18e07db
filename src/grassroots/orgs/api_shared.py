"""API of the shared work of joint branches and alliances under /orgs/: shared resources and
their bookings, joint industry projects with milestones, income by year and progress.

Handlers check the role's permission first (403), then find rows through `visible_to` (one
outside the caller's scope answers 404 like one that does not exist), and write through
orgs.shared, which checks who may write and audits every write.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import AwareDatetime, WithJsonSchema

from grassroots.core.api_support import (
    SOME_TEXT_PATTERN,
    Page,
    PageQuery,
    TextFilter,
    filter_field,
    paginate,
    require_perm,
    responses,
)

from .models import Alliance, Booking, Milestone, Organization, Project, ProjectIncome, Resource
from .selectors import organizations_for
from .shared import (
    booking_cancel,
    booking_create,
    bookings_ahead,
    income_record,
    is_overdue,
    milestone_add,
    progress,
    project_facts,
    projects_for,
    resource_pool,
    resources_for,
)

# Resource.Kind is named Kind like Grid.Kind: without a name of its own the OpenAPI document
# would describe the grids' kind with the resources' values (schemathesis found it).
ResourceKind = Annotated[
    Resource.Kind,
    WithJsonSchema({"title": "ResourceKind", "type": "string", "enum": list(Resource.Kind.values)}),
]


router = Router(tags=["orgs"])

_RESOURCE_SCOPE = (
    " Requires orgs.view_resource; you see the resources of the organizations and alliances "
    "you see."
)
_PROJECT_SCOPE = (
    " Requires orgs.view_project; you see the projects of the organizations and alliances you see."
)


# --- Schemas -------------------------------------------------------------------------------------


class SharedOrgRef(Schema):
    code: str
    name: str


class ResourceOut(Schema):
    id: int
    kind: ResourceKind = Field(description="venue, machinery or fund.")
    name: str
    description: str
    amount_yuan: decimal.Decimal | None = Field(description="A fund's amount, in yuan.")
    organization: SharedOrgRef = Field(description="The organization owning it.")
    alliance: SharedOrgRef | None = Field(
        description="The alliance (联建) sharing it; null: shared with the joint branch's pool."
    )


class ResourceDetailOut(ResourceOut):
    pool: list[SharedOrgRef] = Field(description="The organizations that may book it.")
    bookings_ahead: int = Field(description="Bookings that have not ended.")


class ResourcePage(Page):
    items: list[ResourceOut]


class BookingOut(Schema):
    id: int
    resource_id: int
    organization: SharedOrgRef = Field(description="The organization it is booked for.")
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    purpose: str
    created_at: datetime.datetime


class BookingPage(Page):
    items: list[BookingOut]


class BookingIn(Schema):
    organization: str = Field(
        max_length=32, description="Code of the organization booking it: one of the pool."
    )
    starts_at: AwareDatetime = Field(description="With its offset: 2026-05-01T09:00:00+08:00.")
    ends_at: AwareDatetime = Field(description="After starts_at.")
    purpose: str = Field(max_length=200, pattern=SOME_TEXT_PATTERN)


class BookingFilters(Schema):
    since: AwareDatetime | None = Field(
        None, description="Bookings ending after this moment; default now (those ahead)."
    )


class ProjectOut(Schema):
    id: int
    name: str
    industry: Project.Industry = Field(
        description="tea, aquaculture, fungi (edible fungi), fruit, tourism (rural) or other."
    )
    investment_yuan: decimal.Decimal
    started_on: datetime.date
    organization: SharedOrgRef = Field(description="The organization leading it.")
    alliance: SharedOrgRef | None
    progress: float | None = Field(
        ge=0, le=1, description="Milestones done over all of them; null without milestones."
    )
    milestones: int
    milestones_done: int
    milestones_overdue: int = Field(description="Due before today and not done.")
    households: int = Field(description="Households taking part.")


class ProjectPage(Page):
    items: list[ProjectOut]


class MilestoneOut(Schema):
    id: int
    title: str
    due_on: datetime.date
    done_on: datetime.date | None
    overdue: bool = Field(description="Due before today and not done.")


class IncomeOut(Schema):
    year: int
    collective_yuan: decimal.Decimal = Field(description="The collective's income (村集体).")
    households_yuan: decimal.Decimal = Field(description="The households' income taking part.")


class ProjectDetailOut(Schema):
    id: int
    name: str
    industry: Project.Industry
    investment_yuan: decimal.Decimal
    started_on: datetime.date
    description: str
    organization: SharedOrgRef
    alliance: SharedOrgRef | None
    organizations: list[SharedOrgRef] = Field(description="The organizations taking part.")
    progress: float | None = Field(ge=0, le=1)
    households: int = Field(description="Households taking part.")
    milestones: list[MilestoneOut]
    incomes: list[IncomeOut] = Field(description="By year, oldest first.")


class ProjectFilters(Schema):
    industry: Project.Industry | None = Field(None, description="Only projects of this industry.")
    org: TextFilter = filter_field(
        "An organization's code: the projects it leads or takes part in."
    )


class ResourceFilters(Schema):
    kind: ResourceKind | None = Field(None, description="Only resources of this kind.")
    org: TextFilter = filter_field("An organization's code: the resources it owns.")


class MilestoneIn(Schema):
    title: str = Field(max_length=200, pattern=SOME_TEXT_PATTERN)
    due_on: datetime.date


# Money in a body: yuan as a string with at most two decimals ("36000.50"), never a float.
YUAN_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"


class IncomeIn(Schema):
    year: int = Field(ge=2000, le=2100, description="From the year the project started.")
    collective_yuan: str = Field(
        pattern=YUAN_PATTERN, description="The collective's income in yuan, as a string (36000.50)."
    )
    households_yuan: str = Field(
        pattern=YUAN_PATTERN, description="The households' income in yuan."
    )


# --- Rendering -----------------------------------------------------------------------------------


def ref(row: Organization | Alliance | None) -> dict[str, str] | None:
    return {"code": row.code, "name": row.name} if row is not None else None


def resource_out(resource: Resource) -> dict[str, Any]:
    return {
        "id": resource.pk,
        "kind": resource.kind,
        "name": resource.name,
        "description": resource.description,
        "amount_yuan": resource.amount_yuan,
        "organization": ref(resource.organization),
        "alliance": ref(resource.alliance),
    }


def booking_out(booking: Booking) -> dict[str, Any]:
    return {
        "id": booking.pk,
        "resource_id": booking.resource_id,
        "organization": ref(booking.organization),
        "starts_at": booking.starts_at,
        "ends_at": booking.ends_at,
        "purpose": booking.purpose,
        "created_at": booking.created_at,
    }


def project_out(project: Any) -> dict[str, Any]:
    """A project of shared.projects_for (with its counts)."""
    return {
        "id": project.pk,
        "name": project.name,
        "industry": project.industry,
        "investment_yuan": project.investment_yuan,
        "started_on": project.started_on,
        "organization": ref(project.organization),
        "alliance": ref(project.alliance),
        "progress": progress(project.milestones_done, project.milestones_total),
        "milestones": project.milestones_total,
        "milestones_done": project.milestones_done,
        "milestones_overdue": project.milestones_overdue,
        "households": project.households_count,
    }


def milestone_out(milestone: Milestone, overdue: bool) -> dict[str, Any]:
    return {
        "id": milestone.pk,
        "title": milestone.title,
        "due_on": milestone.due_on,
        "done_on": milestone.done_on,
        "overdue": overdue,
    }


def income_out(income: ProjectIncome) -> dict[str, Any]:
    return {
        "year": income.year,
        "collective_yuan": income.collective_yuan,
        "households_yuan": income.households_yuan,
    }


def project_detail(project: Project) -> dict[str, Any]:
    facts = project_facts(project)
    return {
        "id": project.pk,
        "name": project.name,
        "industry": project.industry,
        "investment_yuan": project.investment_yuan,
        "started_on": project.started_on,
        "description": project.description,
        "organization": ref(project.organization),
        "alliance": ref(project.alliance),
        "organizations": [ref(o) for o in facts.organizations],
        "progress": facts.progress,
        "households": facts.households,
        "milestones": [milestone_out(row.milestone, row.overdue) for row in facts.milestones],
        "incomes": [income_out(income) for income in facts.incomes],
    }


def _refused(exc: PermissionDenied) -> HttpError:
    return HttpError(403, str(exc) or "You may not do this.")


# --- Resources and bookings ----------------------------------------------------------------------


@router.get(
    "/orgs/resources",
    response=responses(ResourcePage),
    operation_id="listSharedResources",
    summary="List shared resources",
    description="Venues, machinery and funds shared by joint branches and alliances, by kind "
    "and name." + _RESOURCE_SCOPE,
)
def list_resources(
    request: HttpRequest, filters: Query[ResourceFilters], paging: Query[PageQuery]
) -> dict[str, Any]:
    user = require_perm(request, "orgs.view_resource")
    rows = resources_for(user)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.org:
        rows = rows.filter(organization__in=organizations_for(user).filter(code=filters.org))
    page = paginate(rows.order_by("kind", "name", "pk"), paging)
    page["items"] = [resource_out(r) for r in page["items"]]
    return page


def _resource(request: HttpRequest, resource_id: int, *perms: str) -> tuple[Any, Resource]:
    user = require_perm(request, "orgs.view_resource", *perms)
    return user, get_object_or_404(resources_for(user), pk=resource_id)


@router.get(
    "/orgs/resources/{resource_id}",
    response=responses(ResourceDetailOut),
    operation_id="getSharedResource",
    summary="Get a shared resource",
    description="One resource with the organizations that may book it; 404 outside your scope."
    + _RESOURCE_SCOPE,
)
def get_resource(request: HttpRequest, resource_id: int) -> dict[str, Any]:
    _user, resource = _resource(request, resource_id)
    return {
        **resource_out(resource),
        "pool": [ref(o) for o in resource_pool(resource).order_by("code")],
        "bookings_ahead": bookings_ahead(resource).count(),
    }


@router.get(
    "/orgs/resources/{resource_id}/bookings",
    response=responses(BookingPage),
    operation_id="listResourceBookings",
    summary="List a resource's bookings",
    description="The bookings of a resource ending after `since` (default: those ahead), "
    "soonest first." + _RESOURCE_SCOPE,
)
def list_bookings(
    request: HttpRequest,
    resource_id: int,
    filters: Query[BookingFilters],
    paging: Query[PageQuery],
) -> dict[str, Any]:
    _user, resource = _resource(request, resource_id, "orgs.view_booking")
    page = paginate(bookings_ahead(resource, filters.since), paging)
    page["items"] = [booking_out(b) for b in page["items"]]
    return page


@router.post(
    "/orgs/resources/{resource_id}/bookings",
    response=responses(BookingOut),
    operation_id="bookSharedResource",
    summary="Book a shared resource",
    description="Books the resource for an organization of its pool. 422 when it overlaps "
    "another booking (the message names that booking's times; one may end when the next "
    "begins) or the organization does not share the resource. Requires orgs.add_booking: "
    "the town and the county over the resource's organization, and the secretary of a village "
    "that it or the booking organization serves. Recorded in the audit trail." + _RESOURCE_SCOPE,
)
def book_resource(request: HttpRequest, resource_id: int, body: BookingIn) -> dict[str, Any]:
    user, resource = _resource(request, resource_id, "orgs.add_booking")
    org = resource_pool(resource).filter(code=body.organization).first()
    if org is None:
        # Said the same whether the code exists elsewhere or not at all.
        raise ValidationError(
            {"organization": [f"{body.organization} does not share this resource"]}
        )
    try:
        booking = booking_create(
            actor=user,
            resource=resource,
            organization=org,
            data={"starts_at": body.starts_at, "ends_at": body.ends_at, "purpose": body.purpose},
        )
    except PermissionDenied as exc:
        raise _refused(exc) from None
    return booking_out(booking)


@router.delete(
    "/orgs/bookings/{booking_id}",
    response=responses(BookingOut),
    operation_id="cancelBooking",
    summary="Cancel a booking",
    description="Cancels a booking that has not ended (422 for one that has: it stays on "
    "record); answers the booking as it was. Requires orgs.add_booking: whoever made it or "
    "may book for its organization. Recorded in the audit trail." + _RESOURCE_SCOPE,
)
def cancel_booking(request: HttpRequest, booking_id: int) -> dict[str, Any]:
    user = require_perm(request, "orgs.view_booking", "orgs.add_booking")
    rows = Booking.objects.visible_to(user).select_related("resource__organization", "organization")
    booking = get_object_or_404(rows, pk=booking_id)
    data = booking_out(booking)
    try:
        booking_cancel(actor=user, booking=booking)
    except PermissionDenied as exc:
        raise _refused(exc) from None
    return data


# --- Projects ------------------------------------------------------------------------------------


@router.get(
    "/orgs/projects",
    response=responses(ProjectPage),
    operation_id="listJointProjects",
    summary="List joint projects",
    description="Joint industry projects (tea, aquaculture, edible fungi, fruit, rural tourism) "
    "with their progress, newest first." + _PROJECT_SCOPE,
)
def list_projects(
    request: HttpRequest, filters: Query[ProjectFilters], paging: Query[PageQuery]
) -> dict[str, Any]:
    user = require_perm(request, "orgs.view_project")
    rows = projects_for(user)
    if filters.industry:
        rows = rows.filter(industry=filters.industry)
    if filters.org:
        orgs = organizations_for(user).filter(code=filters.org)
        rows = rows.filter(pk__in=Project.objects.filter(organizations__in=orgs).values("pk"))
    page = paginate(rows.order_by("-started_on", "pk"), paging)
    page["items"] = [project_out(p) for p in page["items"]]
    return page


def _project(request: HttpRequest, project_id: int, *perms: str) -> tuple[Any, Project]:
    user = require_perm(request, "orgs.view_project", *perms)
    return user, get_object_or_404(projects_for(user), pk=project_id)


@router.get(
    "/orgs/projects/{project_id}",
    response=responses(ProjectDetailOut),
    operation_id="getJointProject",
    summary="Get a joint project",
    description="One project with its milestones (overdue: due before today, not done), income "
    "by year, progress and the number of households taking part; 404 outside your scope."
    + _PROJECT_SCOPE,
)
def get_project(request: HttpRequest, project_id: int) -> dict[str, Any]:
    _user, project = _project(request, project_id)
    return project_detail(project)


@router.post(
    "/orgs/projects/{project_id}/milestones",
    response=responses(MilestoneOut),
    operation_id="addProjectMilestone",
    summary="Add a milestone to a project",
    description="A milestone with its due date. Requires orgs.change_project: the town or the "
    "county over the organization leading the project. Recorded in the audit trail."
    + _PROJECT_SCOPE,
)
def add_milestone(request: HttpRequest, project_id: int, body: MilestoneIn) -> dict[str, Any]:
    user, project = _project(request, project_id, "orgs.change_project")
    try:
        milestone = milestone_add(
            actor=user, project=project, data={"title": body.title, "due_on": body.due_on}
        )
    except PermissionDenied as exc:
        raise _refused(exc) from None
    return milestone_out(milestone, is_overdue(milestone))


@router.post(
    "/orgs/projects/{project_id}/incomes",
    response=responses(IncomeOut),
    operation_id="recordProjectIncome",
    summary="Record a project's income for a year",
    description="The collective's and the households' income from the project in a year, from "
    "the year it started to this one (422 otherwise); a year recorded again is replaced. "
    "Requires orgs.change_project, as for milestones. Recorded in the audit trail."
    + _PROJECT_SCOPE,
)
def record_income(request: HttpRequest, project_id: int, body: IncomeIn) -> dict[str, Any]:
    user, project = _project(request, project_id, "orgs.change_project")
    try:
        income = income_record(
            actor=user,
            project=project,
            year=body.year,
            collective_yuan=decimal.Decimal(body.collective_yuan),
            households_yuan=decimal.Decimal(body.households_yuan),
        )
    except PermissionDenied as exc:
        raise _refused(exc) from None
    return income_out(income)

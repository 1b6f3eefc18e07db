"""Shared resources with their bookings, and joint industry projects, of a joint branch
(联合党支部) or an alliance (联建): the writes, each audited in its transaction, and the reads of
the pages and the API.

Who writes:
- a resource or a project: whoever edits the organization that owns or leads it (the town above
  all its units, or the county: selectors.may_edit), with the role's permission
  (orgs.add_/change_resource, orgs.add_/change_project);
- a booking: with orgs.add_booking, whoever edits the resource's organization, or speaks for
  the booking organization (edits it, or is the secretary of a village or community it serves);
  it is cancelled by the same, or by who made it. The booking organization is one of the
  resource's pool (selectors.pool_organizations: a joint branch and
  the organizations of its villages, or an alliance's organizations). Bookings of one resource
  never overlap: the resource's row is locked while the clash is looked for.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.audit.models import Event
from grassroots.registry.models import Household

from .models import (
    Alliance,
    Booking,
    Milestone,
    Organization,
    OrganizationUnit,
    Project,
    ProjectIncome,
    Resource,
)
from .selectors import may_edit, pool_organizations

if TYPE_CHECKING:
    from grassroots.accounts.models import User

RESOURCE_FIELDS = ("kind", "name", "description", "amount_yuan")
BOOKING_FIELDS = ("starts_at", "ends_at", "purpose")
PROJECT_FIELDS = ("name", "industry", "investment_yuan", "started_on", "description")
MILESTONE_FIELDS = ("title", "due_on")
# Incomes are recorded for years from this one on (a project started earlier is older than the
# county's records).
FIRST_INCOME_YEAR = 2000


# --- Who may do what ---------------------------------------------------------------------------


def _served(org: Organization) -> list[str]:
    return sorted(org.served.values_list("unit_code", flat=True))


def _trusted(user: User | Any) -> bool:
    """Commands and the demo (no user) and superusers pass every check."""
    return user is None or bool(getattr(user, "is_superuser", False))


def may_manage(user: User | Any, organization: Organization, perm: str) -> bool:
    """Whether `user` may write the resources or projects `organization` owns or leads (`perm`:
    orgs.add_resource, orgs.change_project, ...): whoever edits the organization."""
    if _trusted(user):
        return True
    return bool(user.has_perm(perm)) and may_edit(user, _served(organization))


def _speaks_for(user: User | Any, organization: Organization) -> bool:
    """`user` edits `organization`, or is the secretary of a village or community it serves
    (their scope is one of its units)."""
    codes = _served(organization)
    if may_edit(user, codes):
        return True
    return any(code in codes for code in user.scope_codes())


def may_book(user: User | Any, resource: Resource, organization: Organization) -> bool:
    """Whether `user` may book `resource` for `organization`, or cancel its booking: with
    orgs.add_booking, whoever edits the resource's organization (the town, the county), or
    speaks for the booking organization (a village's secretary for the organizations serving
    their village). Whether the organization shares the resource is checked apart."""
    if _trusted(user):
        return True
    if not user.has_perm("orgs.add_booking"):
        return False
    return may_edit(user, _served(resource.organization)) or _speaks_for(user, organization)


def resource_pool(resource: Resource) -> QuerySet[Organization]:
    """The organizations that may book `resource`: its alliance's, else its organization's
    joint-branch pool."""
    return pool_organizations(resource.alliance or resource.organization)


# --- Helpers -----------------------------------------------------------------------------------


def _full_clean(obj: models.Model, errors: dict[str, list[str]], exclude: Sequence[str]) -> None:
    try:
        obj.full_clean(exclude=list(exclude), validate_constraints=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)


def _not_negative(obj: Any, names: Sequence[str], errors: dict[str, list[str]]) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, decimal.Decimal | int | float) and value < 0:
            errors.setdefault(name, []).append(_("an amount is not negative"))


def _owner(
    organization: Organization, alliance: Alliance | None, errors: dict[str, list[str]]
) -> None:
    if alliance is not None and not alliance.organizations.filter(pk=organization.pk).exists():
        errors.setdefault("alliance", []).append(_("the organization is not part of this alliance"))


def _created(obj: models.Model, extra: Mapping[str, Any] | None = None) -> None:
    changes = {k: [None, v] for k, v in audit.snapshot(obj).items() if v not in (None, "")}
    changes.update(extra or {})
    audit.changed(obj, changes, action=Event.Action.CREATE)


def _record_part(action: str, obj: models.Model, project: Project, changes: Any) -> None:
    """An event for a milestone or an income, in the territory of its project."""
    audit.record(
        action,
        object_type=audit.object_type(obj),
        object_id=obj.pk,
        object_repr=f"{project.name}: {obj}",
        scope_code=project.audit_scope,
        changes=changes,
    )


def _local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


# --- Resources ---------------------------------------------------------------------------------


def _check_resource(resource: Resource) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    _full_clean(resource, errors, exclude=["organization", "alliance"])
    _not_negative(resource, ["amount_yuan"], errors)
    if resource.kind == Resource.Kind.FUND and resource.amount_yuan is None:
        errors.setdefault("amount_yuan", []).append(_("give the amount of a fund"))
    return errors


def resource_create(
    *,
    actor: User | None,
    organization: Organization,
    data: Mapping[str, Any],
    alliance: Alliance | None = None,
) -> Resource:
    """A shared resource (kind, name, description, amount_yuan) owned by `organization`, shared
    with its joint-branch pool, or with `alliance` (of which the organization is part)."""
    if not may_manage(actor, organization, "orgs.add_resource"):
        raise PermissionDenied(_("You may not add resources to this organization."))
    resource = Resource(organization=organization, alliance=alliance)
    for name in RESOURCE_FIELDS:
        if name in data:
            setattr(resource, name, data[name])
    errors = _check_resource(resource)
    _owner(organization, alliance, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        resource.save()
        _created(resource)
    return resource


def resource_update(*, actor: User | None, resource: Resource, data: Mapping[str, Any]) -> Resource:
    """Change a resource's RESOURCE_FIELDS (those given in `data`)."""
    if not may_manage(actor, resource.organization, "orgs.change_resource"):
        raise PermissionDenied(_("You may not change this resource."))
    with transaction.atomic():
        row = Resource.objects.select_for_update().get(pk=resource.pk)
        before = audit.snapshot(row)
        for name in RESOURCE_FIELDS:
            if name in data:
                setattr(row, name, data[name])
        errors = _check_resource(row)
        if errors:
            raise ValidationError(errors)
        row.save()
        audit.updated(row, before)
    return row


# --- Bookings ----------------------------------------------------------------------------------


def clash(resource: Resource, starts_at: Any, ends_at: Any, *, exclude: int | None = None) -> Any:
    """The first booking of `resource` overlapping [starts_at, ends_at), or None. Touching
    edges do not overlap: one booking may end when the next begins."""
    rows = Booking.objects.filter(resource=resource, starts_at__lt=ends_at, ends_at__gt=starts_at)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.select_related("organization").order_by("starts_at", "pk").first()


def booking_create(
    *,
    actor: User | None,
    resource: Resource,
    organization: Organization,
    data: Mapping[str, Any],
) -> Booking:
    """Book `resource` for `organization` (one of its pool) from `starts_at` until `ends_at`
    for a `purpose`. Refused when it overlaps another booking: the message names that
    booking's times."""
    if not may_book(actor, resource, organization):
        raise PermissionDenied(_("You may not book this resource."))
    booking = Booking(resource=resource, organization=organization)
    if actor is not None and getattr(actor, "pk", None):
        booking.created_by = actor
    for name in BOOKING_FIELDS:
        if name in data:
            setattr(booking, name, data[name])
    errors: dict[str, list[str]] = {}
    _full_clean(booking, errors, exclude=["resource", "organization", "created_by"])
    if booking.starts_at and booking.ends_at and booking.ends_at <= booking.starts_at:
        errors.setdefault("ends_at", []).append(_("a booking ends after it starts"))
    if not resource_pool(resource).filter(pk=organization.pk).exists():
        errors.setdefault("organization", []).append(
            _("%(org)s does not share this resource") % {"org": organization.name}
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # One booking of a resource at a time is checked and written: a second request for
        # the same resource waits here until the first has committed, then sees its booking.
        Resource.objects.select_for_update().get(pk=resource.pk)
        other = clash(resource, booking.starts_at, booking.ends_at)
        if other is not None:
            raise ValidationError(
                {
                    "starts_at": [
                        _("%(org)s has booked it from %(start)s until %(end)s")
                        % {
                            "org": other.organization.name,
                            "start": _local(other.starts_at),
                            "end": _local(other.ends_at),
                        }
                    ]
                }
            )
        booking.save()
        _created(booking)
    return booking


def bookable_for(user: User | Any, resource: Resource) -> list[Organization]:
    """The organizations of the resource's pool that `user` may book it for."""
    if not _trusted(user) and not user.has_perm("orgs.add_booking"):
        return []
    pool = list(resource_pool(resource).order_by("code"))
    if _trusted(user) or may_edit(user, _served(resource.organization)):
        return pool
    return [org for org in pool if _speaks_for(user, org)]


def cancellable(user: User | Any, resource: Resource, bookings: Sequence[Booking]) -> set[int]:
    """Which of the resource's `bookings` `user` may cancel: those they made, and those of an
    organization they may book for."""
    if not _trusted(user) and not user.has_perm("orgs.add_booking"):
        return set()
    orgs = {org.pk for org in bookable_for(user, resource)}
    mine = getattr(user, "pk", None)
    return {
        b.pk
        for b in bookings
        if b.organization_id in orgs or (mine is not None and b.created_by_id == mine)
    }


def may_cancel(user: User | Any, booking: Booking) -> bool:
    return booking.pk in cancellable(user, booking.resource, [booking])


def booking_cancel(*, actor: User | None, booking: Booking) -> None:
    """Cancel a booking that has not ended yet (one that has stays on record): its booker, or
    whoever may book for its organization."""
    if not may_cancel(actor, booking):
        raise PermissionDenied(_("You may not cancel this booking."))
    if booking.ends_at <= timezone.now():
        raise ValidationError({"booking": [_("a booking that has ended stays on record")]})
    with transaction.atomic():
        audit.deleted(booking)
        booking.delete()


# --- Projects ----------------------------------------------------------------------------------


def households_outside(
    households: Sequence[Household], organizations: Sequence[Organization]
) -> list[Household]:
    """The households that lie in none of the units the organizations serve."""
    codes = list(
        OrganizationUnit.objects.filter(organization__in=organizations).values_list(
            "unit_code", flat=True
        )
    )
    inside = Q(pk__in=[])
    for code in codes:
        inside |= Q(scope_code__startswith=code)
    ids = {h.pk for h in households}
    within = set(Household.objects.filter(pk__in=ids).filter(inside).values_list("pk", flat=True))
    return [h for h in households if h.pk not in within]


def _check_project(
    project: Project,
    organizations: Sequence[Organization],
    households: Sequence[Household] | None,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    _full_clean(
        project, errors, exclude=["organization", "alliance", "organizations", "households"]
    )
    _not_negative(project, ["investment_yuan"], errors)
    pool = set(
        pool_organizations(project.alliance or project.organization).values_list("pk", flat=True)
    )
    strangers = [o.code for o in organizations if o.pk not in pool]
    if strangers:
        errors.setdefault("organizations", []).append(
            _("not in this joint branch or alliance: %(codes)s") % {"codes": ", ".join(strangers)}
        )
    if households:
        outside = households_outside(households, organizations)
        if outside:
            errors.setdefault("households", []).append(
                _("not in a village or community the organizations taking part serve: %(codes)s")
                % {"codes": ", ".join(h.code for h in outside)}
            )
    return errors


def _write_project(
    project: Project,
    data: Mapping[str, Any],
    organizations: Sequence[Organization],
    households: Sequence[Household] | None,
) -> None:
    for name in PROJECT_FIELDS:
        if name in data:
            setattr(project, name, data[name])
    errors = _check_project(project, organizations, households)
    if errors:
        raise ValidationError(errors)
    project.save()
    project.organizations.set(organizations)
    if households is not None:
        project.households.set(households)


def project_create(
    *,
    actor: User | None,
    organization: Organization,
    data: Mapping[str, Any],
    organizations: Sequence[Organization] = (),
    households: Sequence[Household] = (),
    alliance: Alliance | None = None,
) -> Project:
    """A joint project (PROJECT_FIELDS) led by `organization`: the organizations taking part
    (of its pool or the alliance's; the lead always takes part) and the households taking
    part (living in units those organizations serve)."""
    if not may_manage(actor, organization, "orgs.add_project"):
        raise PermissionDenied(_("You may not add projects to this organization."))
    errors: dict[str, list[str]] = {}
    _owner(organization, alliance, errors)
    if errors:
        raise ValidationError(errors)
    orgs = list(dict.fromkeys([organization, *organizations]))
    people = list(dict.fromkeys(households))
    project = Project(organization=organization, alliance=alliance)
    with transaction.atomic():
        _write_project(project, data, orgs, people)
        _created(
            project,
            {
                "organizations": [None, sorted(o.code for o in orgs)],
                "households": [None, len(people)],
            },
        )
    return project


def project_update(
    *,
    actor: User | None,
    project: Project,
    data: Mapping[str, Any],
    organizations: Sequence[Organization] | None = None,
    households: Sequence[Household] | None = None,
) -> Project:
    """Change a project's PROJECT_FIELDS (those in `data`), and the organizations or the
    households taking part when given (the households are checked against the organizations
    as they become)."""
    if not may_manage(actor, project.organization, "orgs.change_project"):
        raise PermissionDenied(_("You may not change this project."))
    with transaction.atomic():
        row = Project.objects.select_for_update().get(pk=project.pk)
        before = audit.snapshot(row)
        before_orgs = sorted(row.organizations.values_list("code", flat=True))
        before_households = row.households.count()
        orgs = list(row.organizations.all()) if organizations is None else organizations
        orgs = list(dict.fromkeys([row.organization, *orgs]))
        if households is None and organizations is not None:
            households = list(row.households.all())  # still inside the units served?
        people = None if households is None else list(dict.fromkeys(households))
        _write_project(row, data, orgs, people)
        changes = audit.diff(before, audit.snapshot(row))
        codes = sorted(o.code for o in orgs)
        if codes != before_orgs:
            changes["organizations"] = [before_orgs, codes]
        if people is not None and len(people) != before_households:
            changes["households"] = [before_households, len(people)]
        audit.changed(row, changes)
    return row


def _check_editor(actor: User | None, project: Project) -> None:
    if not may_manage(actor, project.organization, "orgs.change_project"):
        raise PermissionDenied(_("You may not change this project."))


def milestone_add(*, actor: User | None, project: Project, data: Mapping[str, Any]) -> Milestone:
    """A milestone of the project: a title and the date it is due."""
    _check_editor(actor, project)
    milestone = Milestone(project=project)
    for name in MILESTONE_FIELDS:
        if name in data:
            setattr(milestone, name, data[name])
    errors: dict[str, list[str]] = {}
    _full_clean(milestone, errors, exclude=["project", "done_on"])
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        milestone.save()
        changes = {"title": [None, milestone.title], "due_on": [None, str(milestone.due_on)]}
        _record_part(Event.Action.CREATE, milestone, project, changes)
    return milestone


def milestone_done(
    *, actor: User | None, milestone: Milestone, done_on: datetime.date | None = None
) -> Milestone:
    """Mark a milestone done on `done_on` (default today; not in the future)."""
    project = milestone.project
    _check_editor(actor, project)
    today = timezone.localdate()
    day = done_on or today
    if day > today:
        raise ValidationError({"done_on": [_("a milestone is marked done once it is done")]})
    if day < project.started_on:
        raise ValidationError({"done_on": [_("that is before the project started")]})
    with transaction.atomic():
        row = Milestone.objects.select_for_update().get(pk=milestone.pk)
        before = row.done_on
        row.done_on = day
        row.save(update_fields=["done_on"])
        if before != day:
            changes = {"done_on": [before and str(before), str(day)]}
            _record_part(Event.Action.UPDATE, row, project, changes)
    return row


def income_record(
    *,
    actor: User | None,
    project: Project,
    year: int,
    collective_yuan: decimal.Decimal | int | str,
    households_yuan: decimal.Decimal | int | str,
) -> ProjectIncome:
    """The project's income in `year` (from its start to this year): the collective's and the
    households'. A year recorded again is replaced (the event says what changed)."""
    _check_editor(actor, project)
    errors: dict[str, list[str]] = {}
    this_year = timezone.localdate().year
    if year > this_year:
        errors["year"] = [_("income is recorded for a year that has begun")]
    elif year < max(project.started_on.year, FIRST_INCOME_YEAR):
        errors["year"] = [_("the project started in %(year)s") % {"year": project.started_on.year}]
    with transaction.atomic():
        row = (
            ProjectIncome.objects.select_for_update().filter(project=project, year=year).first()
        ) or ProjectIncome(project=project, year=year)
        creating = row.pk is None
        before = {} if creating else audit.snapshot(row)
        row.collective_yuan = collective_yuan  # type: ignore[assignment]
        row.households_yuan = households_yuan  # type: ignore[assignment]
        _full_clean(row, errors, exclude=["project"])
        _not_negative(row, ["collective_yuan", "households_yuan"], errors)
        if errors:
            raise ValidationError(errors)
        row.save()
        row.refresh_from_db()  # the amounts as stored (two decimals)
        after = audit.snapshot(row)
        changes = audit.diff(before, after)
        changes.pop("project", None)
        if changes:
            action = Event.Action.CREATE if creating else Event.Action.UPDATE
            _record_part(action, row, project, changes)
    return row


# --- Reads -------------------------------------------------------------------------------------


def resources_for(user: User | Any, now: datetime.datetime | None = None) -> QuerySet[Resource]:
    """The resources of the organizations and alliances `user` sees, each with the start of
    its next booking (`next_booking`, None when nothing is booked ahead)."""
    ahead = Booking.objects.filter(resource=OuterRef("pk"), ends_at__gt=now or timezone.now())
    return (
        Resource.objects.visible_to(user)
        .select_related("organization", "alliance")
        .annotate(next_booking=Subquery(ahead.order_by("starts_at").values("starts_at")[:1]))
    )


def bookings_ahead(resource: Resource, now: datetime.datetime | None = None) -> QuerySet[Booking]:
    """The bookings of `resource` that have not ended, soonest first."""
    now = now or timezone.now()
    return (
        resource.bookings.filter(ends_at__gt=now)
        .select_related("organization", "created_by")
        .order_by("starts_at", "pk")
    )


def overdue_q(today: datetime.date) -> Q:
    """Milestones overdue on `today`: due before it and not done (the one definition)."""
    return Q(done_on__isnull=True, due_on__lt=today)


def is_overdue(milestone: Milestone, today: datetime.date | None = None) -> bool:
    today = today or timezone.localdate()
    return Milestone.objects.filter(pk=milestone.pk).filter(overdue_q(today)).exists()


def _count(rows: QuerySet[Any]) -> Any:
    counted = rows.order_by().values("project").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def projects_for(user: User | Any, today: datetime.date | None = None) -> QuerySet[Project]:
    """The projects of the organizations and alliances `user` sees, each with the counts of
    its milestones (all, done, overdue) and its households: one query for any number."""
    today = today or timezone.localdate()
    milestones = Milestone.objects.filter(project=OuterRef("pk"))
    households = Project.households.through.objects.filter(project=OuterRef("pk"))
    return (
        Project.objects.visible_to(user)
        .select_related("organization", "alliance")
        .annotate(
            milestones_total=_count(milestones),
            milestones_done=_count(milestones.filter(done_on__isnull=False)),
            milestones_overdue=_count(milestones.filter(overdue_q(today))),
            households_count=_count(households),
        )
    )


def progress(done: int, total: int) -> float | None:
    """The share of milestones done, from 0 to 1; None for a project without milestones."""
    return done / total if total else None


@dataclass(frozen=True)
class MilestoneRow:
    milestone: Milestone
    overdue: bool


@dataclass(frozen=True)
class ProjectFacts:
    """What a project's page and the API show about it."""

    project: Project
    organizations: list[Organization]
    milestones: list[MilestoneRow]
    incomes: list[ProjectIncome]
    households: int
    progress: float | None

    @property
    def done(self) -> int:
        return sum(1 for row in self.milestones if row.milestone.done_on)

    @property
    def overdue(self) -> int:
        return sum(1 for row in self.milestones if row.overdue)


def project_facts(project: Project, today: datetime.date | None = None) -> ProjectFacts:
    """A project's milestones (each overdue or not), incomes by year, households taking part
    and progress."""
    today = today or timezone.localdate()
    overdue = set(project.milestones.filter(overdue_q(today)).values_list("pk", flat=True))
    milestones = [
        MilestoneRow(m, m.pk in overdue) for m in project.milestones.order_by("due_on", "pk")
    ]
    done = sum(1 for row in milestones if row.milestone.done_on)
    return ProjectFacts(
        project=project,
        organizations=list(project.organizations.order_by("code")),
        milestones=milestones,
        incomes=list(project.incomes.order_by("year")),
        households=project.households.count(),
        progress=progress(done, len(milestones)),
    )

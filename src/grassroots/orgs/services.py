"""Writes to party organizations, each audited in its transaction. Imports (imports.py) write
set-wise through the import pipeline and audit each record too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.territory.models import Unit

from .models import (
    Activity,
    Alliance,
    Attendance,
    Booking,
    Meeting,
    Member,
    MemberPost,
    MemberSkill,
    Milestone,
    Organization,
    OrganizationUnit,
    Project,
    ProjectIncome,
    Resource,
    Transfer,
)
from .selectors import is_secretary, may_edit

if TYPE_CHECKING:
    from grassroots.accounts.models import User

ORG_FIELDS = ("code", "name", "kind", "parent")


def units_problem(kind: str, count: int) -> str | None:
    """Why `count` units do not fit an organization of `kind`, or None."""
    if kind == Organization.Kind.JOINT_BRANCH:
        if count < 2:
            return _("a joint branch serves two or more units")
    elif count != 1:
        return _("an organization other than a joint branch serves exactly one unit")
    return None


def _ancestors(org: Organization | None) -> list[int]:
    seen: list[int] = []
    while org is not None and org.pk not in seen:
        seen.append(org.pk)
        org = org.parent
    return seen


def _check(org: Organization, units: Sequence[Unit]) -> None:
    errors: dict[str, list[str]] = {}
    try:
        org.full_clean(exclude=["units"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    problem = units_problem(org.kind, len(units))
    if problem:
        errors.setdefault("units", []).append(problem)
    if org.pk is not None and org.pk in _ancestors(org.parent):
        errors.setdefault("parent", []).append(
            _("an organization cannot sit under itself or one of its own")
        )
    if errors:
        raise ValidationError(errors)


def _write(
    *, actor: User | None, org: Organization, data: Mapping[str, Any], creating: bool
) -> Organization:
    kept = [] if creating else list(org.units.all())
    units = list(data["units"]) if "units" in data else kept
    codes = sorted(unit.code for unit in units)
    before_codes = [] if creating else sorted(org.served.values_list("unit_code", flat=True))
    if not units:  # no unit to judge the actor by: said as what it is
        raise ValidationError({"units": [units_problem(data.get("kind", org.kind), 0) or ""]})
    # The actor edits the organization as it was and as it becomes; its own secretary edits
    # its name and code, never its place in the tree or the units it serves.
    own = not creating and is_secretary(actor, org)
    own = own and codes == before_codes and data.get("parent", org.parent) == org.parent
    own = own and data.get("kind", org.kind) == org.kind
    if not own and (
        not may_edit(actor, codes) or (before_codes and not may_edit(actor, before_codes))
    ):
        raise PermissionDenied(_("You may not change this organization."))
    before = {} if creating else audit.snapshot(org)
    for name in ORG_FIELDS:
        if name in data:
            setattr(org, name, data[name])
    _check(org, units)
    org.updated_at = timezone.now()
    org.save()
    if codes != before_codes:
        OrganizationUnit.objects.filter(organization=org).delete()
        OrganizationUnit.objects.bulk_create(
            OrganizationUnit(organization=org, unit=unit, unit_code=unit.code) for unit in units
        )
    org.unit_codes_written = codes  # type: ignore[attr-defined]
    changes = audit.diff(before, audit.snapshot(org))
    if codes != before_codes:
        changes["units"] = [before_codes or None, codes]
    if creating:
        changes = {k: v for k, v in changes.items() if v[1] not in (None, "")}
        audit.changed(org, changes, action=audit.Event.Action.CREATE)
    elif changes:
        audit.changed(org, changes)
    return org


def organization_create(*, actor: User | None, data: Mapping[str, Any]) -> Organization:
    """A new organization: ORG_FIELDS and `units` (Unit rows)."""
    with transaction.atomic():
        return _write(actor=actor, org=Organization(), data=data, creating=True)


def organization_update(
    *, actor: User | None, organization: Organization, data: Mapping[str, Any]
) -> Organization:
    """Change an organization's fields or units (those given in `data`)."""
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        return _write(actor=actor, org=org, data=data, creating=False)


def orgs_clear(*, reason: str) -> None:
    """Delete every organization and member, their meetings, activities and shared work (the
    demo's wipe): one audit event per kind."""
    with transaction.atomic():
        # Shared work first: it refers to organizations and alliances.
        kinds: list[type[models.Model]] = [Booking, Resource, ProjectIncome, Milestone, Project]
        kinds += [Activity, Alliance, Attendance, Meeting, Transfer, MemberSkill]
        kinds += [MemberPost, Member, OrganizationUnit, Organization]
        for model in kinds:
            if model is Organization:
                # Children first: a parent is protected while an organization refers to it.
                Organization.objects.update(parent=None)
            count, _by_model = model._default_manager.all().delete()
            if count:
                audit.record(
                    audit.Event.Action.DELETE,
                    object_type=audit.object_type(model),
                    object_repr=str(model._meta.verbose_name_plural),
                    changes={"count": count},
                    reason=reason,
                )


def may_record_meeting(user: User | Any, org: Organization) -> bool:
    """Who records an organization's meetings: whoever edits it (the town above, the county),
    its own secretary, and the secretary of a village or community the organization serves."""
    codes = sorted(org.served.values_list("unit_code", flat=True))
    if may_edit(user, codes) or is_secretary(user, org):
        return True
    if not user.has_perm("orgs.add_meeting"):
        return False
    return any(code in codes for code in user.scope_codes())


def meeting_record(
    *,
    actor: User | None,
    organization: Organization,
    data: Mapping[str, Any],
    attendance: Mapping[int, tuple[str, str]] | None = None,
) -> Meeting:
    """A meeting (kind, held_on, topic, place, minutes) with the attendance of the
    organization's members ({member id: (status, reason)}); an absence needs its reason."""
    attendance = attendance or {}
    if actor is not None and not may_record_meeting(actor, organization):
        raise PermissionDenied(_("You may not record this organization's meetings."))
    members = set(organization.members.values_list("pk", flat=True))
    errors: dict[str, list[str]] = {}
    for member_id, (status, reason) in attendance.items():
        if member_id not in members:
            errors.setdefault("attendance", []).append(
                _("member %(id)s is not a member of this organization") % {"id": member_id}
            )
        elif status not in Attendance.Status.values:
            errors.setdefault("attendance", []).append(
                _("%(v)s is not an attendance") % {"v": status}
            )
        elif status == Attendance.Status.ABSENT and not reason.strip():
            errors.setdefault("attendance", []).append(_("give the reason for each absence"))
    meeting = Meeting(organization=organization)
    for name in ("kind", "held_on", "topic", "place", "minutes"):
        if name in data:
            setattr(meeting, name, data[name])
    try:
        meeting.full_clean()
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if meeting.held_on and meeting.held_on > timezone.localdate():
        errors.setdefault("held_on", []).append(_("a meeting is recorded once it is held"))
    if errors:
        raise ValidationError(errors)
    counts = {
        s: sum(1 for st, _r in attendance.values() if st == s) for s in Attendance.Status.values
    }
    meeting.present_count = counts[Attendance.Status.PRESENT]
    meeting.absent_count = counts[Attendance.Status.ABSENT]
    meeting.leave_count = counts[Attendance.Status.LEAVE]
    with transaction.atomic():
        meeting.save()
        Attendance.objects.bulk_create(
            Attendance(meeting=meeting, member_id=m, status=s, reason=r.strip())
            for m, (s, r) in attendance.items()
        )
        changes = {k: [None, v] for k, v in audit.snapshot(meeting).items() if v not in (None, "")}
        changes["attendance"] = [None, counts]
        audit.changed(meeting, changes, action=audit.Event.Action.CREATE)
    return meeting


def alliance_save(
    *,
    actor: User | None,
    data: Mapping[str, Any],
    organizations: Sequence[Organization],
    alliance: Alliance | None = None,
) -> Alliance:
    """Create or change an alliance (联建): code and name, and two or more organizations, each
    of which the actor may edit (a town links its own villages' branches; the county any)."""
    orgs = list(dict.fromkeys(organizations))
    errors: dict[str, list[str]] = {}
    if len(orgs) < 2:
        errors["organizations"] = [_("an alliance links two or more organizations")]
    if actor is not None:
        served = OrganizationUnit.objects.filter(organization__in=orgs).values_list(
            "unit_code", flat=True
        )
        if not may_edit(actor, sorted(served)):
            raise PermissionDenied(_("You may not link these organizations."))
    creating = alliance is None
    row = alliance or Alliance()
    before = {} if creating else audit.snapshot(row)
    before_orgs = [] if creating else sorted(row.organizations.values_list("code", flat=True))
    for name in ("code", "name"):
        if name in data:
            setattr(row, name, data[name])
    try:
        row.full_clean(exclude=["organizations"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row.save()
        row.organizations.set(orgs)
        codes = sorted(o.code for o in orgs)
        changes = audit.diff(before, audit.snapshot(row))
        if codes != before_orgs:
            changes["organizations"] = [before_orgs or None, codes]
        if creating:
            changes = {k: v for k, v in changes.items() if v[1] not in (None, "")}
            audit.changed(row, changes, action=audit.Event.Action.CREATE)
        else:
            audit.changed(row, changes)
    return row

"""Writes to party organizations, each audited in its transaction. Imports (imports.py) write
set-wise through the import pipeline and audit each record too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit import services as audit
from grassroots.territory.models import Unit

from .models import Member, MemberPost, MemberSkill, Organization, OrganizationUnit, Transfer
from .selectors import may_edit

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
    units = list(data["units"]) if "units" in data else list(org.units.all())
    codes = sorted(unit.code for unit in units)
    before_codes = [] if creating else sorted(org.served.values_list("unit_code", flat=True))
    # The actor edits the organization as it was and as it becomes.
    if not may_edit(actor, codes) or (before_codes and not may_edit(actor, before_codes)):
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
    """Delete every organization and member (the demo's wipe): one audit event per kind."""
    with transaction.atomic():
        for model in (Transfer, MemberSkill, MemberPost, Member, OrganizationUnit, Organization):
            if model is Organization:
                # Children first: a parent is protected while an organization refers to it.
                Organization.objects.update(parent=None)
            count, _by_model = model.objects.all().delete()
            if count:
                audit.record(
                    audit.Event.Action.DELETE,
                    object_type=audit.object_type(model),
                    object_repr=str(model._meta.verbose_name_plural),
                    changes={"count": count},
                    reason=reason,
                )

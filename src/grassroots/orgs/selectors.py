"""Reads of party organizations: who sees which, and who may edit one.

A user sees an organization when their scope holds one of the units it serves (a town official
sees every branch of the town, and a joint branch of which one village is in the town), or lies
inside one of them (a village's secretary and its grid workers see the village's branch, the
town's committee above it, and the joint branch the village belongs to). Nobody sees a
neighbouring town's organizations.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .models import (
    Alliance,
    Member,
    MemberPost,
    MemberSkill,
    Organization,
    OrganizationUnit,
    Post,
    add_years,
    units_holding,
    visible_q,
)

__all__ = ["units_holding", "visible_q"]

if TYPE_CHECKING:
    from grassroots.accounts.models import User

# The deepest scope that edits an organization: a town (or the county above it).
EDITOR_CODE_LENGTH = 9


def organizations_for(user: User | Any) -> QuerySet[Organization]:
    return Organization.objects.visible_to(user)


def unit_codes(organization: Organization) -> list[str]:
    return sorted(organization.served.values_list("unit_code", flat=True))


def may_edit(user: User | Any, unit_codes_served: list[str]) -> bool:
    """Whether `user` may change an organization serving these units: the town above them all,
    or the county (a town or county scope with the permission); superusers and commands (no
    user) always. The organization's own secretary edits it too once members exist."""
    if user is None or getattr(user, "is_superuser", False):
        return True
    if not user.has_perm("orgs.change_organization") or not unit_codes_served:
        return False
    editors = [c for c in user.scope_codes() if len(c) <= EDITOR_CODE_LENGTH]
    return all(any(unit.startswith(code) for code in editors) for unit in unit_codes_served)


def is_secretary(user: User | Any, org: Organization) -> bool:
    """Whether `user` holds the organization's secretary post now (书记)."""
    if user is None or not getattr(user, "pk", None):
        return False
    return MemberPost.objects.filter(
        organization=org, post=Post.SECRETARY, ended_on__isnull=True, member__user=user
    ).exists()


def members_for(user: User | Any) -> QuerySet[Member]:
    """The members of the organizations `user` sees."""
    return Member.objects.filter(organization__in=organizations_for(user))


def conversions_overdue(members: QuerySet[Member], today: datetime.date) -> QuerySet[Member]:
    """Probationary members a year or more after joining, not converted yet (转正 overdue)."""
    return members.filter(
        status=Member.Status.PROBATIONARY, joined_on__lte=add_years(today, -1)
    ).order_by("joined_on", "pk")


def secretary_vacant_since(org: Organization) -> datetime.date | None:
    """Since when the organization has had no secretary (None: one holds the post now). Never
    had one: since the organization was recorded."""
    return secretaries_vacant_since([org])[org.pk]


def secretaries_vacant_since(orgs: list[Organization]) -> dict[int, datetime.date | None]:
    """secretary_vacant_since of many organizations in one query (a page of a list)."""
    held: set[int] = set()
    ended: dict[int, datetime.date] = {}
    rows = MemberPost.objects.filter(organization__in=orgs, post=Post.SECRETARY).values_list(
        "organization_id", "ended_on"
    )
    for org_id, ended_on in rows:
        if ended_on is None:
            held.add(org_id)
        elif ended_on > ended.get(org_id, ended_on.min):
            ended[org_id] = ended_on
    return {
        o.pk: None if o.pk in held else ended.get(o.pk) or timezone.localdate(o.created_at)
        for o in orgs
    }


def alliances_for(user: User | Any) -> QuerySet[Alliance]:
    """The alliances one of whose organizations `user` sees."""
    return Alliance.objects.filter(organizations__in=organizations_for(user)).distinct()


def pool_organizations(group: Organization | Alliance) -> QuerySet[Organization]:
    """The organizations whose members form a shared talent pool: an alliance's own; for a
    joint branch, itself and the organizations serving any of its villages."""
    if isinstance(group, Alliance):
        return group.organizations.all()
    served = OrganizationUnit.objects.filter(
        unit_code__in=group.served.values_list("unit_code", flat=True)
    ).values("organization_id")
    return Organization.objects.filter(Q(pk=group.pk) | Q(pk__in=served))


def talent(
    group: Organization | Alliance, skill: str = "", *, available_only: bool = False
) -> QuerySet[Member]:
    """The members of the pool (pool_organizations) with `skill` (all when empty), available
    ones first. The pool's organizations are read first (a handful of ids: the planners
    misjudged the pool as a subquery and read every member of the county), then their members,
    each tested for the skill through the index on (member, skill)."""
    pool = list(pool_organizations(group).values_list("pk", flat=True))
    members = Member.objects.filter(organization_id__in=pool)
    if skill:
        members = members.filter(
            Exists(MemberSkill.objects.filter(member=OuterRef("pk"), skill=skill))
        )
    if available_only:
        members = members.filter(available=True)
    return members.select_related("organization").order_by("-available", "name", "pk")

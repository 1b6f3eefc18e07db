"""Reads of the registry for lists, search and the API.

Every selector starts from `Model.objects.visible_to(user)`: rows outside the user's scope are
never counted, listed or found. The lists' filters (registry.filters) narrow that set further
with the conditions below, so a filter that names a grid or unit outside the scope (or one that
does not exist) gives an empty result, never a hint that the grid exists.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from grassroots.core import crypto
from grassroots.core.scoping import Scope
from grassroots.core.text import clean_text, search_text, to_simplified

from .models import (
    CURRENT_RESIDENT,
    TAG_SEPARATOR,
    Enterprise,
    Household,
    Resident,
    Tag,
    split_tags,
)

if TYPE_CHECKING:
    from grassroots.accounts.models import User

# An ID number search needs this many trailing characters (the indexed `id_tail`).
ID_TAIL_LENGTH = 4

# Digits, possibly ending in X: a piece of an ID number (a lone "x" is a pinyin initial).
_ID_FRAGMENT = re.compile(r"^\d{1,18}X?$")
_PINYIN = re.compile(r"^[a-z]+$")


def may_see_sensitive_tags(user: Any) -> bool:
    """Sensitive tags (特殊人群) are for those explicitly granted `view_sensitive_tags`.

    No role carries the permission: it is granted per person (`grassroots users grant NAME
    registry.view_sensitive_tags` or the admin's user page), and superusers have it.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.has_perm("registry.view_sensitive_tags"))


def _vocabulary(user: Any) -> list[tuple[str, str]]:
    """(name, kind) of every tag, read once per user object (that is, once per request)."""
    cached: list[tuple[str, str]] | None = getattr(user, "_tag_vocabulary", None)
    if cached is None:
        cached = list(Tag.objects.order_by("kind", "name").values_list("name", "kind"))
        with contextlib.suppress(AttributeError):
            user._tag_vocabulary = cached
    return cached


def visible_tag_names(user: Any) -> list[str]:
    """The vocabulary as `user` may see it: sensitive tags absent without the grant."""
    granted = may_see_sensitive_tags(user)
    return [n for n, kind in _vocabulary(user) if granted or kind != Tag.Kind.SENSITIVE]


def tags_for(user: User, stored: str) -> list[str]:
    """The tags of a household or resident as `user` may see them.

    Every response renders tags through this one function: without the explicit grant,
    sensitive tags are absent (not masked) from what the user receives.
    """
    tags = split_tags(stored)
    if not tags or may_see_sensitive_tags(user):
        return tags
    hidden = {n for n, kind in _vocabulary(user) if kind == Tag.Kind.SENSITIVE}
    return [t for t in tags if t not in hidden]


def tag_condition(tag: str, user: Any) -> Q:
    """Rows carrying `tag`; refuses a tag that is not in the vocabulary `user` may see.

    A sensitive tag named by someone without the grant is refused exactly like a tag that
    does not exist, so neither its rows nor their count can be learnt through the filter.
    """
    name = clean_text(tag)
    known = visible_tag_names(user)
    if name not in known:
        raise ValidationError(
            {
                "tag": _("unknown tag %(tag)s (known tags: %(known)s)")
                % {"tag": name, "known": ", ".join(sorted(known))}
            }
        )
    return Q(tags__contains=f"{TAG_SEPARATOR}{name}{TAG_SEPARATOR}")


def under(unit_code: str) -> Q:
    """Rows whose scope code lies under the unit `unit_code` (a town filter keeps its villages)."""
    return Scope.of(unit_code).q("scope_code")


def resident_search_q(query: str) -> Q:
    """Residents matching a search query typed by a person.

    - Chinese characters, simplified or traditional (趙 finds 赵): any part of the name.
    - Latin letters: the start of the full pinyin (zhaoguangju) or of the initials (zgj).
    - Four or more digits, possibly ending in X: the end of the ID number (the keyed hash of
      the last four narrows the rows, decryption confirms longer fragments); 18 characters:
      the number, through its keyed hash.
    Anything else matches nobody.
    """
    key = search_text(query)
    if not key:
        return Q(pk__in=[])
    upper = key.upper()
    if _ID_FRAGMENT.match(upper):
        if not ID_TAIL_LENGTH <= len(upper) <= 18:
            return Q(pk__in=[])
        if len(upper) == 18:
            return Q(id_hash=crypto.digest(upper))
        condition = Q(id_tail=crypto.tail_digest(upper[-ID_TAIL_LENGTH:]))
        if len(upper) > ID_TAIL_LENGTH:
            # Numbers are encrypted: the indexed tail hash finds the candidates (a few dozen
            # in a county), and their decrypted numbers confirm the longer fragment.
            matches = [
                pk
                for pk, number in Resident.objects.filter(condition)
                .order_by()
                .values_list("pk", "id_number")
                if number.endswith(upper)
            ]
            condition &= Q(pk__in=matches)
        return condition
    if _PINYIN.match(key):
        return Q(name_initials__startswith=key) | Q(name_pinyin__startswith=key)
    # Any part of the name: people search by given name too (光菊 finds 赵光菊). A scan of the
    # name keys inside the scope; the scope filter keeps it to one town or village in practice.
    return Q(name_key__contains=key)


def household_text_q(query: str) -> Q:
    """Households whose code starts with, or whose address holds, the text."""
    text = clean_text(query)
    return Q(code__startswith=text) | Q(address__contains=text)


def household_search_q(user: Any, query: str) -> Q:
    """Households found by their code or address, or (when `user` may view residents) by a
    member the resident search finds: name, pinyin, initials, the last digits of the ID number.

    Members are those `user` may see, moved out or deceased ones included.
    """
    condition = household_text_q(query)
    if user.has_perm("registry.view_resident"):
        members = Resident.objects.visible_to(user).filter(resident_search_q(query))
        condition |= Q(pk__in=members.exclude(household=None).values("household_id"))
    return condition


def enterprise_q(query: str) -> Q:
    """Enterprises whose name holds the text (simplified or traditional), or with that credit
    code."""
    text = clean_text(query)
    simplified = to_simplified(text)
    return (
        Q(name__contains=text)
        | Q(name__contains=simplified)
        | Q(credit_code=text.replace(" ", "").upper())
    )


def household_list(*, user: User) -> QuerySet[Household]:
    """Households visible to `user`, ordered by code, with grid, unit and member count.

    `member_count` counts current residents (not moved out, not deceased) with a correlated
    subquery, which keeps the page query free of a GROUP BY over every joined column. Lists
    narrow it with registry.filters.HouseholdFilters.
    """
    current_members = (
        Resident.objects.filter(CURRENT_RESIDENT, household=OuterRef("pk"))
        .order_by()
        .values("household")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Household.objects.visible_to(user)
        .select_related("grid", "unit")
        .defer("grid__boundary")
        .annotate(
            member_count=Coalesce(Subquery(current_members, output_field=IntegerField()), Value(0))
        )
        .order_by("code")
    )


def resident_list(*, user: User) -> QuerySet[Resident]:
    """Residents visible to `user`, ordered by name key then id, with household, grid, unit.

    Lists narrow it with registry.filters.ResidentFilters.
    """
    return (
        Resident.objects.visible_to(user)
        .select_related("household__grid", "unit")
        .defer("household__grid__boundary")
        .order_by("name_key", "id")
    )


def enterprise_list(*, user: User) -> QuerySet[Enterprise]:
    """Enterprises visible to `user`, ordered by name then id, with grid and unit.

    Lists narrow it with registry.filters.EnterpriseFilters.
    """
    return (
        Enterprise.objects.visible_to(user)
        .select_related("grid", "unit")
        .defer("grid__boundary")
        .order_by("name", "id")
    )


@dataclass
class SearchSection:
    """Matches of one kind: how many there are in scope, and the first few."""

    count: int
    items: list[Any] = field(default_factory=list)


@dataclass
class SearchResult:
    """None for a kind the user's role may not view."""

    residents: SearchSection | None
    households: SearchSection | None
    enterprises: SearchSection | None


def registry_search(*, user: User, query: str, limit: int) -> SearchResult:
    """Search residents (name, pinyin, initials, ID tail), households (code, address) and
    enterprises (name, credit code) visible to `user`, each kind only if the role may view it."""

    def section(qs: QuerySet[Any]) -> SearchSection:
        return SearchSection(count=qs.count(), items=list(qs[:limit]))

    return SearchResult(
        residents=section(resident_list(user=user).filter(resident_search_q(query)))
        if user.has_perm("registry.view_resident")
        else None,
        households=section(household_list(user=user).filter(household_text_q(query)))
        if user.has_perm("registry.view_household")
        else None,
        enterprises=section(enterprise_list(user=user).filter(enterprise_q(query)))
        if user.has_perm("registry.view_enterprise")
        else None,
    )

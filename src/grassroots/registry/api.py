"""API of the registry: households, residents, enterprises, search and the coverage audit.

Handlers check the role's permission, read through the selectors (which start from
`visible_to`), narrow lists with the filters of registry.filters (the pages' filters too) and
render through the `*_out` functions below. Those functions are the only
place a registry row becomes JSON: ID and phone numbers leave them masked, and tags pass
through `tags_for`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from grassroots.accounts.models import User
from grassroots.core.api_support import (
    ANY_PLACE_CODE_PATTERN,
    SOME_TEXT_PATTERN,
    ErrorOut,
    Page,
    PageQuery,
    Ref,
    TextFilter,
    auth_user,
    filter_field,
    invalid,
    paginate,
    ref,
    require_perm,
    responses,
)
from grassroots.core.scoping import Scope
from grassroots.territory.models import Grid, Unit

from .coverage import coverage_report
from .filters import EnterpriseFilters, HouseholdFilters, ResidentFilters
from .models import Enterprise, Household, Resident
from .privacy import RevealLimitReached, reveal
from .selectors import (
    SearchSection,
    enterprise_list,
    household_list,
    registry_search,
    resident_list,
    tags_for,
)

router = Router()

SEARCH_LIMIT = 10
SEARCH_MAX_LIMIT = 50
SCOPE_CODE_LENGTHS = (2, 4, 6, 9, 12, 15)
SEARCHABLE = ("resident", "household", "enterprise")


# Schemas


class HouseholdOut(Schema):
    id: int
    code: str
    address: str
    building: str
    unit_no: str
    room: str
    lon: float | None
    lat: float | None
    grid: Ref | None
    unit: Ref
    tags: list[str]
    member_count: int = Field(description="Current residents (not moved out, not deceased).")


class ResidentOut(Schema):
    id: int
    name: str
    sex: str = Field(description="M or F, derived from the ID number.")
    birth_date: datetime.date
    age: int
    id_number: str = Field(description="Masked: 3501**********123X.")
    phone: str | None = Field(description="Masked: 138****5678; null when unknown.")
    household: str | None = Field(description="Household code.")
    relation: str
    residency: str
    tags: list[str]
    moved_out_on: datetime.date | None
    deceased_on: datetime.date | None
    unit: Ref
    grid: Ref | None


class EnterpriseOut(Schema):
    id: int
    name: str
    credit_code: str = Field(description="Unified social credit code (public business data).")
    address: str
    industry: str
    contact_name: str
    contact_phone: str | None = Field(description="Masked: 138****5678; null when unknown.")
    lon: float | None
    lat: float | None
    grid: Ref | None
    unit: Ref


class HouseholdPage(Page):
    items: list[HouseholdOut]


class ResidentPage(Page):
    items: list[ResidentOut]


class EnterprisePage(Page):
    items: list[EnterpriseOut]


# Rendering


def household_out(household: Household, user: User) -> dict[str, Any]:
    return {
        "id": household.pk,
        "code": household.code,
        "address": household.address,
        "building": household.building,
        "unit_no": household.unit_no,
        "room": household.room,
        "lon": household.lon,
        "lat": household.lat,
        "grid": ref(household.grid),
        "unit": ref(household.unit),
        "tags": tags_for(user, household.tags),
        "member_count": getattr(household, "member_count", 0),
    }


def resident_out(resident: Resident, user: User) -> dict[str, Any]:
    household = resident.household
    return {
        "id": resident.pk,
        "name": resident.name,
        "sex": resident.sex,
        "birth_date": resident.birth_date,
        "age": resident.age,
        "id_number": resident.id_number_masked,
        "phone": resident.phone_masked or None,
        "household": household.code if household else None,
        "relation": resident.relation,
        "residency": resident.residency,
        "tags": tags_for(user, resident.tags),
        "moved_out_on": resident.moved_out_on,
        "deceased_on": resident.deceased_on,
        "unit": ref(resident.unit),
        "grid": ref(household.grid) if household else None,
    }


def enterprise_out(enterprise: Enterprise, user: User) -> dict[str, Any]:
    return {
        "id": enterprise.pk,
        "name": enterprise.name,
        "credit_code": enterprise.credit_code,
        "address": enterprise.address,
        "industry": enterprise.industry,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone_masked or None,
        "lon": enterprise.lon,
        "lat": enterprise.lat,
        "grid": ref(enterprise.grid),
        "unit": ref(enterprise.unit),
    }


# Households


@router.get(
    "/households",
    response=responses(HouseholdPage),
    operation_id="listHouseholds",
    tags=["households"],
    summary="List households",
)
def list_households(
    request: HttpRequest,
    filters: Query[HouseholdFilters],
    paging: Query[PageQuery],
) -> dict[str, Any]:
    """Households in your scope, ordered by code."""
    user = require_perm(request, "registry.view_household")
    page = paginate(filters.filter(household_list(user=user), user=user), paging)
    page["items"] = [household_out(h, user) for h in page["items"]]
    return page


@router.get(
    "/households/{household_id}",
    response=responses(HouseholdOut),
    operation_id="getHousehold",
    tags=["households"],
    summary="Get a household",
)
def get_household(request: HttpRequest, household_id: int) -> dict[str, Any]:
    """One household by id; 404 if it does not exist or lies outside your scope."""
    user = require_perm(request, "registry.view_household")
    return household_out(get_object_or_404(household_list(user=user), pk=household_id), user)


# Residents


@router.get(
    "/residents",
    response=responses(ResidentPage),
    operation_id="listResidents",
    tags=["residents"],
    summary="List residents",
)
def list_residents(
    request: HttpRequest,
    filters: Query[ResidentFilters],
    paging: Query[PageQuery],
) -> dict[str, Any]:
    """Residents in your scope, ordered by name; ID and phone numbers are masked."""
    user = require_perm(request, "registry.view_resident")
    page = paginate(filters.filter(resident_list(user=user), user=user), paging)
    page["items"] = [resident_out(r, user) for r in page["items"]]
    return page


@router.get(
    "/residents/{resident_id}",
    response=responses(ResidentOut),
    operation_id="getResident",
    tags=["residents"],
    summary="Get a resident",
)
def get_resident(request: HttpRequest, resident_id: int) -> dict[str, Any]:
    """One resident by id; 404 if they do not exist or live outside your scope."""
    user = require_perm(request, "registry.view_resident")
    return resident_out(get_object_or_404(resident_list(user=user), pk=resident_id), user)


class RevealIn(Schema):
    field: Literal["id_number", "phone"] = Field(description="The field to reveal.")
    reason: str = Field(
        min_length=4,
        max_length=500,
        description="Why you need the full value (at least 4 characters); recorded.",
    )


class RevealOut(Schema):
    resident_id: int
    field: str
    value: str = Field(description="The full value; empty when the resident has none.")
    event_id: int = Field(description="The audit event that records this reveal.")


@router.post(
    "/residents/{resident_id}/reveal",
    response={**responses(RevealOut), 429: ErrorOut},
    operation_id="revealResident",
    tags=["residents"],
    summary="Reveal one masked field of a resident",
)
def reveal_resident(
    request: HttpRequest, resident_id: int, body: RevealIn, response: HttpResponse
) -> dict[str, Any]:
    """The full ID or mobile number of one resident in your scope, for a stated reason.

    Needs the reveal permission (403 otherwise); 404 outside your scope. Every reveal is
    recorded in the audit trail (who, whose, which field, reason, time, client address), and
    each user may reveal `REVEAL_DAILY_LIMIT` values a day (429 beyond). The response is
    marked `Cache-Control: no-store`.
    """
    user = require_perm(request, "registry.view_resident", "registry.reveal_resident")
    resident = get_object_or_404(Resident.objects.visible_to(user), pk=resident_id)
    try:
        value, event = reveal(user=user, resident=resident, field=body.field, reason=body.reason)
    except RevealLimitReached as exc:
        raise HttpError(429, str(exc)) from None
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    response["Cache-Control"] = "no-store"
    return {"resident_id": resident.pk, "field": body.field, "value": value, "event_id": event.pk}


# Enterprises


@router.get(
    "/enterprises",
    response=responses(EnterprisePage),
    operation_id="listEnterprises",
    tags=["enterprises"],
    summary="List enterprises",
)
def list_enterprises(
    request: HttpRequest,
    filters: Query[EnterpriseFilters],
    paging: Query[PageQuery],
) -> dict[str, Any]:
    """Enterprises and merchants in your scope, ordered by name."""
    user = require_perm(request, "registry.view_enterprise")
    page = paginate(filters.filter(enterprise_list(user=user), user=user), paging)
    page["items"] = [enterprise_out(e, user) for e in page["items"]]
    return page


@router.get(
    "/enterprises/{enterprise_id}",
    response=responses(EnterpriseOut),
    operation_id="getEnterprise",
    tags=["enterprises"],
    summary="Get an enterprise",
)
def get_enterprise(request: HttpRequest, enterprise_id: int) -> dict[str, Any]:
    """One enterprise by id; 404 if it does not exist or lies outside your scope."""
    user = require_perm(request, "registry.view_enterprise")
    return enterprise_out(get_object_or_404(enterprise_list(user=user), pk=enterprise_id), user)


# Search


class ResidentMatches(Schema):
    count: int
    items: list[ResidentOut]


class HouseholdMatches(Schema):
    count: int
    items: list[HouseholdOut]


class EnterpriseMatches(Schema):
    count: int
    items: list[EnterpriseOut]


class SearchOut(Schema):
    query: str
    residents: ResidentMatches | None = Field(
        description="null when your role may not view residents."
    )
    households: HouseholdMatches | None = Field(
        description="null when your role may not view households."
    )
    enterprises: EnterpriseMatches | None = Field(
        description="null when your role may not view enterprises."
    )


class SearchQuery(Schema):
    q: str = Field(
        min_length=1,
        max_length=50,
        json_schema_extra={"pattern": SOME_TEXT_PATTERN},
        description=(
            "Residents by name (traditional characters match simplified ones), full pinyin, "
            "pinyin initials (赵光菊: zgj) or the last 4+ characters of the ID number; "
            "households by code or address; enterprises by name or credit code."
        ),
    )
    limit: int = Field(
        SEARCH_LIMIT, ge=1, le=SEARCH_MAX_LIMIT, description="Matches shown per kind."
    )


@router.get(
    "/search",
    response=responses(SearchOut),
    operation_id="search",
    tags=["search"],
    summary="Search the registry",
)
def search(request: HttpRequest, params: Query[SearchQuery]) -> dict[str, Any]:
    """Matches in your scope of each kind your role may view: the count and the first few."""
    user = auth_user(request)
    if not any(user.has_perm(f"registry.view_{kind}") for kind in SEARCHABLE):
        raise HttpError(403, "Your role may not view the registry")
    q, limit = params.q, params.limit
    if not q.strip():
        invalid("q", "the search text is empty")
    result = registry_search(user=user, query=q, limit=limit)

    def section(
        matches: SearchSection | None, render: Callable[[Any, User], dict[str, Any]]
    ) -> dict[str, Any] | None:
        if matches is None:
            return None
        return {"count": matches.count, "items": [render(obj, user) for obj in matches.items]}

    return {
        "query": q,
        "residents": section(result.residents, resident_out),
        "households": section(result.households, household_out),
        "enterprises": section(result.enterprises, enterprise_out),
    }


# Coverage audit


class CoverageSamples(Schema):
    households_without_grid: list[str]
    households_outside_grid: list[str]
    residents_without_household: list[str] = Field(description="Masked ID numbers.")
    empty_households: list[str]
    duplicate_id_numbers: list[str] = Field(description="Masked ID numbers.")
    grids_without_worker: list[str]


class CoverageOut(Schema):
    """The "格不漏户、户不漏人" audit, as `grassroots audit coverage --json` prints it."""

    households_total: int
    residents_total: int = Field(description="Current residents.")
    households_without_grid: int
    households_outside_grid: int = Field(
        description="Households whose coordinates lie outside their grid's polygon."
    )
    residents_without_household: int
    empty_households: int = Field(description="Households without a current resident.")
    duplicate_id_numbers: int
    grids_without_worker: int
    samples: CoverageSamples


class CoverageQuery(Schema):
    scope: TextFilter = filter_field(
        "A unit or grid code inside your scope (without it, your whole scope). "
        "A code outside your scope answers 404.",
        ANY_PLACE_CODE_PATTERN,
    )


@router.get(
    "/audit/coverage",
    response=responses(CoverageOut),
    operation_id="getCoverageAudit",
    tags=["audit"],
    summary="Coverage audit (格不漏户、户不漏人)",
)
def coverage_audit(request: HttpRequest, params: Query[CoverageQuery]) -> dict[str, Any]:
    """Households outside grids, residents outside households and the other coverage gaps."""
    user = require_perm(request, "registry.view_coverage")
    scope = params.scope
    if scope is None:
        return coverage_report(Scope.for_user(user)).as_dict()
    if not (scope.isascii() and scope.isdigit() and len(scope) in SCOPE_CODE_LENGTHS):
        invalid("scope", "a scope is a unit code (6, 9 or 12 digits) or a grid code (15 digits)")
    # The named node must be a unit or grid the user can see: outside the scope is 404.
    if not (
        Unit.objects.visible_to(user).filter(code=scope).exists()
        or Grid.objects.visible_to(user).filter(code=scope).exists()
    ):
        raise Http404
    return coverage_report(Scope.of(scope)).as_dict()

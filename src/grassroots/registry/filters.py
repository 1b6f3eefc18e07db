"""The filters of the registry's lists: one definition each, for the API and the pages.

`GET /api/v1/households` takes HouseholdFilters as its query parameters, and the grid worker's
household search (/w/households/) reads the same names from its query string with
`HouseholdFilters.parse`; both narrow the selector's list with `filter`. Residents and
enterprises likewise. Empty means no filter; the patterns tell the OpenAPI document what each
parameter takes.

A grid or unit outside the user's scope (or one that does not exist) narrows to nothing, never a
hint that it exists; a tag outside the vocabulary the user may see is refused with a
ValidationError naming `tag`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from ninja import Field
from pydantic import field_validator

from grassroots.core.api_support import (
    GRID_CODE_PATTERN,
    UNIT_CODE_PATTERN,
    TextFilter,
    check_grid_code,
    check_unit_code,
    filter_field,
    id_field,
)
from grassroots.core.filters import Filters
from grassroots.core.text import clean_text

from .models import CURRENT_RESIDENT, Enterprise, Household, Resident
from .selectors import enterprise_q, household_search_q, resident_search_q, tag_condition, under

if TYPE_CHECKING:
    from grassroots.accounts.models import User

_GRID_HELP = "Grid code (15 digits). A grid outside your scope gives an empty list."
_UNIT_HELP = (
    "Unit code (county, town or village): keeps rows anywhere under that unit. "
    "A unit outside your scope gives an empty list."
)
_TAG_HELP = "A tag of the vocabulary, e.g. 低保; an unknown tag is refused with 422."


class TerritoryFilters(Filters):
    """The `grid` and `unit` filters shared by registry lists."""

    grid: TextFilter = filter_field(_GRID_HELP, GRID_CODE_PATTERN)
    unit: TextFilter = filter_field(_UNIT_HELP, UNIT_CODE_PATTERN)

    @field_validator("grid")
    @classmethod
    def _check_grid(cls, value: str | None) -> str | None:
        return check_grid_code(value)

    @field_validator("unit")
    @classmethod
    def _check_unit(cls, value: str | None) -> str | None:
        return check_unit_code(value)

    def _territory(self, rows: QuerySet[Any], grid_code: str) -> QuerySet[Any]:
        if self.grid:
            rows = rows.filter(**{grid_code: self.grid})
        if self.unit:
            rows = rows.filter(under(self.unit))
        return rows


class HouseholdFilters(TerritoryFilters):
    tag: TextFilter = filter_field(_TAG_HELP)
    q: TextFilter = filter_field(
        "Start of the household code, part of the address, or (if your role may view "
        "residents) a member's name, pinyin, pinyin initials or the last 4 or more "
        "characters of their ID number."
    )

    def filter(self, households: QuerySet[Household], *, user: User) -> QuerySet[Household]:
        """`households` (registry.selectors.household_list) narrowed by these filters."""
        households = self._territory(households, "grid__code")
        if self.tag:
            households = households.filter(tag_condition(self.tag, user))
        if self.q and clean_text(self.q):
            households = households.filter(household_search_q(user, self.q))
        return households


class ResidentFilters(TerritoryFilters):
    tag: TextFilter = filter_field(_TAG_HELP)
    household: int | None = id_field("Household id.")
    current: bool | None = Field(
        None, description="true: only current residents; false: only moved out or deceased."
    )
    q: TextFilter = filter_field(
        "Name (simplified or traditional characters), full pinyin, pinyin initials, "
        "or the last 4 or more characters of the ID number."
    )

    def filter(self, residents: QuerySet[Resident], *, user: User) -> QuerySet[Resident]:
        """`residents` (registry.selectors.resident_list) narrowed by these filters."""
        residents = self._territory(residents, "household__grid__code")
        if self.tag:
            residents = residents.filter(tag_condition(self.tag, user))
        if self.household is not None:
            residents = residents.filter(household_id=self.household)
        if self.current is True:
            residents = residents.filter(CURRENT_RESIDENT)
        elif self.current is False:
            residents = residents.exclude(CURRENT_RESIDENT)
        if self.q:
            residents = residents.filter(resident_search_q(self.q))
        return residents


class EnterpriseFilters(TerritoryFilters):
    industry: TextFilter = filter_field("Industry, exactly as registered.")
    q: TextFilter = filter_field("Part of the name, or the full credit code.")

    def filter(self, enterprises: QuerySet[Enterprise], *, user: User) -> QuerySet[Enterprise]:
        """`enterprises` (registry.selectors.enterprise_list) narrowed by these filters."""
        enterprises = self._territory(enterprises, "grid__code")
        if self.industry:
            enterprises = enterprises.filter(industry=clean_text(self.industry))
        if self.q:
            enterprises = enterprises.filter(enterprise_q(self.q))
        return enterprises

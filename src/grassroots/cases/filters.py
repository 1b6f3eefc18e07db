"""The filters of the case list, defined once: the API's `GET /api/v1/cases` takes them as its
query (and documents them from here), the console's queue as its form's fields, under the same
names; `filter()` is the one place that turns them into a query. Every filter is optional, and
one sent empty (as an HTML form sends a field left blank) is no filter. A page applies what it
can of a query (`parse`: the values refused are left out, with their messages).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated, Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field
from pydantic import BeforeValidator, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from grassroots.core.api_support import PLACE_CODE_PATTERN, TextFilter, filter_field
from grassroots.core.filters import Filters
from grassroots.core.scoping import Scope

from .intake import normalize_tracking_code
from .models import Case, Stage, Tier, overdue_q

if TYPE_CHECKING:
    from grassroots.accounts.models import User

_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_filter", message)


def _flag(value: Any) -> bool | None:
    """true/false as a query or a checkbox sends it; empty: no filter."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _refuse(_("Enter true or false"))


def _day(value: Any) -> datetime.date | None:
    """A date as YYYY-MM-DD only (a bare number is refused); empty: no filter."""
    if value in (None, "") or isinstance(value, datetime.date):
        return value or None
    text = str(value)
    try:
        if len(text) != 10:
            raise ValueError(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise _refuse(_("Enter a date as YYYY-MM-DD")) from None


_EMPTY: dict[str, Any] = {"type": "string", "maxLength": 0}
Flag = Annotated[bool | None, BeforeValidator(_flag)]
Day = Annotated[datetime.date | None, BeforeValidator(_day)]


def _flag_field(description: str) -> Any:
    return Field(
        None,
        description=description + " Empty: no filter.",
        json_schema_extra={"anyOf": [{"type": "boolean"}, _EMPTY]},
    )


def _day_field(description: str) -> Any:
    return Field(
        None,
        description=description + " Empty: no filter.",
        json_schema_extra={"anyOf": [{"type": "string", "format": "date"}, _EMPTY]},
    )


def _choice_field(description: str, values: list[str]) -> Any:
    return Field(
        None,
        description=description + " Empty: no filter.",
        json_schema_extra={"enum": [*values, ""]},
    )


def _code(value: str | None, lengths: tuple[int, ...]) -> str | None:
    if value is not None and not (value.isascii() and value.isdigit() and len(value) in lengths):
        raise _refuse(_("A code has %(lengths)s digits") % {"lengths": "/".join(map(str, lengths))})
    return value


def _choice(value: str | None, values: list[str]) -> str | None:
    if value is not None and value not in values:
        raise _refuse(_("%(value)s is not one of the choices") % {"value": value[:50]})
    return value


class CaseFilter(Filters):
    """The case list's filters (see the module's docstring)."""

    q: TextFilter = filter_field("Tracking code, or part of it (case and dashes ignored).")
    scope: TextFilter = filter_field("Unit or grid code: cases under it.", PLACE_CODE_PATTERN)
    grid: TextFilter = filter_field("Grid code (15 digits).", r"^(\d{15})?$")
    queue: TextFilter = filter_field(
        "Unit code: the cases waiting in that unit's own queue (in no grid).",
        r"^(\d{6}|\d{9}|\d{12})?$",
    )
    stage: TextFilter = _choice_field("Stage.", list(Stage.values))
    open: Flag = _flag_field("true: cases still waiting for someone; false: the others.")
    category: TextFilter = filter_field("Category code, e.g. environment.")
    tier: TextFilter = _choice_field("The tier the case is at.", list(Tier.values))
    channel: TextFilter = _choice_field("How it was reported.", list(Case.Channel.values))
    urgent: Flag = _flag_field("true: urgent cases only.")
    overdue: Flag = _flag_field(
        "true: open cases past their due date (due_at, the promise made at intake)."
    )
    mine: Flag = _flag_field("true: cases assigned to you.")
    since: Day = _day_field("Reported on or after this date (YYYY-MM-DD).")
    until: Day = _day_field("Reported on or before this date (YYYY-MM-DD).")

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str | None) -> str | None:
        return _code(value, (6, 9, 12, 15))

    @field_validator("grid")
    @classmethod
    def _grid(cls, value: str | None) -> str | None:
        return _code(value, (15,))

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str | None) -> str | None:
        return _code(value, (6, 9, 12))

    @field_validator("stage")
    @classmethod
    def _stage(cls, value: str | None) -> str | None:
        return _choice(value, list(Stage.values))

    @field_validator("tier")
    @classmethod
    def _tier(cls, value: str | None) -> str | None:
        return _choice(value, list(Tier.values))

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        return _choice(value, list(Case.Channel.values))

    @field_validator("until")
    @classmethod
    def _until(cls, value: datetime.date | None, info: ValidationInfo) -> datetime.date | None:
        since = info.data.get("since")
        if value is not None and since is not None and since > value:
            raise _refuse(_("This date comes before the start date"))
        return value

    def filter(
        self, cases: QuerySet[Case], *, user: User | Any, now: datetime.datetime | None = None
    ) -> QuerySet[Case]:
        """`cases` narrowed by every filter given."""
        qs = cases
        code = normalize_tracking_code(self.q or "")
        if code:
            qs = qs.filter(tracking_code__contains=code)
        for place in (self.scope, self.grid):
            if place:
                qs = qs.filter(Scope.of(place).q("scope_code"))
        if self.queue:
            # The unit's own queue: cases placed at the unit, in no grid (no point, no household).
            qs = qs.filter(scope_code=self.queue)
        if self.open is not None:
            qs = qs.filter(is_open=self.open)
        exact = {
            "stage": self.stage,
            "category__code": self.category,
            "tier": self.tier,
            "channel": self.channel,
        }
        qs = qs.filter(**{name: value for name, value in exact.items() if value})
        if self.urgent:
            qs = qs.filter(urgent=True)
        if self.overdue:
            qs = qs.filter(overdue_q(now or timezone.now()))
        if self.mine:
            qs = qs.filter(assignee=user)
        if self.since is not None:
            qs = qs.filter(reported_on__gte=self.since)
        if self.until is not None:
            qs = qs.filter(reported_on__lte=self.until)
        return qs

"""Shared pieces of the JSON API: the caller, permission checks, pagination, input errors.

The API object itself (authentication, error handlers, routers) lives in grassroots.api; the
app routers import only from here, so that they do not depend on each other or on that module.
"""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import BeforeValidator, WithJsonSchema, field_validator

if TYPE_CHECKING:
    from grassroots.accounts.models import User

_M = TypeVar("_M", bound=models.Model)

# ASCII digits: \d would also take other scripts' digits, which no code has.
_UNIT_CODE = re.compile(r"^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$")
_GRID_CODE = re.compile(r"^[0-9]{15}$")


def auth_user(request: HttpRequest) -> User:
    """The user the request is authenticated as (set by the API's authentication classes)."""
    user = getattr(request, "auth_user", None)
    if user is None:  # Only reachable from an operation declared with auth=None.
        raise HttpError(401, "Authentication required")
    return user  # type: ignore[no-any-return]


def require_perm(request: HttpRequest, *perms: str) -> User:
    """The caller, if their role grants every one of `perms`; otherwise a 403."""
    user = auth_user(request)
    missing = [perm for perm in perms if not user.has_perm(perm)]
    if missing:
        raise HttpError(403, f"Your role lacks the permission {', '.join(missing)}")
    return user


def invalid(field: str, reason: str) -> NoReturn:
    """Refuse a query parameter with the same 422 shape as a failed schema validation."""
    raise NinjaValidationError([{"loc": ("query", field), "msg": reason, "type": "value_error"}])


def check_unit_code(value: str | None) -> str | None:
    """A pydantic validator body: unit codes have 2, 4, 6, 9 or 12 digits."""
    if value is not None and not _UNIT_CODE.match(value):
        raise ValueError("a unit code has 6 (county), 9 (town) or 12 (village) digits")
    return value


def check_grid_code(value: str | None) -> str | None:
    """A pydantic validator body: grid codes have 15 digits."""
    if value is not None and not _GRID_CODE.match(value):
        raise ValueError("a grid code has 15 digits")
    return value


# --- Query parameters whose document tells the truth ---------------------------------------
# A filter sent empty (`?grid=`, as an HTML form sends a field left blank) means no filter; the
# document says so with a pattern that admits the empty string. Dates are ISO dates only: a bare
# number (`until=0`, which pydantic read as 1970-01-01) is refused. The patterns are for the
# document; our own validators keep their messages.

UNIT_CODE_PATTERN = r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})?$"
GRID_CODE_PATTERN = r"^(\d{15})?$"
PLACE_CODE_PATTERN = r"^(\d{6}|\d{9}|\d{12}|\d{15})?$"
# The coverage audit also takes a province (2) or city (4) code.
ANY_PLACE_CODE_PATTERN = r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12}|\d{15})?$"
NO_NUL_PATTERN = r"^[^\u0000]*$"
# Some text that is not only spaces, and no NUL.
SOME_TEXT_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def blank_as_none(value: Any) -> Any:
    """An empty query parameter is no filter at all."""
    return None if value == "" else value


def iso_date_only(value: Any) -> Any:
    if value is None or isinstance(value, datetime.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("a date as YYYY-MM-DD")
    return value


def filter_field(description: str, pattern: str | None = None) -> Any:
    """A text filter of a list: empty means none; `pattern` documents what it takes."""
    # Without a pattern of its own: any text but NUL (refused in every address, see
    # core.middleware.RefuseNulMiddleware).
    extra: dict[str, Any] = {"pattern": pattern or NO_NUL_PATTERN}
    return Field(None, description=description + " Empty: no filter.", json_schema_extra=extra)  # type: ignore[arg-type]


# The id of a row named in a filter or a body: what a database key can hold (a larger number
# made SQLite fail with a 500).
MAX_ID = 2**63 - 1


def id_field(description: str, default: Any = None) -> Any:
    return Field(default, ge=1, le=MAX_ID, description=description)


# A filter's text, empty meaning none.
TextFilter = Annotated[str | None, BeforeValidator(blank_as_none)]
# A date in a query: YYYY-MM-DD only.
DateParam = Annotated[
    datetime.date | None,
    BeforeValidator(iso_date_only),
    WithJsonSchema({"type": "string", "format": "date"}),
]


class FieldError(Schema):
    field: str = Field(description="The parameter, e.g. page_size.")
    reason: str


class ErrorOut(Schema):
    """The body of every error response."""

    detail: str
    errors: list[FieldError] | None = Field(None, description="Only for invalid input (422).")


# Error responses every authenticated operation may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int, type[Schema]] = {
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
}


def responses(ok: Any) -> dict[int, Any]:
    """`response=` of an operation: `ok` for 200, plus the error shapes."""
    return {200: ok, **ERROR_RESPONSES}


class Ref(Schema):
    """A territory unit or grid named by code and name."""

    code: str
    name: str


def ref(obj: Any) -> dict[str, str] | None:
    return {"code": obj.code, "name": obj.name} if obj is not None else None


class PageQuery(Schema):
    """`page` and `page_size` query parameters of every list."""

    page: int = Field(1, ge=1, description="Page number, from 1.")
    page_size: int = Field(
        settings.API_PAGE_SIZE,
        ge=1,
        description=f"Items per page, at most {settings.API_MAX_PAGE_SIZE}.",
        json_schema_extra={"maximum": settings.API_MAX_PAGE_SIZE},
    )

    @field_validator("page_size")
    @classmethod
    def _page_size_limit(cls, value: int) -> int:
        # Read at request time so that a changed setting takes effect without a restart.
        limit = settings.API_MAX_PAGE_SIZE
        if value > limit:
            raise ValueError(f"at most {limit} items per page")
        return value


class Page(Schema):
    """The envelope of a list: the total count, the page asked for and its items."""

    count: int = Field(description="Items matching the filters, over all pages.")
    page: int
    page_size: int


def paginate(queryset: models.QuerySet[_M], params: PageQuery) -> dict[str, Any]:
    """One page of an ordered queryset. A page past the end is empty, not an error."""
    if params.page == 1:
        # A first page that is not full holds every item: no count to make.
        items = list(queryset[: params.page_size])
        count = len(items) if len(items) < params.page_size else queryset.count()
        return {"count": count, "page": 1, "page_size": params.page_size, "items": items}
    count = queryset.count()
    start = (params.page - 1) * params.page_size
    return {
        "count": count,
        "page": params.page,
        "page_size": params.page_size,
        # Past the end, no query: an offset as large as page=10**30 overflows the database's
        # integers (a 500 that schemathesis found).
        "items": list(queryset[start : start + params.page_size]) if start < count else [],
    }

"""Shared pieces of the JSON API: the caller, permission checks, pagination, input errors.

The API object itself (authentication, error handlers, routers) lives in grassroots.api; the
app routers import only from here, so that they do not depend on each other or on that module.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import field_validator

if TYPE_CHECKING:
    from grassroots.accounts.models import User

_M = TypeVar("_M", bound=models.Model)

_UNIT_CODE = re.compile(r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")
_GRID_CODE = re.compile(r"^\d{15}$")


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

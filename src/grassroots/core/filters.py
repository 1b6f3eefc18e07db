"""What every list's filters are: one ninja Schema per list, for the API, the pages and commands.

A list's filters live in its domain app (cases.filters, registry.filters, audit.filters). The
API takes them as query parameters (`filters: Query[HouseholdFilters]`), so the OpenAPI document
says what each one takes; a page or a command reads the same names from its query string, form
or options with `parse` (which refuses, naming the parameter: a command) or `parse_leniently`
(which leaves out what it refuses and says why: a page that keeps showing its list). Either way
the schema's own validators check them, and its `filter` method narrows a queryset that a
selector started from `visible_to(user)`: one definition, every door.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from ninja import Schema
from pydantic import ValidationError as PydanticValidationError


class Filters(Schema):
    """The filters of one list. Subclasses declare the fields and a `filter` method."""

    @classmethod
    def parse(cls, given: Mapping[str, Any]) -> Self:
        """The filters named in `given` (a query string, a form's cleaned data, a command's
        options; other keys are ignored, a missing or empty value is no filter).

        Raises ValidationError with the messages of each parameter that does not parse, as the
        API's 422 names them.
        """
        values = {name: given.get(name) for name in cls.model_fields if given.get(name) is not None}
        try:
            return cls(**values)
        except PydanticValidationError as exc:
            errors: dict[str, list[str]] = {}
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else NON_FIELD_ERRORS
                # pydantic's prefix for the messages of our own validators.
                errors.setdefault(name, []).append(error["msg"].removeprefix("Value error, "))
            raise ValidationError(errors) from None

    @classmethod
    def parse_leniently(cls, given: Mapping[str, Any]) -> tuple[Self, dict[str, list[str]]]:
        """As `parse`, for a page that keeps showing its list: a value that does not parse is
        left out, its messages returned by parameter name; the other filters still apply."""
        values = {name: given.get(name) for name in cls.model_fields if given.get(name) is not None}
        errors: dict[str, list[str]] = {}
        while True:
            try:
                return cls(**values), errors
            except PydanticValidationError as exc:
                refused = set()
                for error in exc.errors():
                    name = str(error["loc"][0]) if error["loc"] else NON_FIELD_ERRORS
                    errors.setdefault(name, []).append(error["msg"].removeprefix("Value error, "))
                    refused.add(name)
                if not refused & values.keys():
                    return cls(), errors  # refused as a whole: no filter applies
                for name in refused:
                    values.pop(name, None)

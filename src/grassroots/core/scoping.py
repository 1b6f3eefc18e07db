"""The one scoping mechanism: which territory a user may see.

Every scoped row carries the territory code it belongs to (a unit code or a grid code). Codes
are paths: everything under X has a code that starts with X. A user's scope is one code, or for
a grid worker the codes of the grids assigned to them. `visible_to(user)` turns that into a
filter on the row's code column, and every read of scoped data (admin, API, pages, commands,
the coverage audit) starts from it.

The prefix test is written as a range, code >= X and code < next(X), where next(X) is X with its
last digit raised by one (after dropping trailing nines): 350426 -> 350427, 350429 -> 35043.
Codes are digits only, and strings of digits sort the same way under every collation (C,
ICU zh-CN, en-US), so a plain B-tree index serves the range on SQLite and PostgreSQL alike.
LIKE 'X%' needs a pattern operator class on PostgreSQL, and an upper bound such as X + ":"
breaks under ICU collations, which ignore punctuation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from grassroots.accounts.models import User

_M = TypeVar("_M", bound=models.Model)


def code_upper_bound(code: str) -> str | None:
    """The smallest digit string above every code that starts with `code` (None: no such)."""
    stripped = code.rstrip("9")
    if not stripped or not code.isdigit():
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)


# The lengths of territory codes, nearest the root first: province, city, county, town,
# village or community, grid.
CODE_LENGTHS = (2, 4, 6, 9, 12, 15)


def ancestors(code: str, longest: int = 15) -> list[str]:
    """The territory nodes holding `code` (itself included), nearest first, none deeper than
    `longest`: 350426100001 -> 350426100001, 350426100, 350426, 3504, 35."""
    return [code[:n] for n in reversed(CODE_LENGTHS) if n <= min(len(code), longest)]


def common_ancestor(codes: Iterable[str], longest: int = 15) -> str:
    """The deepest territory node (none deeper than `longest`) holding every one of `codes`;
    "" when there is none or no code."""
    codes = list(codes)
    if not codes:
        return ""
    first, last = min(codes), max(codes)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return next((first[:m] for m in reversed(CODE_LENGTHS) if m <= min(n, longest)), "")


@dataclass(frozen=True)
class Scope:
    """A set of territory subtrees; `codes is None` means everything (superusers, commands)."""

    codes: tuple[str, ...] | None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def nothing(cls) -> Scope:
        return cls(())

    @classmethod
    def of(cls, *codes: str) -> Scope:
        return cls(tuple(sorted(set(codes))))

    @classmethod
    def for_user(cls, user: Any) -> Scope:
        if user is None or not getattr(user, "is_authenticated", False):
            return cls.nothing()
        if not user.is_active:
            return cls.nothing()
        if user.is_superuser:
            return cls.everything()
        return cls.of(*user.scope_codes())

    @property
    def is_everything(self) -> bool:
        return self.codes is None

    def q(self, field: str) -> Q:
        """A filter keeping rows whose `field` lies under one of the scope's codes."""
        if self.codes is None:
            return Q()
        if not self.codes:
            return Q(pk__in=[])
        condition = Q()
        for code in self.codes:
            upper = code_upper_bound(code)
            if upper is None:
                condition |= Q(**{f"{field}__startswith": code})
            else:
                condition |= Q(**{f"{field}__gte": code, f"{field}__lt": upper})
        return condition

    def sql(self, column: str) -> tuple[str, list[str]]:
        """The same filter as `q` as a WHERE fragment and its parameters, for the few raw
        queries (`column` is quoted by the caller)."""
        if self.codes is None:
            return "1 = 1", []
        if not self.codes:
            return "1 = 0", []
        parts, params = [], []
        for code in self.codes:
            upper = code_upper_bound(code)
            if upper is None:
                parts.append(f"{column} LIKE %s")
                params.append(code + "%")
            else:
                parts.append(f"({column} >= %s AND {column} < %s)")
                params += [code, upper]
        return " OR ".join(parts), params

    def contains(self, code: str | None) -> bool:
        if self.codes is None:
            return True
        if not code:
            return False
        return any(code.startswith(c) for c in self.codes)

    def narrow(self, code: str) -> Scope:
        """The part of this scope under `code` (empty if `code` lies outside it)."""
        if self.codes is None:
            return Scope.of(code)
        inside = [c for c in self.codes if c.startswith(code)]
        if any(code.startswith(c) for c in self.codes):
            inside.append(code)
        return Scope.of(*inside)


class ScopedQuerySet(models.QuerySet[_M]):
    """A queryset whose model names the column holding its territory code."""

    scope_field = "scope_code"

    def in_scope(self, scope: Scope) -> ScopedQuerySet[_M]:
        return self.filter(scope.q(self.scope_field))

    def visible_to(self, user: User | Any) -> ScopedQuerySet[_M]:
        return self.in_scope(Scope.for_user(user))


class CodeScopedQuerySet(ScopedQuerySet[_M]):
    """For territory rows, whose own code is their scope."""

    scope_field = "code"

"""Pagination and sorting for every list page, from `?page=` and `?sort=` (`-` for descending).

A view names the sort keys it offers and the model fields behind them; anything else in
`?sort=` falls back to the default, and a page number past the end shows the last page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PER_PAGE = 25
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Sorting:
    key: str
    descending: bool
    order_by: tuple[str, ...]


def sorting_of(request: HttpRequest, sorts: dict[str, Sequence[str]], default: str) -> Sorting:
    """The sort the request asks for, among `sorts` (key → fields), else `default` ('-key' ok)."""
    raw = request.GET.get("sort") or default
    descending = raw.startswith("-")
    key = raw.lstrip("-")
    if key not in sorts:
        descending = default.startswith("-")
        key = default.lstrip("-")
    fields = tuple(sorts[key])
    if descending:
        fields = tuple(f[1:] if f.startswith("-") else f"-{f}" for f in fields)
    return Sorting(key, descending, fields)


def paginate(request: HttpRequest, items: Any, per_page: int = PER_PAGE) -> Page:
    """The requested page of `items` (a queryset or list); bad page numbers give the nearest."""
    try:
        size = min(max(int(request.GET.get("per_page", per_page)), 1), MAX_PER_PAGE)
    except ValueError:
        size = per_page
    paginator = Paginator(items, size)
    return paginator.get_page(request.GET.get("page"))


def sorted_page(
    request: HttpRequest,
    queryset: Any,
    sorts: dict[str, Sequence[str]],
    default: str,
    per_page: int = PER_PAGE,
) -> dict[str, Any]:
    """`page_obj` and `sorting` for a template, the queryset ordered (pk last, for stable pages)."""
    sorting = sorting_of(request, sorts, default)
    ordered = queryset.order_by(*sorting.order_by, "pk")
    return {"page_obj": paginate(request, ordered, per_page), "sorting": sorting}

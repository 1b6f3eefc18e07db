"""Template helpers of the web pages: links that keep the query string, sortable headers."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag(takes_context=True)
def query(context: dict[str, Any], **changes: Any) -> str:
    """`?…` of the current request with some parameters changed (None or "" removes one).

    Changing anything but the page goes back to the first page.
    """
    params = context["request"].GET.copy()
    if "page" not in changes:
        params.pop("page", None)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def sort_header(context: dict[str, Any], key: str, label: Any) -> str:
    """A `<th>` whose link sorts the list by `key`, and the other way round when it already is.

    Reads `sorting` (a paging.Sorting) from the context.
    """
    sorting = context["sorting"]
    current = sorting.key == key
    descending = current and sorting.descending
    target = key if descending or not current else f"-{key}"
    if current:
        aria = "descending" if descending else "ascending"
        arrow = "▼" if descending else "▲"
    else:
        aria, arrow = "none", ""
    hint = _("Sort by %(column)s") % {"column": label}
    return format_html(
        '<th scope="col" aria-sort="{}"><a href="{}" title="{}">{} <span aria-hidden="true">{}'
        "</span></a></th>",
        aria,
        query(context, sort=target),
        hint,
        label,
        arrow,
    )


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """`mapping|get_item:key` for dictionaries keyed by a variable."""
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None

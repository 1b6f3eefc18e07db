"""Amounts of money on the pages: yuan grouped by thousands with a comma, as in Chinese
accounts as well as English (the zh-hans number format groups nothing), cents only when any."""

from __future__ import annotations

import decimal
from typing import Any

from django import template

register = template.Library()


@register.filter
def yuan(value: Any) -> str:
    """`1850000` → `1,850,000`; `32000.5` → `32,000.50`; None → ``."""
    if value is None or value == "":
        return ""
    try:
        amount = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        return str(value)
    text = f"{amount:,.2f}"
    return text.removesuffix(".00")

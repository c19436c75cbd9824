"""Formatting for the dashboard templates: numbers, money with its currency, query strings."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django import template

from dashboard.selectors.common import connection_label as _connection_label

register = template.Library()

DASH = "—"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def num(value: Any, places: int = 0) -> str:
    """A number with thousands separators and a fixed number of decimals; a dash for None."""
    number = _decimal(value)
    if number is None:
        return DASH
    return f"{number:,.{int(places)}f}"


@register.filter
def smart(value: Any) -> str:
    """Up to two decimals, none when the number is whole (conversions: 12 or 12.5)."""
    number = _decimal(value)
    if number is None:
        return DASH
    text = f"{number:,.2f}"
    return text[:-3] if text.endswith(".00") else text


@register.filter
def money(value: Any, currency: str = "") -> str:
    number = _decimal(value)
    if number is None:
        return DASH
    return f"{number:,.2f} {currency}".strip()


@register.filter
def pct(value: Any, places: int = 2) -> str:
    number = _decimal(value)
    if number is None:
        return DASH
    return f"{number:,.{int(places)}f}%"


@register.filter
def times(value: Any) -> str:
    """A ratio such as ROAS: 3.20×."""
    number = _decimal(value)
    if number is None:
        return DASH
    return f"{number:,.2f}×"


@register.filter
def signed_pct(value: Any) -> str:
    number = _decimal(value)
    if number is None:
        return ""
    arrow = "▲" if number > 0 else "▼" if number < 0 else "■"
    return f"{arrow} {abs(number):,.1f}%"


@register.simple_tag
def query(*bases: Mapping[str, Any] | None, **overrides: Any) -> str:
    """``?a=1&b=2`` from mappings (later wins) and keyword overrides; empty values are left out."""
    merged: dict[str, Any] = {}
    for base in bases:
        if base:
            merged.update(base)
    merged.update(overrides)
    clean = {k: v for k, v in merged.items() if v not in (None, "")}
    return "?" + urlencode(clean) if clean else "?"


@register.filter
def get(mapping: Mapping[str, Any], key: str) -> Any:
    return mapping.get(key) if mapping else None


@register.filter
def connection_label(connection: Any) -> str:
    """A connection with its platform and account, so two of the same name are told apart."""
    return _connection_label(connection)

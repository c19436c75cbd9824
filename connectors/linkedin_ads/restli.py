"""Rest.li 2.0 query encoding for LinkedIn.

Structured values (``(k:v)``, ``List(...)``) go into the query string raw; only the leaves are
percent-encoded, so a URN's colons become ``%3A`` while the parentheses, commas and colons of the
structure stay as they are. ``requests`` would encode the structure too, so these parts are
passed pre-encoded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from urllib.parse import quote


def urn(kind: str, ident: str | int) -> str:
    return f"urn:li:{kind}:{ident}"


def urn_id(value: str) -> str:
    return value.rsplit(":", 1)[-1]


def leaf(value: str) -> str:
    return quote(str(value), safe="")


def restli_list(items: Iterable[str]) -> str:
    return "List(" + ",".join(leaf(item) for item in items) + ")"


def restli_date(day: date) -> str:
    return f"(year:{day.year},month:{day.month},day:{day.day})"


def date_range(start: date, end: date) -> str:
    return f"(start:{restli_date(start)},end:{restli_date(end)})"


def query_string(params: Iterable[tuple[str, str]]) -> str:
    """Join already-encoded ``key=value`` pairs."""
    return "&".join(f"{key}={value}" for key, value in params)

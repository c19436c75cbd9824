"""Ids a visitor sends in a URL or a query string, checked before they reach the database.

A row id is a 64-bit integer on PostgreSQL and on SQLite alike: a larger one cannot name a row, so
it is not found rather than passed on (SQLite raises ``OverflowError`` for it). A campaign id is
text as the platform sent it; one with NUL in it or longer than its column cannot be in the
warehouse (PostgreSQL refuses NUL in text), so it is not found either.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1


def id_in_range(value: int) -> bool:
    """Whether ``value`` can be a row id (0 is in range and names nothing)."""
    return 0 <= value <= MAX_ID


def id_from_param(value: str | None) -> int | None:
    """The row id in a query parameter such as ``?connection=``; None unless plain ASCII digits in range."""
    text = (value or "").strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if id_in_range(number) else None


def text_can_be_stored(value: str, *, max_length: int) -> bool:
    """Whether a warehouse text column could hold ``value`` (so looking it up can find something)."""
    return len(value) <= max_length and "\x00" not in value

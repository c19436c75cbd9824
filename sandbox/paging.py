"""Collections served a page at a time, as the fakes serve their lists.

Every platform pages by offset underneath (``count``/``offset``, ``page``/``per_page``, or an opaque
token that carries the offset): :func:`page_of` cuts one page from the whole, ordered collection and
says where the pages before and after it start. :func:`offset_token` and :func:`token_offset` are the
opaque tokens of platforms whose next-page token is the offset bound to what was asked (an account,
a query), so that a token is refused anywhere else.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a collection: its items, where it starts, its size and how many items there are."""

    items: list[T]
    offset: int
    size: int
    total: int

    @property
    def number(self) -> int:
        """The page's number, counted from 1."""
        return self.offset // self.size + 1

    @property
    def next_offset(self) -> int | None:
        """Where the next page starts, or None when this is the last."""
        following = self.offset + self.size
        return following if following < self.total else None

    @property
    def previous_offset(self) -> int | None:
        """Where the page before starts, or None for the first."""
        return max(0, self.offset - self.size) if self.offset else None


def page_of(collection: Sequence[T], offset: int, size: int) -> Page[T]:
    """The ``size`` items of ``collection`` from ``offset`` on (fewer at the end, none past it)."""
    return Page(list(collection[offset : offset + size]), offset, size, len(collection))


def offset_token(binding: str, offset: int, *, padded: bool = False) -> str:
    """An opaque page token: ``<binding>:<offset>`` in URL-safe base64 (without its padding, unless
    ``padded``)."""
    token = base64.urlsafe_b64encode(f"{binding}:{offset}".encode()).decode()
    return token if padded else token.rstrip("=")


def token_offset(token: str, binding: str) -> int | None:
    """The offset an :func:`offset_token` carries, when it was made for ``binding``; otherwise None."""
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError:
        return None
    owner, _, offset = decoded.partition(":")
    return int(offset) if owner == binding and offset.isdigit() else None

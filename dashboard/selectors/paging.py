"""One page of a long table: the rows shown, and where they sit in the whole table.

Pages with a table that can run to hundreds of lines (email campaigns, cost per lead) show it a
page at a time; the table's CSV download always holds every line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

ROWS_PER_PAGE = 50


class PagePosition:
    """Where a page of rows sits in the whole table, for the pager under a table."""

    rows: Sequence[Any]
    total: int
    page: int
    pages: int
    per_page: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.rows) - 1 if self.rows else 0


@dataclass(frozen=True)
class RowsPage(PagePosition, Generic[T]):
    rows: list[T]
    total: int
    page: int
    pages: int
    per_page: int = ROWS_PER_PAGE


def page_number_from_params(params: Mapping[str, str], name: str = "page") -> int:
    """The page asked for by ``?page=``; 1 when absent or not a number."""
    try:
        return max(1, int(params.get(name, "1")))
    except ValueError:
        return 1


def rows_page(rows: Sequence[T], page: int = 1, per_page: int = ROWS_PER_PAGE) -> RowsPage[T]:
    """The given page of ``rows`` (the last page when ``page`` is past the end)."""
    pages = max(1, -(-len(rows) // per_page))
    number = min(max(1, page), pages)
    start = (number - 1) * per_page
    return RowsPage(
        rows=list(rows[start : start + per_page]),
        total=len(rows),
        page=number,
        pages=pages,
        per_page=per_page,
    )

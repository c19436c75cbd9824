"""Paginators for Demandbase's two paging styles (same protocol as ``connectors.paginators``).

- Intent: a cursor. The request is a POST whose JSON body carries ``pageSize`` and ``pageToken``; the
  next token is ``pagination.after`` of the answer, ``null`` on the last page (``ApiClient.paginate``
  with ``json_body`` merges ``first()``/``next()`` into the body).
- Export jobs listing: ``page`` (1-based) and ``perPage``, with ``totalCount`` in the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.paginators import dig


class BodyCursorPaginator:
    """A cursor that travels in the request body; no cursor in the answer means the last page."""

    def __init__(
        self,
        *,
        page_size: int,
        cursor_path: Sequence[str] = ("pagination", "after"),
        token_field: str = "pageToken",
        size_field: str = "pageSize",
    ) -> None:
        self.page_size = page_size
        self.cursor_path = tuple(cursor_path)
        self.token_field = token_field
        self.size_field = size_field

    def first(self) -> dict[str, Any]:
        return {self.size_field: self.page_size}

    def next(self, body: Any) -> dict[str, Any] | None:
        cursor = dig(body, self.cursor_path)
        if not isinstance(cursor, str) or not cursor:
            return None
        return {self.size_field: self.page_size, self.token_field: cursor}


class PageTotalPaginator:
    """``page``/``perPage`` paging that stops at ``totalCount``, a short page, or after ``max_pages``."""

    def __init__(
        self,
        *,
        per_page: int,
        records_path: Sequence[str] = ("data",),
        total_path: Sequence[str] = ("totalCount",),
        max_pages: int = 1_000,
    ) -> None:
        self.per_page = per_page
        self.records_path = tuple(records_path)
        self.total_path = tuple(total_path)
        self.max_pages = max_pages
        self.page = 1
        self.seen = 0

    def first(self) -> dict[str, Any]:
        self.page, self.seen = 1, 0
        return {"page": 1, "perPage": self.per_page}

    def next(self, body: Any) -> dict[str, Any] | None:
        records = dig(body, self.records_path)
        count = len(records) if isinstance(records, list) else 0
        self.seen += count
        total = dig(body, self.total_path)
        if count < self.per_page or self.page >= self.max_pages:
            return None
        if isinstance(total, int) and not isinstance(total, bool) and self.seen >= total:
            return None
        self.page += 1
        return {"page": self.page, "perPage": self.per_page}

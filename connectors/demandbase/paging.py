"""The paging of Demandbase's export jobs listing (same protocol as ``connectors.paginators``).

``page`` (1-based) and ``perPage``, with ``totalCount`` in the answer. Intent's cursor, carried in the
query's JSON body, is the shared ``connectors.paginators.CursorPaginator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.paginators import dig


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

"""Paginators: how to ask for the first page and, from a page's body, for the next one.

A paginator is small state plus two methods; ``ApiClient.paginate`` is the only page loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Paginator(Protocol):
    def first(self) -> dict[str, Any]: ...

    def next(self, body: Any) -> dict[str, Any] | None: ...


def dig(body: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


class SinglePage:
    def first(self) -> dict[str, Any]:
        return {}

    def next(self, body: Any) -> dict[str, Any] | None:
        return None


class CursorTokenPaginator:
    """A token from the body names the next page; no token means the last page (LinkedIn, Google)."""

    def __init__(
        self,
        *,
        token_path: Sequence[str],
        token_param: str = "pageToken",
        page_size: int | None = None,
        page_size_param: str = "pageSize",
    ) -> None:
        self.token_path = tuple(token_path)
        self.token_param = token_param
        self.page_size = page_size
        self.page_size_param = page_size_param

    def first(self) -> dict[str, Any]:
        return {self.page_size_param: self.page_size} if self.page_size else {}

    def next(self, body: Any) -> dict[str, Any] | None:
        token = dig(body, self.token_path)
        if not token:
            return None
        return {**self.first(), self.token_param: token}


class OffsetPaginator:
    """``offset``/``count`` paging that stops at the reported total or a short page (Mailchimp)."""

    def __init__(
        self,
        *,
        limit: int,
        records_path: Sequence[str],
        total_path: Sequence[str] | None = None,
        offset_param: str = "offset",
        limit_param: str = "count",
    ) -> None:
        self.limit = limit
        self.records_path = tuple(records_path)
        self.total_path = tuple(total_path) if total_path else None
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.offset = 0

    def first(self) -> dict[str, Any]:
        self.offset = 0
        return {self.offset_param: 0, self.limit_param: self.limit}

    def next(self, body: Any) -> dict[str, Any] | None:
        records = dig(body, self.records_path) or []
        self.offset += len(records)
        total = dig(body, self.total_path) if self.total_path else None
        if not records or len(records) < self.limit or (isinstance(total, int) and self.offset >= total):
            return None
        return {self.offset_param: self.offset, self.limit_param: self.limit}


class PageNumberPaginator:
    """``page``/``per_page`` paging that continues while the body says there is more."""

    def __init__(
        self,
        *,
        per_page: int,
        more_path: Sequence[str],
        page_param: str = "page",
        per_page_param: str = "per_page",
    ) -> None:
        self.per_page = per_page
        self.more_path = tuple(more_path)
        self.page_param = page_param
        self.per_page_param = per_page_param
        self.page = 1

    def first(self) -> dict[str, Any]:
        self.page = 1
        return {self.page_param: 1, self.per_page_param: self.per_page}

    def next(self, body: Any) -> dict[str, Any] | None:
        if not dig(body, self.more_path):
            return None
        self.page += 1
        return {self.page_param: self.page, self.per_page_param: self.per_page}

"""Paginators: how to ask for the first page and, from a page's body, for the next one.

A paginator is small state plus two methods; ``ApiClient.paginate`` is the only page loop. A
declared stream (``StreamSpec.paginator``) builds a fresh one for each read. Platform rules that
fit none of these live beside their connector (Zoho CRM's ``page``-then-``page_token``, Demandbase's
job listing).
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


class CursorPaginator:
    """A token in the answer names the next page; no token (absent, null or empty) ends the listing.

    The token and the page size travel where the request's own parameters do: in the query string
    of a GET, or in the JSON body of a query sent with ``ApiClient.paginate(json_body=...)``
    (LinkedIn's ``metadata.nextPageToken``; Demandbase Intent's ``pagination.after``).
    """

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
        if not isinstance(token, str) or not token:
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

"""Zoho CRM's record paging rule, as a paginator for ``ApiClient.paginate``.

``page``/``per_page`` reach only the first 2,000 records of a listing; past that the API answers 400
``DISCRETE_PAGINATION_LIMIT_EXCEEDED`` and the next page must be asked for with the ``page_token`` of
the previous answer (``info.next_page_token``; ``page`` and ``page_token`` may not be combined). The
listing ends when ``info.more_records`` is false, or with an empty answer (HTTP 204, or 304 under
``If-Modified-Since``).
"""

from __future__ import annotations

from typing import Any

from connectors.errors import MalformedResponse


class ZohoRecordsPaginator:
    def __init__(self, *, per_page: int, discrete_limit: int) -> None:
        self.per_page = per_page
        self.discrete_limit = discrete_limit
        self.page = 1
        self.on_tokens = False

    def first(self) -> dict[str, Any]:
        self.page, self.on_tokens = 1, False
        return {"per_page": self.per_page, "page": 1}

    def next(self, body: Any) -> dict[str, Any] | None:
        info = body.get("info") if isinstance(body, dict) else None
        if not isinstance(info, dict) or info.get("more_records") is not True:
            return None
        self.page += 1
        if not self.on_tokens and self.page * self.per_page <= self.discrete_limit:
            return {"per_page": self.per_page, "page": self.page}
        token = info.get("next_page_token")
        if not isinstance(token, str) or not token:
            raise MalformedResponse(
                f"Zoho CRM reported more records after {(self.page - 1) * self.per_page} but sent no "
                "next_page_token, which is needed to read past the first "
                f"{self.discrete_limit} records"
            )
        self.on_tokens = True
        return {"per_page": self.per_page, "page_token": token}

"""A local imitation of the Google Ads API (gRPC over TLS) and Google's OAuth endpoints.

It follows docs/platform-apis.md, section 1, through the gRPC transport the official library
uses: the real service and message definitions of the pinned API version, bearer tokens and
``login-customer-id`` checked on every call, GAQL parsed and judged, campaign × day rows in
several stream messages, and Google's throttle, authentication and server errors. ``create_app()``
returns the shared ``FakeApi`` for the OAuth endpoints, which starts the gRPC server with it.

``expected_daily_rows`` gives exactly what the API serves for an account and date range, for tests.
"""

from __future__ import annotations

from typing import Any, Final

from sandbox.google_ads.app import (
    DEMO_REFRESH_TOKEN,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    GoogleAdsSandbox,
)
from sandbox.google_ads.catalogue import CUSTOMERS, NORTHWIND_MCC, expected_daily_rows

__all__ = [
    "CUSTOMERS",
    "DEMO_CONNECTIONS",
    "DEMO_REFRESH_TOKEN",
    "NORTHWIND_MCC",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "GoogleAdsSandbox",
    "create_app",
    "expected_daily_rows",
]


def create_app(**options: Any) -> GoogleAdsSandbox:
    """Build the Google Ads fake; its gRPC server starts at once (call ``close()`` to stop it).

    Options: ``clock`` (a ``time.time``-like callable: moving it forward ages the conversions),
    ``access_token_ttl`` (seconds, default 3599), ``stream_batch_rows`` (rows per SearchStream
    message, default 10000), ``search_page_rows`` (Search page size, default 10000), ``grpc_host``
    and ``grpc_port`` (default 127.0.0.1 and a free port); ``unreported_metrics`` (campaign type →
    metrics its campaign rows come without, absent rather than 0, e.g.
    ``{"PERFORMANCE_MAX": ["view_through_conversions"]}``) and ``refused_metrics`` (customer id →
    metrics that account's queries refuse with ``PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE``, e.g.
    ``{"5550003001": ["view_through_conversions"]}``); both default to none, as the demo's accounts.
    ``daily_operations``: the calls allowed per sandbox day (UTC) before RESOURCE_EXHAUSTED; default
    none (no quota).
    """
    return GoogleAdsSandbox(**options)


# `make demo` connects the Northwind manager account: its US (USD) and DACH (EUR) clients are
# synced, its cancelled Legacy Brand client is skipped with a note.
DEMO_CONNECTIONS: Final = (
    {
        "account_id": NORTHWIND_MCC,
        "credentials": {"refresh_token": DEMO_REFRESH_TOKEN},
        "options": {"login_customer_id": "555-000-1000"},
    },
)

"""A local imitation of LinkedIn's Marketing API, for tests and the demo.

It copies what a connector meets on the real service (docs/platform-apis.md, section 2): the OAuth
authorize and token endpoints with 60-day access tokens and a one-year refresh token whose remaining life
counts down; the ``LinkedIn-Version`` / ``X-Restli-Protocol-Version`` header rules; ``adAccounts``,
cursor-paged ``adCampaigns``; and ``adAnalytics`` with raw Rest.li query parameters, a 20-metric cap,
money as decimal strings, no pagination and silent truncation. The numbers come from a fixed catalogue of
accounts and a hash-seeded generator, so every call and every process sees the same data.

``app`` is the fake service, ``catalogue`` its data, ``queries`` what it reads from a request.
"""

from __future__ import annotations

from typing import Any, Final

from sandbox.linkedin_ads.app import (
    ACCESS_TOKEN_TTL,
    DEMO_EXPIRING_DAYS_LEFT,
    DEMO_EXPIRING_REFRESH_TOKEN,
    DEMO_REFRESH_TOKEN,
    REFRESH_TOKEN_TTL,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    LinkedInAdsSandbox,
)
from sandbox.linkedin_ads.catalogue import (
    ACCOUNTS,
    SandboxAccount,
    add_accounts,
    campaigns_for,
    expected_daily_rows,
)
from sandbox.linkedin_ads.queries import parse_analytics_query

__all__ = [
    "ACCESS_TOKEN_TTL",
    "ACCOUNTS",
    "DEMO_CONNECTIONS",
    "DEMO_EXPIRING_DAYS_LEFT",
    "DEMO_EXPIRING_REFRESH_TOKEN",
    "DEMO_REFRESH_TOKEN",
    "REFRESH_TOKEN_TTL",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "LinkedInAdsSandbox",
    "SandboxAccount",
    "add_accounts",
    "campaigns_for",
    "create_app",
    "expected_daily_rows",
    "parse_analytics_query",
]


def create_app(**options: Any) -> LinkedInAdsSandbox:
    """Build the LinkedIn fake.

    Options: ``access_token_ttl`` (seconds, default 5184000), ``refresh_token_ttl`` (default 31536000),
    ``row_cap`` (adAnalytics truncation point, default 15000), ``clock`` (a ``time.time``-like callable,
    handy for moving time forward in tests) and ``unreturned_metrics`` (metrics accepted in ``fields``
    but left out of every adAnalytics element, as after a newer API version retires them; default none).
    """
    return LinkedInAdsSandbox(**options)


# The accounts `make demo` connects: one in dollars, one in euros.
DEMO_CONNECTIONS: Final = (
    {"account_id": "508000001", "credentials": {"refresh_token": DEMO_REFRESH_TOKEN}},
    # Northwind DACH's grant ends in DEMO_EXPIRING_DAYS_LEFT days: the demo's token-expiry notice.
    {"account_id": "508000002", "credentials": {"refresh_token": DEMO_EXPIRING_REFRESH_TOKEN}},
)

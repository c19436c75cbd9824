"""A local imitation of Mailchimp's Marketing API v3.0 and its OAuth service, for tests and the demo.

It copies what a connector meets on the real service (docs/platform-apis.md, section 3), all from one
server:

- the OAuth service (``login.mailchimp.com`` in real life): ``GET /oauth2/authorize`` approves at once
  and redirects with a code; ``POST /oauth2/token`` (authorization_code only) answers
  ``{"access_token", "expires_in": 0, "scope": null}``: tokens never expire and there is no refresh
  token; ``GET /oauth2/metadata`` with ``Authorization: OAuth <token>`` names the account's data centre,
  and answers a bad token with HTTP 200 ``{"error": "invalid_token"}``;
- the data centres (``https://<dc>.api.mailchimp.com`` in real life) as path prefixes:
  ``/<dc>/3.0/...``. A token used on another data centre than its account's gets the 401 "API Key
  Invalid" problem document, as a wrong host does;
- ``/3.0/reports``, ``/3.0/reports/{id}`` and ``/3.0/campaigns`` with ``count`` (default 10, at most
  1000), ``offset``, ``total_items``, send-time filters, and ``fields``/``exclude_fields`` (dot
  notation) honoured;
- at most 10 simultaneous connections per account (429 problem document); throttling also as a bare
  403 or 429 without a body; never a Retry-After header.

Errors are ``application/problem+json`` documents. ``app`` is the fake service, ``catalogue`` its data
(accounts, campaigns over time and their growing reports), ``queries`` what it reads from a request.
"""

from __future__ import annotations

from typing import Any, Final

from sandbox.mailchimp.app import (
    DEMO_ACCESS_TOKEN,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    MailchimpSandbox,
)
from sandbox.mailchimp.catalogue import ACCOUNTS, DEMO_ACCOUNT_ID, expected_campaign_rows

__all__ = [
    "ACCOUNTS",
    "DEMO_ACCESS_TOKEN",
    "DEMO_CONNECTIONS",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "MailchimpSandbox",
    "create_app",
    "expected_campaign_rows",
]


def create_app(**options: Any) -> MailchimpSandbox:
    """Build the Mailchimp fake.

    Options: ``clock`` (a ``time.time``-like callable; reports are read as of its day, and campaigns
    count as sent once their send time has passed), ``latency`` (seconds every data-centre request
    takes, to make simultaneous connections observable, default 0) and ``max_connections``
    (simultaneous data-centre requests allowed per account, default 10); ``reports_without`` (campaign
    type → top-level report objects its reports leave out, as some campaign types' reports do, e.g.
    ``{"plaintext": ["opens", "clicks"]}``; default none).
    """
    return MailchimpSandbox(**options)


# The account `make demo` connects: its OAuth access token never expires.
DEMO_CONNECTIONS: Final[tuple[dict[str, Any], ...]] = (
    {"account_id": DEMO_ACCOUNT_ID, "credentials": {"access_token": DEMO_ACCESS_TOKEN}, "options": {}},
)

"""A local imitation of Zoho CRM's accounts server and REST API (v8), for tests and the demo.

It copies what a connector meets on the real service (docs/platform-apis.md, section 4):

- the accounts server: ``GET /oauth/v2/auth`` approves at once and redirects with ``code``, ``state``,
  ``location`` and ``accounts-server``; ``POST /oauth/v2/token`` takes the ``authorization_code`` and
  ``refresh_token`` grants (form or query parameters), answers with ``api_domain`` (this same server)
  and a one-hour access token, never rotates the refresh token, reports errors with HTTP 200
  ``{"error": ...}`` (``invalid_code``, ``invalid_client``) and refuses more than ten access tokens per
  refresh token in ten minutes (HTTP 400 ``Access Denied``);
- the API on the same server: ``Authorization: Zoho-oauthtoken``, 401 ``INVALID_TOKEN`` after an hour,
  401 ``OAUTH_SCOPE_MISMATCH`` without the right scope, ``GET /crm/v8/org``,
  ``GET /crm/v8/settings/fields?module=``, and ``GET /crm/v8/{Leads|Deals|Campaigns}`` with mandatory
  ``fields`` (at most 50), ``per_page`` at most 200, ``page`` only within the first 2,000 records
  (``DISCRETE_PAGINATION_LIMIT_EXCEEDED``), signed ``page_token`` cursors valid 24 hours that may not
  be combined with ``page``, ``sort_by``/``sort_order``, ``converted`` (false by default),
  ``If-Modified-Since`` (304 when nothing changed) and 204 with an empty body when there is nothing;
  ``GET /crm/v8/{Module}/actions/count`` (``{"count": n}``) with ``criteria`` on ``Modified_Time`` or
  ``Created_Time`` (``(Field:operator:value)`` joined by ``and``; anything else is ``INVALID_QUERY``)
  and ``converted`` for leads; a count narrowed by ``criteria`` is a search, refused with 401
  ``OAUTH_SCOPE_MISMATCH`` unless the token also has ``ZohoSearch.securesearch.READ``;
- the errors envelope ``{"code", "details", "message", "status": "error"}``; 24-hour credits and
  simultaneous calls per org by edition, both answered with 429 ``TOO_MANY_REQUESTS`` and no
  ``Retry-After``; ``X-API-CREDITS-REMAINING`` once half the credits are used.

Data: two orgs. Northwind Traders (IST, multi-currency, UTM custom fields) has 2,450 leads, so a
client that ignores ``page_token`` loses rows, and 320 deals; Northwind GmbH (Berlin, euros only, no
UTM fields) has no leads and 40 deals. Records are hash-seeded and the same in every process; their
modified times spread over the 60 days before the current UTC midnight, so ``If-Modified-Since``
filters, and stay put for the whole day.

``app`` is the fake service, ``catalogue`` its data.
"""

from __future__ import annotations

from typing import Any, Final

from sandbox.zoho_crm.app import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, ZohoCrmSandbox
from sandbox.zoho_crm.catalogue import (
    DEMO_ORG,
    DEMO_REFRESH_TOKEN,
    GMBH_REFRESH_TOKEN,
    ORGS,
    credit_limit,
    expected_records,
)

__all__ = [
    "DEMO_CONNECTIONS",
    "DEMO_ORG",
    "DEMO_REFRESH_TOKEN",
    "GMBH_REFRESH_TOKEN",
    "ORGS",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "ZohoCrmSandbox",
    "create_app",
    "credit_limit",
    "expected_records",
]


def create_app(**options: Any) -> ZohoCrmSandbox:
    """Build the Zoho CRM fake.

    Options: ``access_token_ttl`` (seconds, default 3600); ``api_domain`` (what token answers name as the
    API host; default this server as the client reached it); ``credit_limit`` (24-hour credits per org;
    default by edition); ``concurrency_limit`` (simultaneous calls per org; default by edition);
    ``tokens_per_window`` (access tokens per refresh token per ten minutes, default 10); ``clock`` (a
    ``time.time``-like callable); ``removed_fields`` (API names, e.g. ``["Lead_Source", "UTM_Source"]``,
    that this org's layouts lack: not listed by ``/settings/fields`` and refused in ``fields``).
    """
    return ZohoCrmSandbox(**options)


# The org `make demo` connects (its refresh token is accepted by the sandbox).
DEMO_CONNECTIONS: Final = (
    {
        "account_id": DEMO_ORG,
        "credentials": {"refresh_token": DEMO_REFRESH_TOKEN},
        "options": {"accounts_server": "https://accounts.zoho.in"},
    },
)

"""A local imitation of Demandbase One's uapi, for tests and the demo.

It copies what a connector meets on the real service (docs/platform-apis.md, section 5):

- ``POST /auth/v1/token``: the JSON, camelCase client-credentials exchange of an API key set, answering
  ``{"accessToken", "tokenType": "bearer", "expiresIn": 28800}``; 400 on missing or incorrect
  parameters (the real body is undocumented: the sandbox uses the errorCode envelope).
- ``POST /data/intent/v1/companies/intent/query``: body filters (``companyIds``, ``keywordSetIds``,
  ``keywords``, ``startDate``/``endDate`` ≤ 12 months, ``intentStrength``, people researching), sorting,
  cursor paging with ``pageSize``/``pageToken`` in the body and ``pagination.after/before/totalCount``,
  and the validation codes ``400-218`` … ``400-230``. Intent is reported per company, keyword and
  weekly period (Sunday to Saturday); only completed periods overlapping the range are served.
- The Data Export API: ``GET /v1/fields``, ``POST /v1/job`` (202; validation codes of the published
  registry; one running job per tenant → ``429-102``; 60 jobs a day → ``429-101``; activity exports
  need both dates and at most 90 days; an activity record is one web visit, email open or click, or ad
  click of an account on a day, with its minutes, points and page views, the minutes of a day adding up
  to the account's daily engagement minutes behind the account fields), ``GET /v1/job/{jobId}`` moving ``accepted`` → ``processing`` →
  ``finished`` (after a number of polls or seconds), ``GET /v1/jobs`` (page/perPage/sort/filters) and
  the reference data (``/v1/references``, ``/v1/reference/keywordSet``).
- A finished job's ``resultsUrl`` is a signed link (24 hours) on ``/downloads/``, like a storage
  bucket: it refuses an ``Authorization`` header, an expired or forged signature. The file is a JSON
  array of objects keyed by the requested field names (the real layout is not published), or JSON
  lines with ``results_layout="ndjson"``, or CSV when the job asked for CSV.
- Errors use ``{"errorCode", "errorMessage", "diagnosticCode"}``, except the Intent API's 401,
  ``{"status": "Authentication Failed - Unauthorized."}``. No Retry-After, no rate-limit headers.

Faults: ``throttle`` (429-100), ``export_quota`` (429-101), ``server_error`` (500-100), ``expire_token``
(the presented token stops working), ``revoke_keyset`` (key sets refused from then on, their tokens
dropped), ``malformed`` (one record of an intent page or of a result file broken), ``job_failed`` (the
next export job ends ``failed``), ``slow_job_response`` (the job IS created, then the answer is held
back ``seconds``, to time out a client), plus the shared ``delay`` and ``truncated``.

The data come from a fixed catalogue of tenants and a hash-seeded generator: the same numbers in every
process, for any dates. Tenants differ like real ones: ``northwind`` (the demo's) has every field and
Intent; ``fabrikam`` has a small field catalogue (id, name, domain and the engagement minutes, and no
activity fields): ``GET /v1/fields`` lists only those, and an export job asking for another field is refused with ``400-155``
"Fields not available for this tenant"; ``litware`` has a small account catalogue (id, name, domain
and the engagement minutes), its activity fields, and no Intent product (the intent query and the
keyword set reference answer ``403-100``) until ``POST /_sandbox/entitlements`` with
``{"tenant": "litware", "intent": true}`` (or ``grant_intent``) gives it one; ``contoso-trial`` has no
accounts.

``app`` is the fake service, ``catalogue`` its data, ``queries`` what it reads from a request body.
"""

from __future__ import annotations

from typing import Any, Final

from sandbox.demandbase.app import ACCESS_TOKEN_TTL, DemandbaseSandbox
from sandbox.demandbase.catalogue import (
    ACCOUNT_FIELDS,
    DEMO_TENANT,
    EMPTY_CLIENT_ID,
    EMPTY_CLIENT_SECRET,
    EXPORT_ONLY_CLIENT_ID,
    EXPORT_ONLY_CLIENT_SECRET,
    NO_INTENT_CLIENT_ID,
    NO_INTENT_CLIENT_SECRET,
    NO_INTENT_TENANT,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SMALL_CATALOGUE_CLIENT_ID,
    SMALL_CATALOGUE_CLIENT_SECRET,
    SMALL_CATALOGUE_TENANT,
    accounts_for,
    day_activities,
    engagement_minutes,
    expected_accounts,
    expected_activities,
    expected_intent_rows,
)
from sandbox.demandbase.queries import page_token

__all__ = [
    "ACCESS_TOKEN_TTL",
    "ACCOUNT_FIELDS",
    "DEMO_CONNECTIONS",
    "DEMO_TENANT",
    "EMPTY_CLIENT_ID",
    "EMPTY_CLIENT_SECRET",
    "EXPORT_ONLY_CLIENT_ID",
    "EXPORT_ONLY_CLIENT_SECRET",
    "NO_INTENT_CLIENT_ID",
    "NO_INTENT_CLIENT_SECRET",
    "NO_INTENT_TENANT",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SMALL_CATALOGUE_CLIENT_ID",
    "SMALL_CATALOGUE_CLIENT_SECRET",
    "SMALL_CATALOGUE_TENANT",
    "DemandbaseSandbox",
    "accounts_for",
    "create_app",
    "day_activities",
    "engagement_minutes",
    "expected_accounts",
    "expected_activities",
    "expected_intent_rows",
    "page_token",
]


def create_app(**options: Any) -> DemandbaseSandbox:
    """Build the Demandbase fake.

    Options: ``access_token_ttl`` (seconds, default 28800); ``job_polls`` (status polls before an export
    job finishes, default 2: accepted, processing, then finished) and ``job_seconds`` (it also finishes
    this long after creation, default 3); ``daily_job_quota`` (default 60); ``bad_credentials_status``
    (the token endpoint's answer to a wrong or revoked key set, 400 as documented or 401);
    ``results_layout`` (``json`` array or ``ndjson``); ``link_ttl`` (signed link life, default 86400);
    ``clock`` (a ``time.time``-like callable).
    """
    return DemandbaseSandbox(**options)


# The tenant `make demo` connects (its keyword sets are found through the reference data).
DEMO_CONNECTIONS: Final = (
    {
        "account_id": DEMO_TENANT,
        "credentials": {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET},
        "options": {},
    },
)

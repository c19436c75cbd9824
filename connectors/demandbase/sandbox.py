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
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import hmac
import io
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

from connectors.sandbox import (
    BASE_FAULT_KINDS,
    FakeApi,
    SandboxRequest,
    SandboxResponse,
    json_response,
    route,
)
from connectors.sandbox import (
    seeded_rng as _rng,
)
from connectors.sandbox import (
    weighted_pick as _pick,
)

SANDBOX_CLIENT_ID: Final = "sandbox-demandbase-client"
SANDBOX_CLIENT_SECRET: Final = "sandbox-demandbase-secret"
EXPORT_ONLY_CLIENT_ID: Final = "sandbox-demandbase-export-only"
EXPORT_ONLY_CLIENT_SECRET: Final = "sandbox-demandbase-export-only-secret"
EMPTY_CLIENT_ID: Final = "sandbox-demandbase-empty"
EMPTY_CLIENT_SECRET: Final = "sandbox-demandbase-empty-secret"
SMALL_CATALOGUE_CLIENT_ID: Final = "sandbox-demandbase-small-catalogue"
SMALL_CATALOGUE_CLIENT_SECRET: Final = "sandbox-demandbase-small-catalogue-secret"
NO_INTENT_CLIENT_ID: Final = "sandbox-demandbase-no-intent"
NO_INTENT_CLIENT_SECRET: Final = "sandbox-demandbase-no-intent-secret"
SMALL_CATALOGUE_TENANT: Final = "fabrikam"
NO_INTENT_TENANT: Final = "litware"
DEMO_TENANT: Final = "northwind"

ACCESS_TOKEN_TTL: Final = 28_800  # 8 hours
RESULTS_LINK_TTL: Final = 86_400  # signed result links live 24 hours
DAILY_JOB_QUOTA: Final = 60
MAX_ACTIVITY_DAYS: Final = 90
MAX_JOB_NAME: Final = 50
INTENT_DEFAULT_PAGE_SIZE: Final = 25
INTENT_MAX_PAGE_SIZE: Final = 100

FAULT_KINDS: Final = BASE_FAULT_KINDS | {
    "throttle",
    "export_quota",
    "server_error",
    "expire_token",
    "revoke_keyset",
    "malformed",
    "job_failed",
    "slow_job_response",
}

INTENT_UNAUTHORIZED: Final = {"status": "Authentication Failed - Unauthorized."}
STRENGTH_RANK: Final = {"LOW": 1, "MED": 2, "HIGH": 3}


# =========================================================================== catalogue


@dataclass(frozen=True)
class KeywordSet:
    id: int
    name: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Tenant:
    name: str
    account_count: int
    keyword_sets: tuple[KeywordSet, ...]
    account_lists: Mapping[int, str] = field(default_factory=dict)
    first_account_id: int = 2_100_001
    # The account fields of the tenant's Export collection (plain names, e.g. "domain"); None: all.
    account_fields: frozenset[str] | None = None
    intent: bool = True  # the tenant has the Intent product
    activity: bool = True  # the tenant's Export collection has the activity fields


@dataclass(frozen=True)
class KeySet:
    client_id: str
    client_secret: str
    tenant: str
    intent: bool = True
    export: bool = True


_DATA_PLATFORM = KeywordSet(
    7301,
    "Data Platform",
    ("Data Warehouse", "ETL", "Customer Data Platform", "Data Governance", "Reverse ETL"),
)
_SECURITY = KeywordSet(
    7302, "Security Keywords", ("Zero Trust", "SASE", "Endpoint Security", "SIEM", "Identity Management")
)
_COMPETITORS = KeywordSet(7303, "Competitors", ("6sense", "ZoomInfo", "Bombora", "Terminus"))

TENANTS: Final[Mapping[str, Tenant]] = MappingProxyType(
    {
        DEMO_TENANT: Tenant(
            DEMO_TENANT,
            300,
            (_DATA_PLATFORM, _SECURITY, _COMPETITORS),
            MappingProxyType({5001: "Tier 1 Targets", 5002: "Open Opportunities"}),
        ),
        "contoso-trial": Tenant(
            "contoso-trial",
            0,
            (KeywordSet(7401, "Unused", ("Quantum Networking",)),),
            first_account_id=3_100_001,
        ),
        SMALL_CATALOGUE_TENANT: Tenant(
            SMALL_CATALOGUE_TENANT,
            40,
            (_DATA_PLATFORM,),
            first_account_id=4_100_001,
            account_fields=frozenset(
                {"id", "name", "domain", "engagementMinutesLast7Day", "engagementMinutesLast30Day"}
            ),
            activity=False,
        ),
        NO_INTENT_TENANT: Tenant(
            NO_INTENT_TENANT,
            25,
            (_SECURITY,),  # read once the tenant is given Intent
            first_account_id=5_100_001,
            account_fields=frozenset(
                {"id", "name", "domain", "engagementMinutesLast7Day", "engagementMinutesLast30Day"}
            ),
            intent=False,
        ),
    }
)

KEY_SETS: Final[Mapping[str, KeySet]] = MappingProxyType(
    {
        SANDBOX_CLIENT_ID: KeySet(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, DEMO_TENANT),
        EXPORT_ONLY_CLIENT_ID: KeySet(
            EXPORT_ONLY_CLIENT_ID, EXPORT_ONLY_CLIENT_SECRET, DEMO_TENANT, intent=False
        ),
        EMPTY_CLIENT_ID: KeySet(EMPTY_CLIENT_ID, EMPTY_CLIENT_SECRET, "contoso-trial"),
        SMALL_CATALOGUE_CLIENT_ID: KeySet(
            SMALL_CATALOGUE_CLIENT_ID, SMALL_CATALOGUE_CLIENT_SECRET, SMALL_CATALOGUE_TENANT
        ),
        NO_INTENT_CLIENT_ID: KeySet(NO_INTENT_CLIENT_ID, NO_INTENT_CLIENT_SECRET, NO_INTENT_TENANT),
    }
)

_PREFIXES: Final = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent", "Tyrell",
    "Cyberdyne", "Wonka", "Oscorp", "Pied Piper", "Massive Dynamic", "Aperture", "Black Mesa", "Blue Sun",
    "Monarch", "Nakatomi",
)  # fmt: skip
_SUFFIXES: Final = (
    "Analytics", "Systems", "Logistics", "Health", "Capital", "Labs", "Foods", "Energy", "Retail",
    "Robotics", "Media", "Bank", "Insurance", "Pharma", "Telecom",
)  # fmt: skip
_INDUSTRY_OF_SUFFIX: Final = {
    "Analytics": "Software",
    "Systems": "Software",
    "Logistics": "Transportation",
    "Health": "Healthcare",
    "Capital": "Financial Services",
    "Labs": "Biotechnology",
    "Foods": "Consumer Goods",
    "Energy": "Energy & Utilities",
    "Retail": "Retail",
    "Robotics": "Manufacturing",
    "Media": "Media & Entertainment",
    "Bank": "Financial Services",
    "Insurance": "Insurance",
    "Pharma": "Pharmaceuticals",
    "Telecom": "Telecommunications",
}
_COUNTRIES: Final = (("United States", 0.55), ("United Kingdom", 0.12), ("Germany", 0.1), ("France", 0.08),
                     ("Canada", 0.08), ("Australia", 0.07))  # fmt: skip
_STAGES: Final = (("Qualified", 0.3), ("Aware", 0.25), ("Engaged", 0.2), ("MQA", 0.1), ("Opportunity", 0.1),
                  ("Customer", 0.05))  # fmt: skip
_TLDS: Final = (".com", ".com", ".com", ".io", ".co.uk", ".de")


@dataclass(frozen=True)
class SandboxAccount:
    id: int
    name: str
    domain: str
    industry: str | None
    country: str
    employees: int
    journey_stage: str
    minutes_per_active_day: int
    active_share: float
    points_per_minute: float
    intent_propensity: float
    lists: frozenset[int]


def _make_account(tenant: Tenant, number: int) -> SandboxAccount:
    rng = _rng("db-account", tenant.name, number)
    prefix = _PREFIXES[number % len(_PREFIXES)]
    suffix = _SUFFIXES[(number // len(_PREFIXES)) % len(_SUFFIXES)]
    name = f"{prefix} {suffix}"
    stage = _pick(rng, _STAGES)
    lists = {5001} if number % 5 == 0 else set()
    if stage == "Opportunity":
        lists.add(5002)
    return SandboxAccount(
        id=tenant.first_account_id + number,
        name=name,
        domain=re.sub(r"[^a-z0-9]", "", name.lower()) + _TLDS[int(rng.random() * len(_TLDS))],
        industry=None if rng.random() < 0.06 else _INDUSTRY_OF_SUFFIX[suffix],
        country=_pick(rng, _COUNTRIES),
        employees=int(20 + rng.random() ** 3 * 60_000),
        journey_stage=stage,
        minutes_per_active_day=1 + int(rng.random() ** 2 * 40),
        active_share=0.0 if rng.random() < 0.15 else 0.05 + 0.6 * rng.random(),
        points_per_minute=round(1.2 + 1.3 * rng.random(), 1),
        intent_propensity=0.0 if rng.random() < 0.35 else 0.02 + 0.13 * rng.random(),
        lists=frozenset(lists),
    )


@functools.cache
def accounts_for(tenant_name: str) -> tuple[SandboxAccount, ...]:
    """The accounts of one catalogue tenant, ordered by id (empty for an unknown tenant)."""
    tenant = TENANTS.get(tenant_name)
    if tenant is None:
        return ()
    return tuple(_make_account(tenant, number) for number in range(tenant.account_count))


@functools.lru_cache(maxsize=65_536)
def engagement_minutes(account: SandboxAccount, day: date) -> int:
    """Engagement minutes of one account on one day (0 on quiet days)."""
    rng = _rng("db-engagement", account.id, day.isoformat())
    share = account.active_share * (0.4 if day.weekday() >= 5 else 1.0)
    if rng.random() >= share:
        return 0
    return max(1, int(account.minutes_per_active_day * (0.3 + 1.4 * rng.random())))


def _minutes_between(account: SandboxAccount, first: date, last: date) -> int:
    return sum(engagement_minutes(account, first + timedelta(days=n)) for n in range((last - first).days + 1))


# =========================================================================== intent


def period_end(day: date) -> date:
    """The Saturday closing the Sunday-to-Saturday intent period that contains ``day``."""
    return day + timedelta(days=(5 - day.weekday()) % 7)


@functools.lru_cache(maxsize=4_096)
def _period_rows(tenant_name: str, end: date) -> tuple[Mapping[str, Any], ...]:
    """Every intent row of a tenant for the period ending on ``end``, all keyword sets."""
    tenant = TENANTS[tenant_name]
    start = end - timedelta(days=6)
    rows: list[Mapping[str, Any]] = []
    for account in accounts_for(tenant_name):
        for keyword_set in tenant.keyword_sets:
            for position, keyword in enumerate(keyword_set.keywords):
                rng = _rng("db-intent", tenant_name, account.id, keyword_set.id, keyword, end.isoformat())
                if rng.random() >= account.intent_propensity * (1.3 - 0.1 * position):
                    continue
                people = 1 + int(rng.random() ** 2 * 14)
                strength = "HIGH" if people >= 8 else ("MED" if people >= 4 else "LOW")
                trending = rng.random() < 0.18
                row = {
                    "companyId": str(account.id),
                    "domain": account.domain,
                    "keyword": keyword,
                    "numPeopleResearching": people,
                    "intentStrength": strength,
                    "isTrending": trending,
                    "trendingScore": int(40 + 60 * rng.random()) if trending else int(40 * rng.random()),
                    "numTrendingDays": 1 + int(rng.random() * 7) if trending else 0,
                    "startDate": start.isoformat(),
                    "endDate": end.isoformat(),
                    "keywordSetId": keyword_set.id,
                    "keywordSetName": keyword_set.name,
                }
                rows.append(MappingProxyType(row))
    return tuple(rows)


def _periods(start: date, end: date, today: date) -> list[date]:
    """End dates of the completed periods overlapping [start, end]."""
    ends, cursor = [], period_end(start)
    while cursor - timedelta(days=6) <= end and cursor < today:
        ends.append(cursor)
        cursor += timedelta(days=7)
    return ends


@dataclass(frozen=True)
class IntentFilters:
    company_ids: frozenset[str] = frozenset()
    keyword_set_ids: frozenset[int] = frozenset()
    keywords: frozenset[str] = frozenset()
    strength: str | None = None
    min_people: int | None = None
    max_people: int | None = None

    def accepts(self, row: Mapping[str, Any]) -> bool:
        checks = (
            not self.company_ids or row["companyId"] in self.company_ids,
            not self.keyword_set_ids or row["keywordSetId"] in self.keyword_set_ids,
            not self.keywords or row["keyword"].lower() in self.keywords,
            self.strength is None or row["intentStrength"] == self.strength,
            self.min_people is None or row["numPeopleResearching"] >= self.min_people,
            self.max_people is None or row["numPeopleResearching"] <= self.max_people,
        )
        return all(checks)


def _sort_key(sort_by: str) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    def key(row: Mapping[str, Any]) -> tuple[Any, ...]:
        value = row[sort_by]
        primary = STRENGTH_RANK[value] if sort_by == "intentStrength" else value
        return (primary, row["endDate"], int(row["companyId"]), row["keywordSetId"], row["keyword"])

    return key


def intent_rows(
    tenant_name: str,
    start: date,
    end: date,
    *,
    today: date,
    filters: IntentFilters,
    sort_by: str = "endDate",
    sort_order: str = "DESC",
) -> list[dict[str, Any]]:
    """All rows an intent query matches, in the order they are served."""
    if tenant_name not in TENANTS:
        return []
    rows = [
        dict(row)
        for period in _periods(start, end, today)
        for row in _period_rows(tenant_name, period)
        if filters.accepts(row)
    ]
    rows.sort(key=_sort_key(sort_by), reverse=sort_order == "DESC")
    return rows


def expected_intent_rows(
    start: date,
    end: date,
    *,
    today: date,
    tenant: str = DEMO_TENANT,
    keyword_set_ids: Iterable[int] | None = None,
) -> list[dict[str, Any]]:
    """Exactly the rows the Intent API serves for this range (by default every keyword set), sorted by
    end date ascending like the connector asks."""
    sets = frozenset(keyword_set_ids or (k.id for k in TENANTS[tenant].keyword_sets))
    filters = IntentFilters(keyword_set_ids=sets)
    return intent_rows(tenant, start, end, today=today, filters=filters, sort_by="endDate", sort_order="ASC")


# =========================================================================== export fields and records


@dataclass(frozen=True)
class ExportField:
    name: str
    data_type: str  # String | Long | Double | Date
    label: str
    description: str


def _fields(entity: str, specs: Iterable[tuple[str, str, str, str]]) -> Mapping[str, ExportField]:
    return MappingProxyType(
        {
            f"{{{entity}}}.{name}": ExportField(f"{{{entity}}}.{name}", kind, label, text)
            for name, kind, label, text in specs
        }
    )


ACCOUNT_FIELDS: Final = _fields(
    "Account",
    (
        ("id", "Long", "Account ID", "Demandbase account (company) id"),
        ("name", "String", "Account Name", "Company name"),
        ("domain", "String", "Domain", "Primary web domain"),
        ("industry", "String", "Industry", "Demandbase industry"),
        ("country", "String", "Country", "Headquarters country"),
        ("employeeCount", "Long", "Employees", "Number of employees"),
        ("journeyStage", "String", "Journey Stage", "Current stage in the account journey"),
        (
            "engagementMinutesLast7Day",
            "Long",
            "Engagement Minutes (7 days)",
            "Engagement minutes, last 7 days",
        ),
        (
            "engagementMinutesLast30Day",
            "Long",
            "Engagement Minutes (30 days)",
            "Engagement minutes, last 30 days",
        ),
        ("engagementPointsLast7Day", "Long", "Engagement Points (7 days)", "Engagement points, last 7 days"),
        (
            "engagementPointsLast30Day",
            "Long",
            "Engagement Points (30 days)",
            "Engagement points, last 30 days",
        ),
        ("intentScore", "Double", "Intent Score", "Intent score 0-100 over the last 4 weeks"),
        ("intentKeywordCount", "Long", "Intent Keywords", "Distinct intent keywords, last 4 weeks"),
        ("lastEngagementDate", "Date", "Last Engagement", "Last day with engagement (90 days)"),
    ),
)
ACTIVITY_FIELDS: Final = _fields(
    "Activity",
    (
        ("id", "String", "Activity ID", "Activity id"),
        ("type", "String", "Activity Type", "Kind of activity"),
        ("activityDate", "Date", "Activity Date", "Day of the activity"),
        ("engagementMinutes", "Long", "Engagement Minutes", "Engagement minutes of the activity"),
        ("engagementPoints", "Long", "Engagement Points", "Engagement points of the activity"),
        ("pageViews", "Long", "Page Views", "Pages viewed (web visits)"),
    ),
)
# Activity types and the share of an active day's minutes each one tends to take.
ACTIVITY_TYPES: Final = (("Web Visit", 0.55), ("Email Open", 0.15), ("Email Click", 0.15), ("Ad Click", 0.15))
ENTITY_FIELDS: Final = MappingProxyType(
    {"account": ACCOUNT_FIELDS, "activity": MappingProxyType({**ACTIVITY_FIELDS, **ACCOUNT_FIELDS})}
)
ENTITY_TYPES: Final = (
    "account",
    "accountBuyingGroup",
    "personBuyingGroupMember",
    "opportunity",
    "person",
    "activity",
    "campaign",
    "creative",
)
_ENTITY_BY_LOWER: Final = {name.lower(): name for name in ENTITY_TYPES}


def tenant_has_field(tenant: Tenant, name: str) -> bool:
    """Whether the tenant's Export collection includes a field (account and activity fields vary)."""
    if name.startswith("{Activity}."):
        return tenant.activity
    if tenant.account_fields is None or not name.startswith("{Account}."):
        return True
    return name.removeprefix("{Account}.") in tenant.account_fields


def tenant_fields(tenant: Tenant, entity: str) -> list[ExportField]:
    """The fields ``GET /v1/fields`` lists for the tenant and entity type."""
    return [f for f in ENTITY_FIELDS[entity].values() if tenant_has_field(tenant, f.name)]


_EMPTY_REFERENCES: Final = frozenset(
    {"persona", "buyerRole", "idealBuyingGroup", "idealBuyingGroupPersonaRole", "JobFunction", "JobLevel"}
)


def _intent_summary(tenant_name: str, account: SandboxAccount, as_of: date) -> tuple[float, int]:
    """Intent score and distinct keywords over the 4 completed periods before ``as_of``."""
    last = period_end(as_of) - timedelta(days=7)
    score, keywords = 0, set()
    for back in range(4):
        for row in _period_rows(tenant_name, last - timedelta(days=7 * back)):
            if row["companyId"] == str(account.id):
                score += STRENGTH_RANK[row["intentStrength"]] * row["numPeopleResearching"]
                keywords.add(row["keyword"])
    return round(min(99.9, score / 2), 1), len(keywords)


def _last_engagement(account: SandboxAccount, as_of: date) -> str | None:
    for back in range(1, 91):
        day = as_of - timedelta(days=back)
        if engagement_minutes(account, day):
            return day.isoformat()
    return None


@functools.lru_cache(maxsize=8_192)
def account_values(tenant_name: str, account: SandboxAccount, as_of: date) -> Mapping[str, Any]:
    """Every account field's value as exported on ``as_of`` (rolling totals end the day before)."""
    minutes_7 = _minutes_between(account, as_of - timedelta(days=7), as_of - timedelta(days=1))
    minutes_30 = _minutes_between(account, as_of - timedelta(days=30), as_of - timedelta(days=1))
    score, keyword_count = _intent_summary(tenant_name, account, as_of)
    values = {
        "{Account}.id": account.id,
        "{Account}.name": account.name,
        "{Account}.domain": account.domain,
        "{Account}.industry": account.industry,
        "{Account}.country": account.country,
        "{Account}.employeeCount": account.employees,
        "{Account}.journeyStage": account.journey_stage,
        "{Account}.engagementMinutesLast7Day": minutes_7,
        "{Account}.engagementMinutesLast30Day": minutes_30,
        "{Account}.engagementPointsLast7Day": int(minutes_7 * account.points_per_minute),
        "{Account}.engagementPointsLast30Day": int(minutes_30 * account.points_per_minute),
        "{Account}.intentScore": score,
        "{Account}.intentKeywordCount": keyword_count,
        "{Account}.lastEngagementDate": _last_engagement(account, as_of),
    }
    return MappingProxyType(values)


@dataclass(frozen=True)
class ExportFilter:
    field: str
    operator: str
    values: tuple[str, ...]

    def accepts(self, value: Any) -> bool:
        return _OPERATORS[self.operator.lower()](value, self.values)


def _text(value: Any) -> str:
    return "" if value is None else str(value).lower()


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(test: Callable[[float, float], bool]) -> Callable[[Any, tuple[str, ...]], bool]:
    def check(value: Any, values: tuple[str, ...]) -> bool:
        left, right = _number(value), _number(values[0]) if values else None
        return left is not None and right is not None and test(left, right)

    return check


def _between(value: Any, values: tuple[str, ...]) -> bool:
    number = _number(value)
    low, high = (_number(values[0]), _number(values[1])) if len(values) >= 2 else (None, None)
    return None not in (number, low, high) and low <= number <= high  # type: ignore[operator]


_OPERATORS: Final[Mapping[str, Callable[[Any, tuple[str, ...]], bool]]] = MappingProxyType(
    {
        "equals": lambda v, vs: _text(v) in {x.lower() for x in vs},
        "does not equal": lambda v, vs: _text(v) not in {x.lower() for x in vs},
        "in": lambda v, vs: _text(v) in {x.lower() for x in vs},
        "not in": lambda v, vs: _text(v) not in {x.lower() for x in vs},
        "contains": lambda v, vs: any(x.lower() in _text(v) for x in vs),
        "does not contain": lambda v, vs: not any(x.lower() in _text(v) for x in vs),
        "begins with": lambda v, vs: any(_text(v).startswith(x.lower()) for x in vs),
        "does not begin with": lambda v, vs: not any(_text(v).startswith(x.lower()) for x in vs),
        "ends with": lambda v, vs: any(_text(v).endswith(x.lower()) for x in vs),
        "does not end with": lambda v, vs: not any(_text(v).endswith(x.lower()) for x in vs),
        "greater than": _compare(lambda a, b: a > b),
        "greater than or equal to": _compare(lambda a, b: a >= b),
        "less than": _compare(lambda a, b: a < b),
        "less than or equal to": _compare(lambda a, b: a <= b),
        "between": _between,
        "exists": lambda v, vs: v is not None,
        "does not exist": lambda v, vs: v is None,
    }
)
_NUMERIC_OPERATORS: Final = frozenset(
    {"greater than", "greater than or equal to", "less than", "less than or equal to", "between"}
)


@dataclass(frozen=True)
class ExportRequest:
    entity_type: str
    name: str
    fields: tuple[str, ...]
    format: str = "CSV"
    filters: tuple[ExportFilter, ...] = ()
    account_list_ids: tuple[int, ...] = ()
    from_date: date | None = None
    to_date: date | None = None
    limit: int | None = None


def _account_rows(tenant: str, request: ExportRequest, as_of: date) -> Iterable[Mapping[str, Any]]:
    for account in accounts_for(tenant):
        if request.account_list_ids and not account.lists & set(request.account_list_ids):
            continue
        yield account_values(tenant, account, as_of)


@functools.lru_cache(maxsize=65_536)
def day_activities(account: SandboxAccount, day: date) -> tuple[Mapping[str, Any], ...]:
    """The activities of one account on one day: their minutes add up to ``engagement_minutes``."""
    minutes = engagement_minutes(account, day)
    if not minutes:
        return ()
    rng = _rng("db-activity", account.id, day.isoformat())
    count = min(minutes, 1 + int(rng.random() * 4))
    kinds = [_pick(rng, ACTIVITY_TYPES) for _ in range(count)]
    cuts = sorted(rng.sample(range(1, minutes), count - 1)) if count > 1 else []
    spans = [b - a for a, b in zip([0, *cuts], [*cuts, minutes], strict=True)]
    activities = []
    for number, (kind, span) in enumerate(zip(kinds, spans, strict=True)):
        activities.append(
            {
                "{Activity}.id": f"{account.id}-{day:%Y%m%d}-{number}",
                "{Activity}.type": kind,
                "{Activity}.activityDate": day.isoformat(),
                "{Activity}.engagementMinutes": span,
                "{Activity}.engagementPoints": int(span * account.points_per_minute),
                "{Activity}.pageViews": 1 + int(rng.random() * 2 * span) if kind == "Web Visit" else 0,
            }
        )
    return tuple(activities)


def _activity_rows(tenant: str, request: ExportRequest, as_of: date) -> Iterable[Mapping[str, Any]]:
    assert request.from_date is not None and request.to_date is not None
    days = (request.to_date - request.from_date).days + 1
    for offset in range(days):
        day = request.from_date + timedelta(days=offset)
        for account in accounts_for(tenant):
            if request.account_list_ids and not account.lists & set(request.account_list_ids):
                continue
            for activity in day_activities(account, day):
                yield {**account_values(tenant, account, as_of), **activity}


def export_records(tenant: str, request: ExportRequest, as_of: date) -> list[dict[str, Any]]:
    """The records of an export job created on ``as_of``: the requested fields, filtered, limited."""
    source = _activity_rows if request.entity_type == "activity" else _account_rows
    records = []
    for values in source(tenant, request, as_of):
        if all(f.accepts(values.get(f.field)) for f in request.filters):
            records.append({name: values.get(name) for name in request.fields})
            if request.limit is not None and len(records) >= request.limit:
                break
    return records


def expected_activities(
    first: date, last: date, as_of: date, *, tenant: str = DEMO_TENANT, fields: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Exactly the records an activity export of [first, last] created on ``as_of`` serves."""
    wanted = tuple(fields or (*ACTIVITY_FIELDS, "{Account}.id", "{Account}.domain"))
    request = ExportRequest("activity", "expected", wanted, "JSON", from_date=first, to_date=last)
    return export_records(tenant, request, as_of)


def expected_accounts(
    as_of: date, *, tenant: str = DEMO_TENANT, fields: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Exactly the records an account export created on ``as_of`` serves (all fields by default)."""
    request = ExportRequest("account", "expected", tuple(fields or ACCOUNT_FIELDS), "JSON")
    return export_records(tenant, request, as_of)


# =========================================================================== request validation


class ApiError(Exception):
    """A request the API refuses: its status, errorCode and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _parse_day(value: Any, code: str, message: str, status: int = 400) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ApiError(status, code, message)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(status, code, message) from None


def _twelve_months_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return date(day.year + 1, 3, 1)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_list(body: Mapping[str, Any], name: str, limit: int, code: str) -> list[str]:
    values = body.get(name) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ApiError(400, "400-103", f"{name} must be an array of strings.")
    if len(values) > limit:
        raise ApiError(400, code, f"{name} must contain no more than {limit} items.")
    return values


@dataclass(frozen=True)
class IntentQuery:
    start: date
    end: date
    filters: IntentFilters
    page_size: int
    offset: int
    sort_by: str
    sort_order: str


_SORT_FIELDS: Final = ("startDate", "endDate", "intentStrength", "numPeopleResearching", "trendingScore")


def _intent_filters(body: Mapping[str, Any]) -> IntentFilters:
    companies = _string_list(body, "companyIds", 10, "400-219")
    keywords = _string_list(body, "keywords", 50, "400-230")
    set_ids = body.get("keywordSetIds") or []
    if not isinstance(set_ids, list) or not all(_is_int(v) for v in set_ids):
        raise ApiError(400, "400-103", "keywordSetIds must be an array of integers.")
    if len(set_ids) > 10:
        raise ApiError(400, "400-229", "keywordSetIds must contain no more than 10 items.")
    if not (companies or keywords or set_ids):
        raise ApiError(
            400,
            "400-218",
            "At least one of companyIds, keywordSetIds, or keywords must be provided for intent search.",
        )
    strength = body.get("intentStrength")
    if strength is not None and strength not in STRENGTH_RANK:
        raise ApiError(400, "400-224", "intentStrength must be one of: LOW, MED, HIGH.")
    low, high = body.get("minNumPeopleResearching"), body.get("maxNumPeopleResearching")
    for bound in (low, high):
        if bound is not None and (not _is_int(bound) or bound < 0):
            raise ApiError(
                400, "400-103", "minNumPeopleResearching and maxNumPeopleResearching must be >= 0."
            )
    if low is not None and high is not None and low > high:
        raise ApiError(
            400, "400-225", "minNumPeopleResearching must be less than or equal to maxNumPeopleResearching."
        )
    return IntentFilters(
        frozenset(companies), frozenset(set_ids), frozenset(k.lower() for k in keywords), strength, low, high
    )


def _decode_page_token(token: Any) -> int:
    if not isinstance(token, str):
        raise ApiError(400, "400-228", "pageToken is invalid.")
    try:
        decoded = base64.b64decode(token.encode(), validate=True).decode()
    except ValueError:
        raise ApiError(400, "400-228", "pageToken is invalid.") from None
    match = re.fullmatch(r"O:(\d+):(\d+)", decoded)
    if match is None:
        raise ApiError(400, "400-228", "pageToken is invalid.")
    return int(match.group(1))


def page_token(offset: int, size: int) -> str:
    """The cursor format of the published example (``Tzo1MDoyNQ==`` is ``O:50:25``)."""
    return base64.b64encode(f"O:{offset}:{size}".encode()).decode()


def parse_intent_query(body: Any) -> IntentQuery:
    if not isinstance(body, dict):
        raise ApiError(400, "400-102", "The request body is not a valid JSON object.")
    filters = _intent_filters(body)
    start = _parse_day(
        body.get("startDate"), "400-220", "startDate must be a valid date in yyyy-MM-dd format."
    )
    end = _parse_day(body.get("endDate"), "400-221", "endDate must be a valid date in yyyy-MM-dd format.")
    if start > end:
        raise ApiError(400, "400-222", "startDate must be on or before endDate.")
    if end >= _twelve_months_after(start):
        raise ApiError(400, "400-223", "Date range must be 12 months or less.")
    size = body.get("pageSize", INTENT_DEFAULT_PAGE_SIZE)
    if not _is_int(size) or not 1 <= size <= INTENT_MAX_PAGE_SIZE:
        raise ApiError(400, "400-226", "pageSize must be between 1 and 100.")
    sort_by = body.get("sortBy", "endDate")
    if sort_by not in _SORT_FIELDS:
        raise ApiError(400, "400-227", f"sortBy must be one of: {', '.join(_SORT_FIELDS)}.")
    sort_order = body.get("sortOrder", "DESC")
    if sort_order not in ("ASC", "DESC"):
        raise ApiError(400, "400-103", "sortOrder must be one of: ASC, DESC.")
    offset = _decode_page_token(body["pageToken"]) if body.get("pageToken") is not None else 0
    return IntentQuery(start, end, filters, size, offset, sort_by, sort_order)


_JOB_PROPERTIES: Final = frozenset(
    {
        "entityType", "jobName", "fields", "filters", "fromDate", "toDate", "source", "adReportType",
        "accountListIds", "accountListId", "personListIds", "format", "limit", "accountIds", "companyIds",
    }
)  # fmt: skip


def _job_dates(body: Mapping[str, Any], entity: str) -> tuple[date | None, date | None]:
    raw_from, raw_to = body.get("fromDate"), body.get("toDate")
    if (raw_from is None) != (raw_to is None):
        raise ApiError(400, "400-112", "Both fromDate and toDate are required together.")
    if raw_from is None:
        if entity == "activity":
            raise ApiError(400, "400-104", "fromDate and toDate are required for activity exports.")
        return None, None
    message = "Dates must be in yyyy-mm-dd or yyyy-mm-ddThh:mm:ssZ format."
    first = _parse_day(str(raw_from)[:10], "400-111", message)
    last = _parse_day(str(raw_to)[:10], "400-111", message)
    if first > last:
        raise ApiError(400, "400-113", "fromDate must be on or before toDate.")
    if entity == "activity" and (last - first).days + 1 > MAX_ACTIVITY_DAYS:
        raise ApiError(400, "400-114", "The date range for activity exports must be 90 days or less.")
    return first, last


def _job_fields(body: Mapping[str, Any], entity: str) -> tuple[str, ...]:
    fields = body.get("fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise ApiError(400, "400-104", "fields is required: a non-empty array of field names.")
    known = ENTITY_FIELDS[entity]
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise ApiError(400, "400-115", f"Invalid field names: {', '.join(unknown)}")
    return tuple(dict.fromkeys(fields))


def _check_entitled(tenant: Tenant, names: Iterable[str]) -> None:
    lacking = [name for name in dict.fromkeys(names) if not tenant_has_field(tenant, name)]
    if lacking:
        raise ApiError(400, "400-155", f"Fields not available for this tenant: {', '.join(lacking)}")


def _job_filters(body: Mapping[str, Any], entity: str) -> tuple[ExportFilter, ...]:
    raw = body.get("filters") or []
    if not isinstance(raw, list):
        raise ApiError(400, "400-103", "filters must be an array.")
    filters = []
    known = ENTITY_FIELDS[entity]
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("field"), str):
            raise ApiError(400, "400-103", "Each filter needs a field, an operator and values.")
        if item["field"] not in known:
            raise ApiError(400, "400-115", f"Invalid field names: {item['field']}")
        operator = str(item.get("operator", "")).lower()
        numeric = known[item["field"]].data_type in ("Long", "Double", "Date")
        if operator not in _OPERATORS or (operator in _NUMERIC_OPERATORS and not numeric):
            raise ApiError(
                400, "400-140", f"Operator {item.get('operator')!r} is invalid for {item['field']}."
            )
        values = item.get("values") or []
        if not isinstance(values, list):
            raise ApiError(400, "400-103", "filter values must be an array.")
        filters.append(ExportFilter(item["field"], operator, tuple(str(v) for v in values)))
    return tuple(filters)


def _job_lists(body: Mapping[str, Any], tenant: Tenant) -> tuple[int, ...]:
    if body.get("accountListId") is not None and body.get("accountListIds") is not None:
        raise ApiError(400, "400-144", "accountListId and accountListIds cannot be used together.")
    raw = body.get("accountListIds")
    if raw is None:
        raw = [] if body.get("accountListId") is None else [body["accountListId"]]
    if not isinstance(raw, list) or not all(_is_int(v) for v in raw):
        raise ApiError(400, "400-129", "Account list ids must be numeric.")
    missing = [str(v) for v in raw if v not in tenant.account_lists]
    if missing:
        raise ApiError(400, "400-142", f"Account list(s) not found: {', '.join(missing)}")
    return tuple(raw)


def _job_limit(body: Mapping[str, Any]) -> int | None:
    raw = body.get("limit")
    if raw is None:
        return None
    if isinstance(raw, bool) or not (_is_int(raw) or (isinstance(raw, str) and raw.isdigit())):
        raise ApiError(400, "400-118", "limit must be numeric.")
    if not 1 <= int(raw) <= 1000:
        raise ApiError(400, "400-119", "limit must be between 1 and 1,000.")
    return int(raw)


def parse_export_request(body: Any, tenant: Tenant) -> ExportRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "400-102", "The request body is not a valid JSON object.")
    unknown = sorted(set(body) - _JOB_PROPERTIES)
    if unknown:
        raise ApiError(400, "400-147", f"Unrecognized property: {', '.join(unknown)}")
    entity = _ENTITY_BY_LOWER.get(str(body.get("entityType", "")).lower())
    if not body.get("entityType"):
        raise ApiError(400, "400-104", "entityType is required.")
    if entity is None:
        raise ApiError(400, "400-127", f"Unsupported entityType: {body.get('entityType')}")
    name = body.get("jobName")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_JOB_NAME:
        raise ApiError(400, "400-126", "jobName is required and must be 50 characters or fewer.")
    fmt = str(body.get("format", "CSV")).upper()
    if fmt not in ("CSV", "JSON"):
        raise ApiError(400, "400-116", "format must be CSV or JSON.")
    if entity not in ENTITY_FIELDS:
        raise ApiError(403, "403-101", f"The tenant cannot access the {entity} entity type.")
    first, last = _job_dates(body, entity)
    fields = _job_fields(body, entity)
    filters = _job_filters(body, entity)
    _check_entitled(tenant, [*fields, *(f.field for f in filters)])
    return ExportRequest(
        entity_type=entity,
        name=name,
        fields=fields,
        format=fmt,
        filters=filters,
        account_list_ids=_job_lists(body, tenant),
        from_date=first,
        to_date=last,
        limit=_job_limit(body),
    )


# =========================================================================== the fake service


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(epoch * 1000) % 1000:03d}Z"
    )


@dataclass
class _Job:
    id: str
    tenant: str
    request: ExportRequest
    created_at: float
    as_of: date
    fail: str | None = None  # the failure message, for a job planned to fail
    polls: int = 0
    done_at: float | None = None

    def status(self, now: float, polls_to_finish: int, seconds_to_finish: float) -> str:
        elapsed = now - self.created_at
        if self.done_at is not None or self.polls >= polls_to_finish or elapsed >= seconds_to_finish:
            if self.done_at is None:
                self.done_at = now
            return "failed" if self.fail else "finished"
        if self.polls >= 1 or elapsed >= seconds_to_finish / 3:
            return "processing"
        return "accepted"


@dataclass
class _AccessToken:
    client_id: str
    expires_at: float
    expired: bool = False


def _xml_error(status: int, code: str, message: str) -> SandboxResponse:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return SandboxResponse(status, body.encode(), {"Content-Type": "application/xml"})


_MALFORMATIONS: Final[Mapping[str, Callable[[list[Any], int], None]]] = MappingProxyType(
    {
        # intent rows
        "non_numeric_people": lambda rows, i: rows[i].__setitem__("numPeopleResearching", "many"),
        "missing_company": lambda rows, i: rows[i].pop("companyId", None),
        "bad_end_date": lambda rows, i: rows[i].__setitem__("endDate", "18/07/2026"),
        # export records
        "missing_id": lambda rows, i: rows[i].pop("{Account}.id", None),
        "non_numeric_minutes": lambda rows, i: rows[i].__setitem__(
            "{Account}.engagementMinutesLast7Day", "12 min"
        ),
        # either
        "not_an_object": lambda rows, i: rows.__setitem__(i, "corrupt record"),
    }
)
_INTENT_MALFORMATIONS: Final = frozenset(
    {"non_numeric_people", "missing_company", "bad_end_date", "not_an_object"}
)
_EXPORT_MALFORMATIONS: Final = frozenset({"missing_id", "non_numeric_minutes", "not_an_object"})


class DemandbaseSandbox(FakeApi):
    """The Demandbase uapi fake. Options are described on :func:`create_app`."""

    platform: ClassVar[str] = "demandbase"
    fault_kinds: ClassVar[frozenset[str]] = FAULT_KINDS

    def __init__(
        self,
        *,
        access_token_ttl: int = ACCESS_TOKEN_TTL,
        job_polls: int = 2,
        job_seconds: float = 3.0,
        daily_job_quota: int = DAILY_JOB_QUOTA,
        bad_credentials_status: int = 400,
        results_layout: str = "json",
        link_ttl: int = RESULTS_LINK_TTL,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.access_token_ttl = access_token_ttl
        self.job_polls = job_polls
        self.job_seconds = job_seconds
        self.daily_job_quota = daily_job_quota
        self.bad_credentials_status = bad_credentials_status
        self.results_layout = results_layout
        self.link_ttl = link_ttl
        self._clock = clock
        self._lock = threading.RLock()
        self._signing_key = secrets.token_bytes(16)
        self._access: dict[str, _AccessToken] = {}
        self._revoked: set[str] = set()
        self._jobs: dict[str, _Job] = {}
        self._fail_next: list[str] = []
        self._intent_granted: set[str] = set()  # tenants given the Intent product since start or reset

    # -- time

    # -- FakeApi hooks

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "DEMANDBASE_API_BASE_URL": base_url,
            "DEMANDBASE_TOKEN_URL": base_url + "/auth/v1/token",
            "DEMANDBASE_CLIENT_ID": SANDBOX_CLIENT_ID,
            "DEMANDBASE_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        }

    def reset_state(self) -> None:
        with self._lock:
            self._access.clear()
            self._revoked.clear()
            self._jobs.clear()
            self._fail_next.clear()
            self._intent_granted.clear()

    def grant_intent(self, tenant: str, granted: bool = True) -> None:
        """Give a tenant the Intent product (or take it away), as a purchase would."""
        with self._lock:
            if granted:
                self._intent_granted.add(tenant)
            else:
                self._intent_granted.discard(tenant)

    def has_intent(self, tenant: str) -> bool:
        with self._lock:
            return TENANTS[tenant].intent or tenant in self._intent_granted

    @route("POST", r"^/_sandbox/entitlements$")
    def control_entitlements(self, request: SandboxRequest) -> SandboxResponse:
        """``{"tenant": name, "intent": true|false}``: the tenant gains (or loses) the Intent product."""
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("tenant") not in TENANTS or not isinstance(body.get("intent"), bool):
            known = ", ".join(sorted(TENANTS))
            return self.error_response(
                400, "BAD_ENTITLEMENT", f"The body must be {{\"tenant\": one of {known}, \"intent\": true|false}}"
            )
        self.grant_intent(body["tenant"], body["intent"])
        return json_response(200, {"tenant": body["tenant"], "intent": self.has_intent(body["tenant"])})

    def extra_state(self) -> dict[str, Any]:
        with self._lock:
            now = self.now()
            jobs = [
                {
                    "jobId": job.id,
                    "jobName": job.request.name,
                    "entityType": job.request.entity_type,
                    "jobStatus": job.status(now, self.job_polls, self.job_seconds),
                    "polls": job.polls,
                }
                for job in self._jobs.values()
            ]
            return {
                "jobs": jobs,
                "tokens": {"access": len(self._access), "revoked_key_sets": sorted(self._revoked)},
            }

    def error_response(self, status: int, code: str, message: str) -> SandboxResponse:
        seq = {404: "301", 405: "100", 500: "100"}.get(status, "103")
        return self._error(status, f"{status}-{seq}", message)

    def validate_fault(self, kind: str, params: Mapping[str, Any]) -> str | None:
        variant = params.get("variant")
        if kind == "malformed" and variant is not None and variant not in _MALFORMATIONS:
            return f"malformed variant must be one of {', '.join(_MALFORMATIONS)}"
        status = params.get("status", 500)
        if kind == "server_error" and not (isinstance(status, int) and 500 <= status <= 599):
            return "server_error status must be 5xx"
        if kind == "slow_job_response" and not isinstance(params.get("seconds", 1.0), int | float):
            return "slow_job_response needs a numeric 'seconds'"
        return super().validate_fault(kind, params)

    def preflight(self, request: SandboxRequest) -> SandboxResponse | None:
        self._maybe_revoke(request.path)
        if not request.path.startswith("/data/"):
            return None
        return self._check_token(request) or self._check_access(request) or self._injected_failure(request)

    # -- helpers

    @staticmethod
    def _error(status: int, code: str, message: str) -> SandboxResponse:
        body = {"errorCode": code, "errorMessage": message, "diagnosticCode": uuid.uuid4().hex}
        return json_response(status, body)

    def _api_error(self, error: ApiError) -> SandboxResponse:
        return self._error(error.status, error.code, error.message)

    @staticmethod
    def _is_intent(path: str) -> bool:
        return path.startswith("/data/intent/")

    def _maybe_revoke(self, path: str) -> None:
        fault = self.faults.take("revoke_keyset", path)
        if fault is None:
            return
        targets = {str(fault["client_id"])} if fault.get("client_id") else set(KEY_SETS)
        with self._lock:
            self._revoked |= targets
            for token in [t for t, record in self._access.items() if record.client_id in targets]:
                del self._access[token]

    def _bearer(self, request: SandboxRequest) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def _unauthorized(self, path: str) -> SandboxResponse:
        if self._is_intent(path):
            return json_response(401, INTENT_UNAUTHORIZED)
        return self._error(401, "401-100", "Authentication credentials are missing or invalid.")

    def _check_token(self, request: SandboxRequest) -> SandboxResponse | None:
        token = self._bearer(request)
        if token in {key.client_secret for key in KEY_SETS.values()}:
            self.count("secret_as_bearer")
        expire_now = self.faults.take("expire_token", request.path) is not None
        with self._lock:
            record = self._access.get(token)
            if record is not None and expire_now:
                record.expired = True
            if record is None or record.expired or self.now() >= record.expires_at:
                return self._unauthorized(request.path)
        return None

    def key_set_of(self, request: SandboxRequest) -> KeySet:
        with self._lock:
            return KEY_SETS[self._access[self._bearer(request)].client_id]

    def _check_access(self, request: SandboxRequest) -> SandboxResponse | None:
        key = self.key_set_of(request)
        if not self.has_intent(key.tenant) and (
            self._is_intent(request.path) or request.path.startswith("/data/export/v1/reference/keywordSet")
        ):
            return self._error(403, "403-100", "The tenant is not entitled to the Intent product.")
        if self._is_intent(request.path) and not key.intent:
            return self._error(
                403, "403-100", "API Key does not have privilege to access the requested resource"
            )
        if not self._is_intent(request.path) and not key.export:
            return self._error(
                403, "403-100", "The authenticated user does not have permission to access this resource."
            )
        return None

    def _injected_failure(self, request: SandboxRequest) -> SandboxResponse | None:
        if self.faults.take("throttle", request.path) is not None:
            return self._error(429, "429-100", "Rate limit exceeded.")
        if self.faults.take("export_quota", request.path) is not None:
            return self._error(429, "429-101", "The rolling 24-hour export quota was exceeded.")
        failure = self.faults.take("server_error", request.path)
        if failure is not None:
            status = int(failure.get("status", 500))
            return self._error(status, f"{status}-100", "Error while communicating with internal service.")
        return None

    def _malform(self, path: str, rows: list[Any], allowed: frozenset[str], default: str) -> None:
        if not rows:
            return
        fault = self.faults.take("malformed", path)
        if fault is None:
            return
        variant = str(fault.get("variant") or default)
        variant = variant if variant in allowed else default
        _MALFORMATIONS[variant](rows, int(fault.get("index", len(rows) // 2)) % len(rows))

    # -- auth

    @route("POST", r"^/auth/v1/token$")
    def token(self, request: SandboxRequest) -> SandboxResponse:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._error(400, "400-102", "The request body is not a valid JSON object.")
        client_id, secret = body.get("clientId"), body.get("clientSecret")
        if (
            body.get("grantType") != "client_credentials"
            or not isinstance(client_id, str)
            or not isinstance(secret, str)
        ):
            return self._error(
                400, "400-104", "grantType (client_credentials), clientId and clientSecret are required."
            )
        key = KEY_SETS.get(client_id)
        with self._lock:
            refused = (
                key is None
                or not hmac.compare_digest(key.client_secret, secret)
                or client_id in self._revoked
            )
            if refused:
                status = self.bad_credentials_status
                code = "401-100" if status == 401 else "400-103"
                return self._error(status, code, "Invalid client credentials.")
            token = "sandbox-db-" + secrets.token_urlsafe(32)
            self._access[token] = _AccessToken(client_id, self.now() + self.access_token_ttl)
        self.count("tokens_issued")
        return json_response(
            200, {"accessToken": token, "tokenType": "bearer", "expiresIn": self.access_token_ttl}
        )

    # -- intent

    @route("POST", r"^/data/intent/v1/companies/intent/query$")
    def intent_query(self, request: SandboxRequest) -> SandboxResponse:
        try:
            body = request.json()
        except ValueError:
            body = None
        try:
            query = parse_intent_query(body)
        except ApiError as error:
            return self._api_error(error)
        tenant = self.key_set_of(request).tenant
        rows = intent_rows(
            tenant,
            query.start,
            query.end,
            today=self.today(),
            filters=query.filters,
            sort_by=query.sort_by,
            sort_order=query.sort_order,
        )
        if query.offset > len(rows):
            return self._api_error(ApiError(400, "400-228", "pageToken is invalid."))
        page: list[Any] = rows[query.offset : query.offset + query.page_size]
        self._malform(request.path, page, _INTENT_MALFORMATIONS, "non_numeric_people")
        self.count("intent_rows_served", len(page))
        following = query.offset + query.page_size
        pagination = {
            "after": page_token(following, query.page_size) if following < len(rows) else None,
            "before": page_token(max(0, query.offset - query.page_size), query.page_size)
            if query.offset
            else None,
            "totalCount": len(rows),
        }
        return json_response(200, {"data": page, "pagination": pagination})

    # -- export: catalogue

    @route("GET", r"^/data/export/v1/fields$")
    def fields(self, request: SandboxRequest) -> SandboxResponse:
        entity = _ENTITY_BY_LOWER.get((request.arg("entityType") or "").lower())
        if entity is None:
            return self._error(400, "400-125", f"Unsupported entityType: {request.arg('entityType')}")
        if entity not in ENTITY_FIELDS:
            return self._error(403, "403-101", f"The tenant cannot access the {entity} entity type.")
        tenant = TENANTS[self.key_set_of(request).tenant]
        described = [
            {"name": f.name, "dataType": f.data_type, "label": f.label, "description": f.description}
            for f in tenant_fields(tenant, entity)
        ]
        return json_response(200, described)

    @route("GET", r"^/data/export/v1/references$")
    def references(self, request: SandboxRequest) -> SandboxResponse:
        names = {"keywordSet": "Intent keyword sets", "keywordSetMember": "Keywords of each keyword set"}
        available = [
            {"name": name, "description": text, "href": f"/data/export/v1/reference/{name}"}
            for name, text in names.items()
        ]
        return json_response(200, {"refObjectsAvailable": available})

    @route("GET", r"^/data/export/v1/reference/(?P<object>[^/]+)$")
    def reference(self, request: SandboxRequest) -> SandboxResponse:
        tenant = TENANTS[self.key_set_of(request).tenant]
        kind = request.path_params["object"]
        data: list[dict[str, Any]]
        if kind == "keywordSet":
            data = [
                {"id": k.id, "name": k.name, "keywordCount": len(k.keywords)} for k in tenant.keyword_sets
            ]
        elif kind == "keywordSetMember":
            data = [
                {"keywordSetId": k.id, "keyword": word} for k in tenant.keyword_sets for word in k.keywords
            ]
        elif kind in _EMPTY_REFERENCES:
            data = []
        else:
            return self._error(400, "400-154", "Invalid reference entity type.")
        return json_response(200, {"objectType": kind, "data": data})

    # -- export: jobs

    def _running_job(self, tenant: str, now: float) -> _Job | None:
        for job in self._jobs.values():
            if job.tenant == tenant and job.status(now, self.job_polls, self.job_seconds) in (
                "accepted",
                "processing",
            ):
                return job
        return None

    def _jobs_today(self, tenant: str) -> int:
        today = self.today()
        return sum(1 for job in self._jobs.values() if job.tenant == tenant and job.as_of == today)

    @route("POST", r"^/data/export/v1/job$")
    def create_job(self, request: SandboxRequest) -> SandboxResponse:
        tenant = self.key_set_of(request).tenant
        try:
            body = request.json()
        except ValueError:
            body = None
        try:
            export = parse_export_request(body, TENANTS[tenant])
        except ApiError as error:
            return self._api_error(error)
        failure = self.faults.take("job_failed", request.path)
        with self._lock:
            now = self.now()
            if self._running_job(tenant, now) is not None:
                return self._error(429, "429-102", "The concurrent export-job limit was exceeded.")
            if self._jobs_today(tenant) >= self.daily_job_quota:
                return self._error(429, "429-101", "The rolling 24-hour export quota was exceeded.")
            job = _Job(str(uuid.uuid4()), tenant, export, now, self.today())
            if failure is not None:
                job.fail = str(failure.get("message", "Internal error while generating the export file."))
            self._jobs[job.id] = job
        self.count("jobs_created")
        slow = self.faults.take("slow_job_response", request.path)
        if slow is not None:
            time.sleep(float(slow.get("seconds", 1.0)))  # created, but the answer comes too late
        return json_response(202, self._job_details(job, "accepted"))

    @staticmethod
    def _job_details(job: _Job, status: str) -> dict[str, Any]:
        return {
            "jobStatus": status,
            "createdAt": _iso(job.created_at),
            "jobId": job.id,
            "entityType": job.request.entity_type,
            "jobName": job.request.name,
        }

    def _own_job(self, request: SandboxRequest, job_id: str) -> _Job | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.tenant == self.key_set_of(request).tenant else None

    @route("GET", r"^/data/export/v1/job/(?P<job_id>[^/]+)$")
    def job_status(self, request: SandboxRequest) -> SandboxResponse:
        with self._lock:
            job = self._own_job(request, request.path_params["job_id"])
            if job is None:
                return self._error(404, "404-302", "Job id invalid")
            status = job.status(self.now(), self.job_polls, self.job_seconds)
            job.polls += 1
            details = self._job_details(job, status)
            updated = job.done_at if job.done_at is not None else job.created_at
        results_url = self._results_url(request, job) if status == "finished" else None
        message = job.fail if status == "failed" else None
        return json_response(
            200, {**details, "resultsUrl": results_url, "updatedAt": _iso(updated), "message": message}
        )

    @route("GET", r"^/data/export/v1/jobs$")
    def list_jobs(self, request: SandboxRequest) -> SandboxResponse:
        try:
            page, per_page, descending, status_filter, entity_filter = self._jobs_query(request)
        except ApiError as error:
            return self._api_error(error)
        tenant = self.key_set_of(request).tenant
        with self._lock:
            now = self.now()
            listed = []
            ordered = sorted(
                enumerate(self._jobs.values()), key=lambda p: (p[1].created_at, p[0]), reverse=descending
            )
            for _, job in ordered:
                status = job.status(now, self.job_polls, self.job_seconds)
                if job.tenant != tenant or status_filter not in ("all", status):
                    continue
                if entity_filter not in ("all", job.request.entity_type.lower()):
                    continue
                updated = job.done_at if job.done_at is not None else job.created_at
                listed.append({**self._job_details(job, status), "updatedAt": _iso(updated)})
        data = listed[(page - 1) * per_page : page * per_page]
        return json_response(
            200, {"pageNo": page, "pageSize": per_page, "totalCount": len(listed), "data": data}
        )

    @staticmethod
    def _jobs_query(request: SandboxRequest) -> tuple[int, int, bool, str, str]:
        page, per_page = request.arg("page", "1") or "", request.arg("perPage", "10") or ""
        if not page.isdigit() or int(page) < 1:
            raise ApiError(400, "400-121", "page must be a positive number.")
        if not per_page.isdigit() or int(per_page) < 1:
            raise ApiError(400, "400-122", "perPage must be a positive number.")
        sort = (request.arg("sort") or "descending").lower()
        if sort not in ("ascending", "descending"):
            raise ApiError(400, "400-120", "sort must be ascending or descending.")
        status = (request.arg("jobStatus") or "All").lower()
        if status not in ("all", "accepted", "processing", "finished", "failed"):
            raise ApiError(400, "400-124", f"Unsupported jobStatus: {request.arg('jobStatus')}")
        entity = (request.arg("entityType") or "All").lower()
        if entity != "all" and entity not in _ENTITY_BY_LOWER:
            raise ApiError(400, "400-123", f"Unsupported entityType: {request.arg('entityType')}")
        return int(page), min(int(per_page), 100), sort == "descending", status, entity

    # -- export: the signed result file

    def _signature(self, job_id: str, expires: int) -> str:
        return hmac.new(self._signing_key, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def _results_url(self, request: SandboxRequest, job: _Job) -> str:
        expires = int(self.now()) + self.link_ttl
        ext = "csv" if job.request.format == "CSV" else "json"
        host = request.headers.get("Host", "127.0.0.1")
        query = urlencode({"X-Expires": expires, "X-Signature": self._signature(job.id, expires)})
        return f"http://{host}/downloads/export/{job.id}/results.{ext}?{query}"

    @route("GET", r"^/downloads/export/(?P<job_id>[^/]+)/results\.(?P<ext>json|csv)$")
    def download(self, request: SandboxRequest) -> SandboxResponse:
        if "Authorization" in request.headers:
            return _xml_error(400, "InvalidArgument", "Only one auth mechanism allowed")
        job_id, expires = request.path_params["job_id"], request.arg("X-Expires") or ""
        signature = request.arg("X-Signature") or ""
        if not expires.isdigit() or not hmac.compare_digest(signature, self._signature(job_id, int(expires))):
            return _xml_error(403, "SignatureDoesNotMatch", "The request signature does not match")
        if self.now() > int(expires):
            return _xml_error(403, "AccessDenied", "Request has expired")
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.done_at is None or job.fail:
            return _xml_error(404, "NoSuchKey", "The specified key does not exist.")
        records: list[Any] = list(export_records(job.tenant, job.request, job.as_of))
        self._malform(request.path, records, _EXPORT_MALFORMATIONS, "missing_id")
        self.count("export_records_served", len(records))
        return self._file(job, records)

    def _file(self, job: _Job, records: list[Any]) -> SandboxResponse:
        if job.request.format == "CSV":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(job.request.fields)
            for record in records:
                row = record if isinstance(record, dict) else {}
                writer.writerow(["" if row.get(f) is None else row.get(f) for f in job.request.fields])
            return SandboxResponse(200, out.getvalue().encode(), {"Content-Type": "text/csv"})
        if self.results_layout == "ndjson":
            text = "".join(json.dumps(record) + "\n" for record in records)
            return SandboxResponse(200, text.encode(), {"Content-Type": "application/x-ndjson"})
        return json_response(200, records)


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

"""The Demandbase sandbox's data: tenants and their key sets, accounts, weekly intent, engagement by day
and its activities, and the Export API's fields and records.

Everything comes from a fixed catalogue and a hash-seeded generator: the same numbers in every process,
for any dates. The ``expected_*`` functions say exactly what the API serves.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any, Final

from sandbox.core import seeded_rng as _rng
from sandbox.core import weighted_pick as _pick

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
ENTITY_BY_LOWER: Final = {name.lower(): name for name in ENTITY_TYPES}


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


EMPTY_REFERENCES: Final = frozenset(
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
        return OPERATORS[self.operator.lower()](value, self.values)


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


OPERATORS: Final[Mapping[str, Callable[[Any, tuple[str, ...]], bool]]] = MappingProxyType(
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
NUMERIC_OPERATORS: Final = frozenset(
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

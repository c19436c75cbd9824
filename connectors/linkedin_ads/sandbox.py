"""A local imitation of LinkedIn's Marketing API, for tests and the demo.

It copies what a connector meets on the real service (docs/platform-apis.md, section 2): the OAuth
authorize and token endpoints with 60-day access tokens and a one-year refresh token whose remaining life
counts down; the ``LinkedIn-Version`` / ``X-Restli-Protocol-Version`` header rules; ``adAccounts``,
cursor-paged ``adCampaigns``; and ``adAnalytics`` with raw Rest.li query parameters, a 20-metric cap,
money as decimal strings, no pagination and silent truncation. The numbers come from a fixed catalogue of
accounts and a hash-seeded generator, so every call and every process sees the same data.
"""

from __future__ import annotations

import base64
import functools
import random
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Final, TypeAlias
from urllib.parse import unquote, urlencode

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

SANDBOX_CLIENT_ID: Final = "sandbox-linkedin-client"
SANDBOX_CLIENT_SECRET: Final = "sandbox-linkedin-secret"
DEMO_REFRESH_TOKEN: Final = "sandbox-li-refresh-demo"

ACCESS_TOKEN_TTL: Final = 5_184_000  # 60 days
REFRESH_TOKEN_TTL: Final = 31_536_000  # 365 days
AUTHORIZATION_CODE_TTL: Final = 1_800
DEFAULT_SCOPE: Final = "r_ads,r_ads_reporting"

ROW_CAP: Final = 15_000
MAX_METRICS: Final = 20
DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1_000
VERSION_LIFETIME_MONTHS: Final = 12
USD_PER_EUR: Final = Decimal("1.0832")

ORGANIZATION_ID: Final = 74_110_001

FAULT_KINDS: Final = BASE_FAULT_KINDS | {
    "rate_limit",
    "server_error",
    "expire_token",
    "revoke_refresh",
    "malformed",
    "version_retired",
}


# =========================================================================== catalogue


@dataclass(frozen=True)
class SandboxAccount:
    id: int
    name: str
    currency: str
    campaign_count: int
    has_activity: bool = True

    @property
    def urn(self) -> str:
        return f"urn:li:sponsoredAccount:{self.id}"


def _account(account: SandboxAccount) -> tuple[str, SandboxAccount]:
    return str(account.id), account


_CATALOGUE: dict[str, SandboxAccount] = dict(
    [
        _account(SandboxAccount(508000001, "Northwind – Demand Gen", "USD", 12)),
        _account(SandboxAccount(508000002, "Northwind – DACH", "EUR", 40)),
        _account(SandboxAccount(508000003, "Northwind – Always-On Global", "USD", 700)),
        _account(SandboxAccount(508000004, "Northwind – Test Lab", "USD", 3, has_activity=False)),
    ]
)
ACCOUNTS: Final[Mapping[str, SandboxAccount]] = MappingProxyType(_CATALOGUE)


@dataclass(frozen=True)
class SandboxCampaign:
    id: int
    account_id: int
    group_id: int
    name: str
    status: str
    type: str
    cost_type: str
    objective: str
    currency: str
    daily_budget: Decimal
    unit_cost: Decimal
    start: date
    end: date | None  # last scheduled day, inclusive
    last_delivery: date | None  # the last day with any delivery (the end, or the day before a pause)
    created_ms: int
    last_modified_ms: int
    version_tag: str
    daily_impressions: int
    ctr: float
    conversion_rate: float
    value_per_conversion: float
    idle_share: float
    video: bool
    active: bool

    @property
    def urn(self) -> str:
        return f"urn:li:sponsoredCampaign:{self.id}"

    @property
    def group_urn(self) -> str:
        return f"urn:li:sponsoredCampaignGroup:{self.group_id}"

    def runs_on(self, day: date) -> bool:
        return self.active and self.start <= day and (self.last_delivery is None or day <= self.last_delivery)


_STATUS_CYCLE: Final = ("ACTIVE", "ACTIVE", "PAUSED", "ACTIVE", "COMPLETED", "ACTIVE", "ARCHIVED", "PAUSED")
_BIG_ACCOUNT_STATUSES: Final = (("ACTIVE", 0.9), ("PAUSED", 0.04), ("COMPLETED", 0.04), ("ARCHIVED", 0.02))
_OBJECTIVES: Final = (
    ("WEBSITE_VISIT", 0.3),
    ("LEAD_GENERATION", 0.25),
    ("BRAND_AWARENESS", 0.15),
    ("WEBSITE_CONVERSION", 0.15),
    ("VIDEO_VIEW", 0.1),
    ("ENGAGEMENT", 0.05),
)
_THEMES: Final = (
    "Data Platform Launch",
    "Analytics Suite Trial",
    "Partner Summit",
    "Webinar: Pipeline Hygiene",
    "Customer Stories",
    "Pricing Retargeting",
    "Brand Always-On",
    "Ebook: Forecasting 101",
)
_AUDIENCES: Final = (
    "IT Directors",
    "CFOs",
    "Marketing Ops",
    "Mid-Market EMEA",
    "Enterprise NA",
    "Lookalikes",
)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_DAY_MS: Final = 86_400_000


def _epoch_ms(day: date) -> int:
    return (day.toordinal() - _EPOCH_ORDINAL) * _DAY_MS


def _cents(amount: float) -> Decimal:
    return Decimal(int(amount * 100)).scaleb(-2)


def _status(rng: random.Random, account: SandboxAccount, number: int) -> str:
    if account.campaign_count <= 100:
        return _STATUS_CYCLE[(number - 1) % len(_STATUS_CYCLE)]
    return _pick(rng, _BIG_ACCOUNT_STATUSES)


def _flight(rng: random.Random, first: date, spread_days: int) -> tuple[date, date]:
    start = first + timedelta(days=int(rng.random() * spread_days))
    return start, start + timedelta(days=14 + int(rng.random() * 106))


def _schedule(rng: random.Random, status: str) -> tuple[date, date | None, date | None]:
    """Run schedule (start, end) and the last day with delivery, consistent with the status.

    Completed and archived campaigns are flights that ended before mid-2026; paused ones stopped
    delivering on a day between 2024 and mid-2026. Active campaigns mostly run open-ended since 2023-24;
    a few are flights anywhere from mid-2024 to 2027, with or without an end date.
    """
    if status in ("COMPLETED", "ARCHIVED"):
        start, end = _flight(rng, date(2023, 1, 2), 1150)
        return start, end, end
    evergreen_start = date(2023, 1, 2) + timedelta(days=int(rng.random() * 700))
    if status == "PAUSED":
        paused_on = max(evergreen_start, date(2024, 1, 1)) + timedelta(days=int(rng.random() * 500))
        return evergreen_start, None, paused_on - timedelta(days=1)
    if rng.random() < 0.92:
        return evergreen_start, None, None
    start, end = _flight(rng, date(2024, 6, 1), 1125)
    open_ended = rng.random() < 0.3
    return start, (None if open_ended else end), (None if open_ended else end)


def _cost_type(objective: str) -> str:
    return {"BRAND_AWARENESS": "CPM", "ENGAGEMENT": "CPM", "VIDEO_VIEW": "CPV"}.get(objective, "CPC")


def _unit_cost(rng: random.Random, cost_type: str) -> Decimal:
    low, high = {"CPM": (18.0, 60.0), "CPC": (3.0, 12.0), "CPV": (0.05, 0.3)}[cost_type]
    return _cents(low + (high - low) * rng.random())


def _make_campaign(account: SandboxAccount, number: int) -> SandboxCampaign:
    rng = _rng("li-campaign", account.id, number)
    account_index = account.id % 1000
    objective = _pick(rng, _OBJECTIVES)
    cost_type = _cost_type(objective)
    status = _status(rng, account, number)
    start, end, last_delivery = _schedule(rng, status)
    created = _epoch_ms(start) - int((3 + rng.random() * 27) * _DAY_MS)
    many_campaigns = account.campaign_count > 100
    return SandboxCampaign(
        id=400_000_000 + account_index * 100_000 + number,
        account_id=account.id,
        group_id=600_000_000 + account_index * 10_000 + (number - 1) // 6 + 1,
        name=f"{_THEMES[number % len(_THEMES)]} – {_AUDIENCES[number % len(_AUDIENCES)]} #{number}",
        status=status,
        type="DYNAMIC" if number % 11 == 0 else ("TEXT_AD" if number % 7 == 0 else "SPONSORED_UPDATES"),
        cost_type=cost_type,
        objective=objective,
        currency=account.currency,
        daily_budget=Decimal(50 + 10 * int(rng.random() * 45)).quantize(Decimal("0.01")),
        unit_cost=_unit_cost(rng, cost_type),
        start=start,
        end=end,
        last_delivery=last_delivery,
        created_ms=created,
        last_modified_ms=created + int(rng.random() * 60 * _DAY_MS),
        version_tag=str(1 + int(rng.random() * 6)),
        daily_impressions=int((150 if many_campaigns else 400) + rng.random() ** 2 * 12_000),
        ctr=0.003 + 0.012 * rng.random(),
        conversion_rate=0.02 + 0.08 * rng.random(),
        value_per_conversion=40 + 260 * rng.random(),
        idle_share=0.02 + 0.05 * rng.random(),
        video=objective == "VIDEO_VIEW" or rng.random() < 0.15,
        active=account.has_activity,
    )


@functools.cache
def campaigns_for(account_id: str) -> tuple[SandboxCampaign, ...]:
    """The campaigns of one catalogue account, ordered by id (empty for an unknown account)."""
    account = ACCOUNTS.get(str(account_id))
    if account is None:
        return ()
    return tuple(_make_campaign(account, number) for number in range(1, account.campaign_count + 1))


def add_accounts(accounts: Iterable[SandboxAccount]) -> None:
    """Extend the catalogue (the benchmarks add accounts with thousands of campaigns)."""
    _CATALOGUE.update(_account(account) for account in accounts)
    campaigns_for.cache_clear()


def _all_campaigns() -> Iterator[SandboxCampaign]:
    for account_id in ACCOUNTS:
        yield from campaigns_for(account_id)


# =========================================================================== metrics

MONEY_METRICS: Final = frozenset({"costInLocalCurrency", "costInUsd", "conversionValueInLocalCurrency"})
METRICS: Final = (
    "impressions",
    "clicks",
    "landingPageClicks",
    "costInLocalCurrency",
    "costInUsd",
    "externalWebsiteConversions",
    "externalWebsitePostClickConversions",
    "externalWebsitePostViewConversions",
    "oneClickLeads",
    "oneClickLeadFormOpens",
    "conversionValueInLocalCurrency",
    "approximateMemberReach",
    "likes",
    "comments",
    "shares",
    "follows",
    "reactions",
    "otherEngagements",
    "totalEngagements",
    "companyPageClicks",
    "videoStarts",
    "videoViews",
    "videoCompletions",
    "viralImpressions",
    "viralClicks",
)
STRUCTURAL_FIELDS: Final = ("pivotValues", "dateRange")

Metrics: TypeAlias = Mapping[str, int | Decimal]


def _share(rng: random.Random, amount: int, low: float, high: float) -> int:
    return int(amount * (low + (high - low) * rng.random()))


def _engagement(rng: random.Random, impressions: int, clicks: int, video: bool) -> dict[str, int]:
    likes = _share(rng, impressions, 0.0, 0.004)
    comments = _share(rng, likes, 0.0, 0.15)
    shares = _share(rng, likes, 0.0, 0.1)
    follows = _share(rng, impressions, 0.0, 0.0006)
    other = _share(rng, impressions, 0.0, 0.002)
    reactions = likes + _share(rng, likes, 0.0, 0.25)
    video_starts = _share(rng, impressions, 0.25, 0.45) if video else 0
    video_views = _share(rng, video_starts, 0.4, 0.7)
    viral_impressions = _share(rng, impressions, 0.0, 0.03)
    return {
        "likes": likes,
        "comments": comments,
        "shares": shares,
        "follows": follows,
        "reactions": reactions,
        "otherEngagements": other,
        "totalEngagements": clicks + reactions + comments + shares + follows + other,
        "companyPageClicks": _share(rng, clicks, 0.0, 0.06),
        "videoStarts": video_starts,
        "videoViews": video_views,
        "videoCompletions": _share(rng, video_views, 0.3, 0.7),
        "viralImpressions": viral_impressions,
        "viralClicks": _share(rng, viral_impressions, 0.0, 0.01),
    }


def _money(rng: random.Random, amount: float) -> Decimal:
    """Two decimals as a rule, three now and then (LinkedIn serves values like "209.449")."""
    places = 3 if rng.random() < 0.1 else 2
    return Decimal(int(amount * 10**places)).scaleb(-places)


def _spend(
    rng: random.Random, campaign: SandboxCampaign, impressions: int, clicks: int, views: int
) -> Decimal:
    unit = float(campaign.unit_cost)
    billable = {"CPM": impressions / 1000, "CPC": float(clicks), "CPV": float(views)}[campaign.cost_type]
    return _money(rng, billable * unit * (0.8 + 0.35 * rng.random()))


@functools.lru_cache(maxsize=262_144)
def day_metrics(campaign: SandboxCampaign, day: date) -> Metrics | None:
    """Every supported metric of one campaign on one day, or ``None`` when it had no activity."""
    if not campaign.runs_on(day):
        return None
    rng = _rng("li-day", campaign.id, day.isoformat())
    if rng.random() < campaign.idle_share:
        return None
    weekday_factor = 0.55 if day.weekday() >= 5 else 1.0
    impressions = max(1, int(campaign.daily_impressions * weekday_factor * (0.6 + 0.8 * rng.random())))
    clicks = min(impressions, _share(rng, impressions, 0.5 * campaign.ctr, 1.5 * campaign.ctr))
    post_click = min(
        clicks, _share(rng, clicks, 0.3 * campaign.conversion_rate, 1.7 * campaign.conversion_rate)
    )
    post_view = min(clicks - post_click, _share(rng, impressions, 0.0, 0.0006))
    conversions = post_click + post_view
    lead_gen = campaign.objective == "LEAD_GENERATION"
    form_opens = _share(rng, clicks, 0.2, 0.5) if lead_gen else 0
    engagement = _engagement(rng, impressions, clicks, campaign.video)
    cost = _spend(rng, campaign, impressions, clicks, engagement["videoViews"])
    cost_usd = cost if campaign.currency == "USD" else (cost * USD_PER_EUR).quantize(Decimal("0.001"))
    value = _cents(conversions * campaign.value_per_conversion * (0.7 + 0.6 * rng.random()))
    metrics: dict[str, int | Decimal] = {
        "impressions": impressions,
        "clicks": clicks,
        "landingPageClicks": _share(rng, clicks, 0.7, 1.0),
        "costInLocalCurrency": cost,
        "costInUsd": cost_usd,
        "externalWebsiteConversions": conversions,
        "externalWebsitePostClickConversions": post_click,
        "externalWebsitePostViewConversions": post_view,
        "oneClickLeadFormOpens": form_opens,
        "oneClickLeads": _share(rng, form_opens, 0.2, 0.5),
        "conversionValueInLocalCurrency": value,
        "approximateMemberReach": max(1, _share(rng, impressions, 0.55, 0.9)),
        **engagement,
    }
    return MappingProxyType(metrics)


def _days(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def expected_daily_rows(account_id: str, start: date, end: date) -> list[dict[str, Any]]:
    """The true per-campaign, per-day numbers the API serves for this range, ignoring the row cap.

    Rows come in the API's order (date, then campaign id); days without activity are left out.
    """
    rows: list[dict[str, Any]] = []
    campaigns = campaigns_for(str(account_id))
    for day in _days(start, end):
        for campaign in campaigns:
            metrics = day_metrics(campaign, day)
            if metrics is None:
                continue
            rows.append(
                {
                    "campaign_id": str(campaign.id),
                    "date": day,
                    "impressions": metrics["impressions"],
                    "clicks": metrics["clicks"],
                    "cost": metrics["costInLocalCurrency"],
                    "conversions": metrics["externalWebsiteConversions"],
                    "conversion_value": metrics["conversionValueInLocalCurrency"],
                }
            )
    return rows


# =========================================================================== Rest.li query parsing

RestliValue: TypeAlias = "str | list[RestliValue] | dict[str, RestliValue]"


class RestliSyntaxError(ValueError):
    pass


class _RestliReader:
    """Reads one Rest.li 2.0 value: ``(key:value,...)``, ``List(a,b)`` or a percent-encoded scalar."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def read(self) -> RestliValue:
        value = self._value()
        if self.pos != len(self.text):
            raise RestliSyntaxError(f"unexpected {self.text[self.pos]!r} at offset {self.pos}")
        return value

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _expect_separator(self) -> bool:
        """Consume ``,`` (more items follow, True) or ``)`` (end, False)."""
        char = self._peek()
        if char not in (",", ")"):
            found = repr(char) if char else "end of value"
            raise RestliSyntaxError(f"expected ',' or ')' at offset {self.pos}, found {found}")
        self.pos += 1
        return char == ","

    def _value(self) -> RestliValue:
        if self.text.startswith("List(", self.pos):
            self.pos += len("List(")
            return self._list()
        if self._peek() == "(":
            self.pos += 1
            return self._object()
        return self._scalar()

    def _list(self) -> list[RestliValue]:
        items: list[RestliValue] = []
        if self._peek() == ")":
            self.pos += 1
            return items
        items.append(self._value())
        while self._expect_separator():
            items.append(self._value())
        return items

    def _object(self) -> dict[str, RestliValue]:
        entries: dict[str, RestliValue] = {}
        if self._peek() == ")":
            self.pos += 1
            return entries
        while True:
            key = self._scalar()
            if self._peek() != ":":
                raise RestliSyntaxError(f"expected ':' after {key!r} at offset {self.pos}")
            self.pos += 1
            entries[key] = self._value()
            if not self._expect_separator():
                return entries

    def _scalar(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in "(),:":
            self.pos += 1
        if self.pos == start:
            raise RestliSyntaxError(f"empty value at offset {start}")
        return unquote(self.text[start : self.pos])


def parse_restli(raw: str) -> RestliValue:
    """Parse one raw (still percent-encoded) Rest.li 2.0 query value."""
    return _RestliReader(raw).read()


def raw_query_params(query_string: str) -> dict[str, str]:
    """Split a query string into names and their raw values, leaving the values encoded."""
    params: dict[str, str] = {}
    for part in query_string.split("&"):
        if part:
            name, _, value = part.partition("=")
            params.setdefault(unquote(name), value)
    return params


# =========================================================================== analytics queries


class ParamError(ValueError):
    def __init__(self, param: str, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.param = param
        self.missing = missing


_FACET_URNS: Final = {
    "accounts": "urn:li:sponsoredAccount:",
    "campaigns": "urn:li:sponsoredCampaign:",
    "campaignGroups": "urn:li:sponsoredCampaignGroup:",
    "creatives": "urn:li:sponsoredCreative:",
}
_PIVOTS: Final = ("CAMPAIGN", "CAMPAIGN_GROUP", "ACCOUNT")
_GRANULARITIES: Final = ("DAILY", "MONTHLY", "YEARLY", "ALL")


@dataclass(frozen=True)
class AnalyticsQuery:
    pivot: str
    granularity: str
    start: date
    end: date
    facets: Mapping[str, frozenset[int]]
    fields: tuple[str, ...] | None


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise ParamError(name, f"Parameter '{name}' is required", missing=True)
    return value


def _restli(params: Mapping[str, str], name: str) -> RestliValue:
    try:
        return parse_restli(_required(params, name))
    except RestliSyntaxError as exc:
        raise ParamError(name, f"Invalid value for param '{name}': {exc}") from exc


def _parse_pivot(params: Mapping[str, str]) -> str:
    value = _restli(params, "pivot")
    if isinstance(value, dict) and set(value) == {"value"}:
        value = value["value"]
    if not isinstance(value, str) or value not in _PIVOTS:
        raise ParamError(
            "pivot", f"Invalid value for param 'pivot'; this sandbox supports {', '.join(_PIVOTS)}"
        )
    return value


def _parse_date(value: RestliValue, where: str) -> date:
    if not isinstance(value, dict) or set(value) != {"year", "month", "day"}:
        raise ParamError(
            "dateRange", f"Invalid value for param 'dateRange': {where} needs year, month and day"
        )
    try:
        return date(*(int(str(value[part])) for part in ("year", "month", "day")))
    except ValueError as exc:
        raise ParamError("dateRange", f"Invalid value for param 'dateRange': {where}: {exc}") from exc


def _parse_date_range(params: Mapping[str, str], today: date) -> tuple[date, date]:
    value = _restli(params, "dateRange")
    if not isinstance(value, dict) or "start" not in value or not set(value) <= {"start", "end"}:
        raise ParamError("dateRange", "Invalid value for param 'dateRange': expected (start:(...),end:(...))")
    start = _parse_date(value["start"], "start")
    end = _parse_date(value["end"], "end") if "end" in value else today
    if end < start:
        raise ParamError("dateRange", "Invalid value for param 'dateRange': end is before start")
    return start, end


def _parse_facets(params: Mapping[str, str]) -> dict[str, frozenset[int]]:
    facets: dict[str, frozenset[int]] = {}
    for name, prefix in _FACET_URNS.items():
        if name not in params:
            continue
        items = _restli(params, name)
        if not isinstance(items, list) or not items:
            raise ParamError(name, f"Invalid value for param '{name}': expected a non-empty List(...)")
        ids: set[int] = set()
        for item in items:
            if not isinstance(item, str) or not item.startswith(prefix) or not item[len(prefix) :].isdigit():
                raise ParamError(name, f"Invalid value for param '{name}': {item!r} is not a {prefix}… URN")
            ids.add(int(item[len(prefix) :]))
        facets[name] = frozenset(ids)
    if not facets:
        raise ParamError(
            "accounts", "At least one facet (accounts, campaigns, ...) is required", missing=True
        )
    return facets


def _parse_fields(params: Mapping[str, str]) -> tuple[str, ...] | None:
    raw = params.get("fields")
    if raw is None:
        return None
    names = tuple(dict.fromkeys(name.strip() for name in unquote(raw).split(",") if name.strip()))
    metrics = [name for name in names if name not in STRUCTURAL_FIELDS]
    if len(metrics) > MAX_METRICS:
        raise ParamError(
            "fields", f"Too many metrics requested ({len(metrics)}); the maximum is {MAX_METRICS}"
        )
    unknown = [name for name in metrics if name not in METRICS]
    if unknown:
        raise ParamError("fields", f"Unknown fields: {', '.join(unknown)}")
    return names


def parse_analytics_query(query_string: str, today: date) -> AnalyticsQuery:
    params = raw_query_params(query_string)
    finder = unquote(_required(params, "q"))
    if finder != "analytics":
        raise ParamError("q", f"Finder '{finder}' is not supported by this sandbox; use q=analytics")
    granularity = unquote(_required(params, "timeGranularity"))
    if granularity not in _GRANULARITIES:
        raise ParamError("timeGranularity", f"Invalid value for param 'timeGranularity': {granularity}")
    pivot = _parse_pivot(params)
    start, end = _parse_date_range(params, today)
    return AnalyticsQuery(pivot, granularity, start, end, _parse_facets(params), _parse_fields(params))


# =========================================================================== analytics rows


@dataclass
class AnalyticsBucket:
    """One output element: metrics summed over the days and campaigns that fall into it."""

    pivot: str
    start: date
    end: date
    totals: dict[str, int | Decimal] = field(default_factory=dict)
    contributions: int = 0
    widest_reach: int = 0

    def add(self, metrics: Metrics) -> None:
        for name, value in metrics.items():
            self.totals[name] = self.totals.get(name, 0) + value
        self.contributions += 1
        self.widest_reach = max(self.widest_reach, int(metrics["approximateMemberReach"]))

    def value(self, name: str) -> int | Decimal:
        if name == "approximateMemberReach" and self.contributions > 1:
            # Reach does not add up across days or campaigns: overlap shrinks the sum.
            return max(self.widest_reach, int(int(self.totals[name]) * 0.6))
        return self.totals[name]


def _period(query: AnalyticsQuery, day: date) -> tuple[date, date]:
    if query.granularity == "DAILY":
        return day, day
    if query.granularity == "ALL":
        return query.start, query.end
    if query.granularity == "MONTHLY":
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    else:
        first, last = date(day.year, 1, 1), date(day.year, 12, 31)
    return max(first, query.start), min(last, query.end)


def _pivot_of(query: AnalyticsQuery, campaign: SandboxCampaign) -> tuple[int, str]:
    if query.pivot == "ACCOUNT":
        return campaign.account_id, f"urn:li:sponsoredAccount:{campaign.account_id}"
    if query.pivot == "CAMPAIGN_GROUP":
        return campaign.group_id, campaign.group_urn
    return campaign.id, campaign.urn


def _in_scope(query: AnalyticsQuery) -> list[SandboxCampaign]:
    if "creatives" in query.facets:
        return []  # the sandbox has no creatives
    keys = {"accounts": "account_id", "campaigns": "id", "campaignGroups": "group_id"}
    return [
        campaign
        for campaign in _all_campaigns()
        if all(getattr(campaign, keys[name]) in ids for name, ids in query.facets.items())
    ]


def analytics_buckets(query: AnalyticsQuery) -> list[AnalyticsBucket]:
    """All elements for a query, in the order they are served (period, then pivot id)."""
    campaigns = _in_scope(query)
    buckets: dict[tuple[date, int], AnalyticsBucket] = {}
    for day in _days(query.start, query.end):
        for campaign in campaigns:
            metrics = day_metrics(campaign, day)
            if metrics is None:
                continue
            start, end = _period(query, day)
            sort_id, urn = _pivot_of(query, campaign)
            bucket = buckets.get((start, sort_id))
            if bucket is None:
                bucket = buckets[(start, sort_id)] = AnalyticsBucket(urn, start, end)
            bucket.add(metrics)
    return [buckets[key] for key in sorted(buckets)]


def _ymd(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def render_element(bucket: AnalyticsBucket, fields: tuple[str, ...] | None) -> dict[str, Any]:
    element: dict[str, Any] = {}
    for name in fields if fields is not None else ("impressions", "clicks"):
        if name == "pivotValues":
            element[name] = [bucket.pivot]
        elif name == "dateRange":
            element[name] = {"start": _ymd(bucket.start), "end": _ymd(bucket.end)}
        else:
            value = bucket.value(name)
            element[name] = format(value, "f") if isinstance(value, Decimal) else value
    return element


_MALFORMATIONS: Final[Mapping[str, Callable[[dict[str, Any]], None]]] = {
    "missing_pivot_values": lambda element: element.pop("pivotValues", None),
    "non_numeric_impressions": lambda element: element.__setitem__("impressions", "abc"),
    "non_numeric_cost": lambda element: element.__setitem__("costInLocalCurrency", "12.5O"),
}


# =========================================================================== the fake service


@dataclass
class _AccessToken:
    expires_at: float
    scope: str
    expired: bool = False


@dataclass
class _RefreshToken:
    issued_at: float
    scope: str
    revoked: bool = False


@dataclass
class _AuthorizationCode:
    redirect_uri: str
    scope: str
    expires_at: float


def _oauth_error(status: int, error: str, description: str) -> SandboxResponse:
    return json_response(status, {"error": error, "error_description": description})


_INVALID_GRANT: Final = "The provided authorization grant or refresh token is invalid, expired or revoked"


class LinkedInAdsSandbox(FakeApi):
    """The LinkedIn Marketing API fake. Options are described on :func:`create_app`."""

    platform: ClassVar[str] = "linkedin_ads"
    fault_kinds: ClassVar[frozenset[str]] = FAULT_KINDS

    def __init__(
        self,
        *,
        access_token_ttl: int = ACCESS_TOKEN_TTL,
        refresh_token_ttl: int = REFRESH_TOKEN_TTL,
        row_cap: int = ROW_CAP,
        clock: Callable[[], float] | None = None,
        unreturned_metrics: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__()
        # Metrics still accepted in ``fields`` but no longer returned (retired in a newer API version,
        # or not reported for this account): left out of every adAnalytics element.
        self.unreturned_metrics = tuple(unreturned_metrics)
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.row_cap = row_cap
        self._clock = clock
        self._token_lock = threading.Lock()
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self._codes: dict[str, _AuthorizationCode] = {}
        self.reset_state()

    # -- time

    # -- FakeApi hooks

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "LINKEDIN_ADS_API_BASE_URL": base_url,
            "LINKEDIN_ADS_TOKEN_URL": base_url + "/oauth/v2/accessToken",
            "LINKEDIN_ADS_AUTHORIZE_URL": base_url + "/oauth/v2/authorization",
            "LINKEDIN_ADS_CLIENT_ID": SANDBOX_CLIENT_ID,
            "LINKEDIN_ADS_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        }

    def reset_state(self) -> None:
        with self._token_lock:
            self._access.clear()
            self._codes.clear()
            self._refresh.clear()
            self._refresh[DEMO_REFRESH_TOKEN] = _RefreshToken(self.now(), DEFAULT_SCOPE)

    def extra_state(self) -> dict[str, Any]:
        with self._token_lock:
            return {
                "tokens": {
                    "access": len(self._access),
                    "refresh": len(self._refresh),
                    "refresh_revoked": sum(token.revoked for token in self._refresh.values()),
                }
            }

    def validate_fault(self, kind: str, params: Mapping[str, Any]) -> str | None:
        if kind == "malformed" and params.get("variant", "non_numeric_impressions") not in _MALFORMATIONS:
            return f"malformed variant must be one of {', '.join(_MALFORMATIONS)}"
        status = params.get("status", 500)
        if kind == "server_error" and not (isinstance(status, int) and 500 <= status <= 599):
            return "server_error status must be 5xx"
        return super().validate_fault(kind, params)

    def preflight(self, request: SandboxRequest) -> SandboxResponse | None:
        if not request.path.startswith("/rest/"):
            return None
        return self._check_token(request) or self._check_headers(request) or self._injected_failure(request)

    # -- /rest/ request checks

    @staticmethod
    def _bearer(request: SandboxRequest) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def _check_token(self, request: SandboxRequest) -> SandboxResponse | None:
        token = self._bearer(request)
        expire_now = self.faults.take("expire_token", request.path) is not None
        with self._token_lock:
            record = self._access.get(token)
            if record is not None and expire_now:
                record.expired = True
            if record is None:
                return self._unauthorized(65600, "INVALID_ACCESS_TOKEN", "Invalid access token")
            if record.expired or self.now() >= record.expires_at:
                record.expired = True
                return self._unauthorized(
                    65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"
                )
        return None

    @staticmethod
    def _unauthorized(service_code: int, code: str, message: str) -> SandboxResponse:
        body = {"status": 401, "serviceErrorCode": service_code, "code": code, "message": message}
        return json_response(401, body)

    def _check_headers(self, request: SandboxRequest) -> SandboxResponse | None:
        version = request.headers.get("LinkedIn-Version", "").strip()
        if not version:
            message = (
                "A version must be present. Please specify a version by adding the LinkedIn-Version header."
            )
            return json_response(400, {"status": 400, "code": "VERSION_MISSING", "message": message})
        if not self._version_is_active(version):
            return self._version_inactive(version)
        if request.headers.get("X-Restli-Protocol-Version", "").strip() != "2.0.0":
            message = "This API only speaks Rest.li protocol 2.0.0; send the X-Restli-Protocol-Version: 2.0.0 header."
            return json_response(400, {"status": 400, "code": "ILLEGAL_ARGUMENT", "message": message})
        return None

    def _version_is_active(self, version: str) -> bool:
        match = re.fullmatch(r"(\d{4})(\d{2})(?:\.\d{2})?", version)
        if match is None or not 1 <= int(match.group(2)) <= 12:
            return False
        requested = int(match.group(1)) * 12 + int(match.group(2)) - 1
        today = self.today()
        current = today.year * 12 + today.month - 1
        return current - VERSION_LIFETIME_MONTHS <= requested <= current

    @staticmethod
    def _version_inactive(version: str) -> SandboxResponse:
        message = f"Requested version {version} is not active"
        return json_response(426, {"status": 426, "code": "NONEXISTENT_VERSION", "message": message})

    def _injected_failure(self, request: SandboxRequest) -> SandboxResponse | None:
        if self.faults.take("version_retired", request.path) is not None:
            return self._version_inactive(request.headers.get("LinkedIn-Version", ""))
        if self.faults.take("rate_limit", request.path) is not None:
            message = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."
            body = {"status": 429, "serviceErrorCode": 101, "code": "TOO_MANY_REQUESTS", "message": message}
            return json_response(429, body)
        failure = self.faults.take("server_error", request.path)
        if failure is not None:
            status = int(failure.get("status", 500))
            message = str(failure.get("message", "Internal Server Error"))
            return json_response(
                status, {"status": status, "code": "INTERNAL_SERVER_ERROR", "message": message}
            )
        return None

    @staticmethod
    def _bad_param(error: ParamError) -> SandboxResponse:
        if error.missing:
            return json_response(400, {"message": str(error), "status": 400})
        return json_response(400, {"status": 400, "code": "ILLEGAL_ARGUMENT", "message": str(error)})

    # -- OAuth

    @route("GET", r"^/oauth/v2/authorization$")
    def authorize(self, request: SandboxRequest) -> SandboxResponse:
        """Approve at once, as if the member clicked "Allow", and send the browser back with a code."""
        args = {name: request.arg(name) or "" for name in ("response_type", "client_id", "redirect_uri")}
        missing = [name for name, value in args.items() if not value]
        if missing:
            return _oauth_error(400, "invalid_request", f'A required parameter "{missing[0]}" is missing')
        if args["client_id"] != SANDBOX_CLIENT_ID:
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        if args["response_type"] != "code":
            return _oauth_error(400, "unsupported_response_type", "Only response_type=code is supported")
        code = "sandbox-li-code-" + secrets.token_urlsafe(18)
        scope = (request.arg("scope") or DEFAULT_SCOPE).replace(" ", ",")
        with self._token_lock:
            self._codes[code] = _AuthorizationCode(
                args["redirect_uri"], scope, self.now() + AUTHORIZATION_CODE_TTL
            )
        answer = {"code": code}
        state = request.arg("state")
        if state is not None:
            answer["state"] = state
        separator = "&" if "?" in args["redirect_uri"] else "?"
        location = args["redirect_uri"] + separator + urlencode(answer)
        return SandboxResponse(302, b"", {"Location": location})

    @route("POST", r"^/oauth/v2/accessToken$")
    def access_token(self, request: SandboxRequest) -> SandboxResponse:
        if not request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return _oauth_error(400, "invalid_request", "The request must be form-encoded")
        form = request.form()
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error(400, "invalid_request", 'A required parameter "grant_type" is missing')
        if grant_type not in ("refresh_token", "authorization_code"):
            return _oauth_error(400, "unsupported_grant_type", f"Grant type {grant_type} is not supported")
        if form.get("client_id") != SANDBOX_CLIENT_ID or form.get("client_secret") != SANDBOX_CLIENT_SECRET:
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        if grant_type == "refresh_token":
            return self._refresh_grant(request.path, form.get("refresh_token", ""))
        return self._code_grant(form.get("code", ""), form.get("redirect_uri", ""))

    def _refresh_grant(self, path: str, refresh_token: str) -> SandboxResponse:
        revoke = self.faults.take("revoke_refresh", path) is not None
        with self._token_lock:
            if revoke:
                for existing in self._refresh.values():
                    existing.revoked = True
            record = self._refresh.get(refresh_token)
            if record is None or record.revoked:
                return _oauth_error(400, "invalid_request", _INVALID_GRANT)
            remaining = self._refresh_remaining(refresh_token, record)
            if remaining <= 0:
                return _oauth_error(400, "invalid_request", _INVALID_GRANT)
            return self._issue(refresh_token, record.scope, remaining)

    def _refresh_remaining(self, token: str, record: _RefreshToken) -> int:
        remaining = int(record.issued_at + self.refresh_token_ttl - self.now())
        if remaining <= 0 and token == DEMO_REFRESH_TOKEN:
            # The demo token never runs out: when its year is over it starts a new one.
            record.issued_at = self.now()
            remaining = self.refresh_token_ttl
        return remaining

    def _code_grant(self, code: str, redirect_uri: str) -> SandboxResponse:
        with self._token_lock:
            grant = self._codes.pop(code, None)
            if grant is None or grant.redirect_uri != redirect_uri or self.now() >= grant.expires_at:
                return _oauth_error(400, "invalid_request", _INVALID_GRANT)
            refresh_token = "sandbox-li-refresh-" + secrets.token_urlsafe(24)
            self._refresh[refresh_token] = _RefreshToken(self.now(), grant.scope)
            return self._issue(refresh_token, grant.scope, self.refresh_token_ttl)

    def _issue(self, refresh_token: str, scope: str, refresh_remaining: int) -> SandboxResponse:
        """Mint an access token; the caller holds the token lock."""
        access_token = "sandbox-li-access-" + secrets.token_urlsafe(32)
        self._access[access_token] = _AccessToken(self.now() + self.access_token_ttl, scope)
        self.count("tokens_issued")
        body = {
            "access_token": access_token,
            "expires_in": self.access_token_ttl,
            "refresh_token": refresh_token,
            "refresh_token_expires_in": refresh_remaining,
            "scope": scope,
        }
        return json_response(200, body)

    # -- ad accounts and campaigns

    def _access_denied(self, resource: str) -> SandboxResponse:
        message = f"Not enough permissions to access: {resource}"
        return json_response(
            403, {"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED", "message": message}
        )

    @route("GET", r"^/rest/adAccounts/(?P<account_id>\d+)$")
    def ad_account(self, request: SandboxRequest) -> SandboxResponse:
        account = ACCOUNTS.get(request.path_params["account_id"])
        if account is None:
            return self._access_denied(f"adAccounts.GET.{request.path_params['account_id']}")
        body = {
            "id": account.id,
            "name": account.name,
            "currency": account.currency,
            "status": "ACTIVE",
            "type": "BUSINESS",
            "reference": f"urn:li:organization:{ORGANIZATION_ID}",
            "test": False,
        }
        return json_response(200, body)

    @route("GET", r"^/rest/adAccounts/(?P<account_id>\d+)/adCampaigns$")
    def ad_campaigns(self, request: SandboxRequest) -> SandboxResponse:
        account_id = request.path_params["account_id"]
        if account_id not in ACCOUNTS:
            return self._access_denied(f"adAccounts/{account_id}/adCampaigns.FINDER-search")
        try:
            page_size, offset, matches = _campaign_search(request.query_string, account_id)
        except ParamError as exc:
            return self._bad_param(exc)
        page = matches[offset : offset + page_size]
        metadata: dict[str, str] = {}
        if offset + page_size < len(matches):
            metadata["nextPageToken"] = _page_token(account_id, offset + page_size)
        body = {
            "paging": {"start": 0, "count": page_size, "links": []},
            "elements": [_campaign_element(campaign) for campaign in page],
            "metadata": metadata,
        }
        return json_response(200, body)

    # -- analytics

    @route("GET", r"^/rest/adAnalytics$")
    def ad_analytics(self, request: SandboxRequest) -> SandboxResponse:
        try:
            query = parse_analytics_query(request.query_string, self.today())
        except ParamError as exc:
            return self._bad_param(exc)
        buckets = analytics_buckets(query)
        served = buckets[: self.row_cap]
        elements = [render_element(bucket, query.fields) for bucket in served]
        for element in elements:
            for name in self.unreturned_metrics:
                element.pop(name, None)
        if elements:
            self._maybe_malform(request.path, elements)
        self.count("analytics_rows_served", len(elements))
        self.count("analytics_rows_dropped", len(buckets) - len(served))
        return json_response(200, {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements})

    def _maybe_malform(self, path: str, elements: list[dict[str, Any]]) -> None:
        fault = self.faults.take("malformed", path)
        if fault is None:
            return
        index = int(fault.get("index", len(elements) // 2)) % len(elements)
        _MALFORMATIONS[str(fault.get("variant", "non_numeric_impressions"))](elements[index])


# =========================================================================== campaign search helpers

_SEARCH_KEYS: Final = {"status": "status", "type": "type", "campaignGroup": "group_urn"}


def _page_token(account_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{account_id}:{offset}".encode()).decode().rstrip("=")


def _page_offset(token: str, account_id: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        owner, _, offset = decoded.partition(":")
        if owner == account_id and offset.isdigit():
            return int(offset)
    except ValueError:
        pass
    raise ParamError("pageToken", "Invalid value for param 'pageToken'")


def _page_size(params: Mapping[str, str]) -> int:
    raw = unquote(params.get("pageSize", str(DEFAULT_PAGE_SIZE)))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ParamError(
            "pageSize", f"Invalid value for param 'pageSize': must be between 1 and {MAX_PAGE_SIZE}"
        )
    return int(raw)


def _search_filters(params: Mapping[str, str]) -> dict[str, set[str]]:
    if "search" not in params:
        return {}
    criteria = _restli(params, "search")
    if not isinstance(criteria, dict):
        raise ParamError("search", "Invalid value for param 'search': expected (field:(values:List(...)))")
    filters: dict[str, set[str]] = {}
    for key, condition in criteria.items():
        values = condition.get("values") if isinstance(condition, dict) else None
        if (
            key not in _SEARCH_KEYS
            or not isinstance(values, list)
            or not all(isinstance(v, str) for v in values)
        ):
            raise ParamError("search", f"Invalid value for param 'search': unsupported criterion {key!r}")
        filters[key] = {str(value) for value in values}
    return filters


def _campaign_search(query_string: str, account_id: str) -> tuple[int, int, list[SandboxCampaign]]:
    params = raw_query_params(query_string)
    finder = unquote(_required(params, "q"))
    if finder != "search":
        raise ParamError("q", f"Finder '{finder}' is not supported here; use q=search")
    page_size = _page_size(params)
    offset = _page_offset(unquote(params["pageToken"]), account_id) if params.get("pageToken") else 0
    filters = _search_filters(params)
    matches = [
        campaign
        for campaign in campaigns_for(account_id)
        if all(getattr(campaign, _SEARCH_KEYS[key]) in allowed for key, allowed in filters.items())
    ]
    return page_size, offset, matches


def _money_object(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": format(amount, "f"), "currencyCode": currency}


def _campaign_element(campaign: SandboxCampaign) -> dict[str, Any]:
    schedule: dict[str, int] = {"start": _epoch_ms(campaign.start)}
    if campaign.end is not None:
        schedule["end"] = _epoch_ms(campaign.end + timedelta(days=1))  # exclusive end
    return {
        "id": campaign.id,
        "account": f"urn:li:sponsoredAccount:{campaign.account_id}",
        "campaignGroup": campaign.group_urn,
        "associatedEntity": f"urn:li:organization:{ORGANIZATION_ID}",
        "name": campaign.name,
        "status": campaign.status,
        "type": campaign.type,
        "costType": campaign.cost_type,
        "objectiveType": campaign.objective,
        "dailyBudget": _money_object(campaign.daily_budget, campaign.currency),
        "unitCost": _money_object(campaign.unit_cost, campaign.currency),
        "runSchedule": schedule,
        "locale": {"country": "US", "language": "en"},
        "test": False,
        "changeAuditStamps": {
            "created": {"time": campaign.created_ms},
            "lastModified": {"time": campaign.last_modified_ms},
        },
        "version": {"versionTag": campaign.version_tag},
    }


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
    {"account_id": "508000002", "credentials": {"refresh_token": DEMO_REFRESH_TOKEN}},
)

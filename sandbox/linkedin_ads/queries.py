"""What the LinkedIn sandbox reads from a request: Rest.li 2.0 query values, the ``adAnalytics`` finder
(pivot, granularity, date range, facets, fields) and the ``adCampaigns`` search, and the analytics
elements a query is answered with.

Query strings are read raw: Rest.li gives meaning to which characters were percent-encoded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final, TypeAlias
from urllib.parse import unquote

from sandbox.linkedin_ads.catalogue import (
    METRICS,
    STRUCTURAL_FIELDS,
    Metrics,
    SandboxCampaign,
    all_campaigns,
    campaigns_for,
    day_metrics,
    days,
)
from sandbox.paging import offset_token, token_offset

MAX_METRICS: Final = 20
DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1_000


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
        for campaign in all_campaigns()
        if all(getattr(campaign, keys[name]) in ids for name, ids in query.facets.items())
    ]


def analytics_buckets(
    query: AnalyticsQuery, restated: Callable[[date, str, Metrics], Metrics] | None = None
) -> list[AnalyticsBucket]:
    """All elements for a query, in the order they are served (period, then pivot id);
    ``restated`` changes a campaign-day's metrics as the fake was asked to restate them."""
    campaigns = _in_scope(query)
    buckets: dict[tuple[date, int], AnalyticsBucket] = {}
    for day in days(query.start, query.end):
        for campaign in campaigns:
            metrics = day_metrics(campaign, day)
            if metrics is None:
                continue
            if restated is not None:
                metrics = restated(day, str(campaign.id), metrics)
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


# =========================================================================== campaign search helpers

_SEARCH_KEYS: Final = {"status": "status", "type": "type", "campaignGroup": "group_urn"}


def page_token(account_id: str, offset: int) -> str:
    """The ``nextPageToken`` of a campaign search: the offset, bound to the account."""
    return offset_token(account_id, offset)


def _page_offset(token: str, account_id: str) -> int:
    offset = token_offset(token, account_id)
    if offset is None:
        raise ParamError("pageToken", "Invalid value for param 'pageToken'")
    return offset


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


def campaign_search(query_string: str, account_id: str) -> tuple[int, int, list[SandboxCampaign]]:
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

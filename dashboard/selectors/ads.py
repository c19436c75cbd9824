"""Ad performance across platforms: the overview, the campaign table and one campaign's days.

Every figure is aggregated in the database (``values()`` + ``Sum``) and grouped by currency, so
money in different currencies is never added together, and amounts of different currencies are
never ranked against each other: lists ordered by an amount are ordered within each currency, and
the currencies come in one fixed order (``currency_order``). The results are small read models
(frozen dataclasses) that templates can display without further arithmetic.

Money is counted in cents. The finest figure the warehouse holds, one campaign on one day, keeps
the platform's six decimals (micros); each is rounded to the cent (half away from zero) before it
is added, as the platforms' own reports show a campaign's day, and conversions likewise to the
hundredth that the pages show. Every total, breakdown and CSV line is then an exact sum of the same
rounded figures, so a total always equals the sum of its rows to the cent, whichever way the rows
are cut (per platform, per day, per campaign) and whichever page or export shows them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.paginator import Paginator
from django.db.models import CharField, Count, F, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Coalesce, Concat, Round

from dashboard.cache import cache_scope, cached
from dashboard.charts import BarChart, ChartPoint, bar_chart
from dashboard.ids import id_in_range, text_can_be_stored
from dashboard.periods import DEFAULT_DAYS, DateRange, Period, last_days, period_from_params
from dashboard.selectors.common import percent_change, platform_name
from dashboard.selectors.comparison import (
    PREVIOUS,
    Comparison,
    ad_day_platform_sums,
    campaign_spend,
    comparisons_for,
)
from dashboard.selectors.paging import PagePosition
from dashboard.selectors.restatements import (
    AD_DATASET,
    ChangeLine,
    Settling,
    SettlingNote,
    restatement_changes,
    settling_get,
    settling_notes,
)
from dashboard.selectors.sync import ConnectionOverview, overview_connections
from etl.models import AdPerformanceDaily
from tenancy.models import Organization

CAMPAIGNS_PER_PAGE = 50
OVERVIEW_TOP_CAMPAIGNS = 10


def _shown(column: str) -> Round:
    """A fact row's figure as the pages show it: to the cent (money) or the hundredth (conversions)."""
    return Round(column, 2)


# Aggregate aliases must differ from the model's field names. The spend of the rows that report
# conversions (or their value) is what cost per conversion (or ROAS) divides by, and the row counts
# say how many rows of a total lack them (``Count`` of a column counts the rows where it is set).
# Every sum adds figures already rounded as shown (see the module docstring); ``Round`` keeps NULL.
_METRIC_SUMS: dict[str, Any] = {
    "sum_spend": Sum(_shown("spend")),
    "sum_impressions": Sum("impressions"),
    "sum_clicks": Sum("clicks"),
    "sum_conversions": Sum(_shown("conversions")),
    "sum_conversion_value": Sum(_shown("conversion_value")),
    "sum_spend_conv": Sum(_shown("spend"), filter=Q(conversions__isnull=False)),
    "sum_spend_value": Sum(_shown("spend"), filter=Q(conversion_value__isnull=False)),
    "n_rows": Count("*"),
    "n_conv": Count("conversions"),
    "n_value": Count("conversion_value"),
}


# --------------------------------------------------------------------------------------------
# Read models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Metrics:
    """Additive figures for one currency, plus the ratios derived from them.

    ``conversions`` and ``conversion_value`` stay ``None`` when no row reported them (some
    platforms do not track conversions), which is different from a reported zero. When only some
    rows reported them, the figure is the sum of those rows, ``conversions_missing`` (or
    ``conversion_value_missing``) says how many rows of ``rows`` did not, and cost per conversion
    and ROAS divide by the spend of the rows that did, so spend without conversion data never
    makes a conversion look dearer. The pages name the rows: campaign days in a total, days of a
    campaign, campaigns of a day.
    """

    currency: str
    spend: Decimal = Decimal("0")
    impressions: int = 0
    clicks: int = 0
    conversions: Decimal | None = None
    conversion_value: Decimal | None = None
    spend_with_conversions: Decimal | None = None  # None: the whole spend (no row counts known)
    spend_with_value: Decimal | None = None
    rows: int = 0  # fact rows (one campaign on one day) behind the figures
    rows_with_conversions: int = 0
    rows_with_value: int = 0

    @property
    def conversions_missing(self) -> int:
        """Rows without conversions when some rows have them (0 when none or all have them)."""
        return self.rows - self.rows_with_conversions if self.conversions is not None else 0

    @property
    def conversion_value_missing(self) -> int:
        return self.rows - self.rows_with_value if self.conversion_value is not None else 0

    @property
    def ctr_percent(self) -> Decimal | None:
        """Click-through rate in percent; None without impressions."""
        if not self.impressions:
            return None
        return Decimal(self.clicks) * 100 / Decimal(self.impressions)

    @property
    def cpc(self) -> Decimal | None:
        """Cost per click; None without clicks."""
        if not self.clicks:
            return None
        return self.spend / Decimal(self.clicks)

    @property
    def cost_per_conversion(self) -> Decimal | None:
        """Spend of the rows reporting conversions divided by conversions; None when there are
        none (or none were reported)."""
        if not self.conversions:
            return None
        spend = self.spend if self.spend_with_conversions is None else self.spend_with_conversions
        return spend / self.conversions

    @property
    def roas(self) -> Decimal | None:
        """Return on ad spend: conversion value per unit of spend of the rows reporting a value
        (same currency); None without either."""
        spend = self.spend if self.spend_with_value is None else self.spend_with_value
        if self.conversion_value is None or not spend:
            return None
        return self.conversion_value / spend

    @property
    def has_activity(self) -> bool:
        return bool(self.spend or self.impressions or self.clicks or self.conversions)


@dataclass(frozen=True, kw_only=True)
class DailyMetrics(Metrics):
    day: date
    provisional: bool = False


@dataclass(frozen=True, kw_only=True)
class CampaignMetrics(Metrics):
    platform: str
    platform_name: str
    account_id: str
    account_name: str
    campaign_id: str
    campaign_name: str
    connection_id: int = 0
    status: str = ""
    provisional: bool = False
    # The spend of the compared period (the previous one) when it was compared: 0 when the campaign
    # spent nothing then; None when no comparison was made.
    previous_spend: Decimal | None = None

    @property
    def spend_change_percent(self) -> Decimal | None:
        return percent_change(self.spend, self.previous_spend)


@dataclass(frozen=True, kw_only=True)
class PlatformMetrics(Metrics):
    platform: str
    platform_name: str
    provisional: bool = False


@dataclass(frozen=True)
class Kpi:
    """One figure of the overview with the same figure for the previous period."""

    key: str
    label: str
    kind: str  # money | count | decimal | percent | ratio
    value: Decimal | int | None
    previous: Decimal | int | None = None
    lower_is_better: bool = False
    neutral: bool = False  # a change is neither good nor bad (spend)

    @property
    def change_percent(self) -> Decimal | None:
        return percent_change(self.value, self.previous)

    @property
    def direction(self) -> str:
        change = self.change_percent
        if change is None or abs(change) < Decimal("0.05"):
            return "flat"
        return "up" if change > 0 else "down"

    @property
    def tone(self) -> str:
        if self.neutral or self.direction == "flat":
            return "neutral"
        better = (self.direction == "down") if self.lower_is_better else (self.direction == "up")
        return "good" if better else "bad"


# key, label, kind, Metrics attribute, lower is better, neutral
KPI_SPECS: tuple[tuple[str, str, str, str, bool, bool], ...] = (
    ("spend", "Spend", "money", "spend", False, True),
    ("impressions", "Impressions", "count", "impressions", False, False),
    ("clicks", "Clicks", "count", "clicks", False, False),
    ("ctr", "CTR", "percent", "ctr_percent", False, False),
    ("cpc", "Cost per click", "money", "cpc", True, False),
    ("conversions", "Conversions", "decimal", "conversions", False, False),
    ("cost_per_conversion", "Cost per conversion", "money", "cost_per_conversion", True, False),
    ("conversion_value", "Conversion value", "money", "conversion_value", False, False),
    ("roas", "ROAS", "ratio", "roas", False, False),
)


@dataclass(frozen=True)
class CurrencyKpis:
    currency: str
    current: Metrics
    previous: Metrics | None
    kpis: list[Kpi]


def currency_kpis(current: Metrics, previous: Metrics | None) -> CurrencyKpis:
    kpis = [
        Kpi(
            key=key,
            label=label,
            kind=kind,
            value=getattr(current, attribute),
            previous=getattr(previous, attribute) if previous is not None else None,
            lower_is_better=lower,
            neutral=neutral,
        )
        for key, label, kind, attribute, lower, neutral in KPI_SPECS
    ]
    return CurrencyKpis(currency=current.currency, current=current, previous=previous, kpis=kpis)


@dataclass(frozen=True)
class CurrencySeries:
    """One currency's figures for every day of the range (days without rows are zero)."""

    currency: str
    days: list[DailyMetrics]

    @property
    def days_newest_first(self) -> list[DailyMetrics]:
        return list(reversed(self.days))

    @property
    def active_days_newest_first(self) -> list[DailyMetrics]:
        return [day for day in reversed(self.days) if day.has_activity]

    @property
    def chart(self) -> BarChart:
        return spend_chart(self.days)

    @property
    def clicks_chart(self) -> BarChart:
        return bar_chart(
            [ChartPoint(d.day, Decimal(d.clicks), d.provisional) for d in self.days], unit="clicks"
        )

    def marked_settling(self, is_settling: Callable[[date], bool]) -> CurrencySeries:
        """The days a recent re-read changed (``provisional``: settling), the others settled."""
        return replace(self, days=[replace(d, provisional=is_settling(d.day)) for d in self.days])


@dataclass(frozen=True)
class Overview:
    organization: Organization
    date_range: DateRange
    totals: list[Metrics]
    daily: list[CurrencySeries]
    campaigns: list[CampaignMetrics]
    connections: list[ConnectionOverview] = field(default_factory=list)
    period: Period | None = None
    currencies: list[CurrencyKpis] = field(default_factory=list)
    by_platform: list[PlatformMetrics] = field(default_factory=list)
    restatements: list[SettlingNote] = field(default_factory=list)
    campaign_count: int = 0
    # The previous period, a month and a year earlier (dashboard/selectors/comparison.py).
    comparisons: list[ComparedFigures] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        return bool(self.totals)

    @property
    def campaigns_by_currency(self) -> bool:
        """The top campaigns are shown in currency groups (the top ones of each currency)."""
        return len({c.currency for c in self.campaigns}) > 1

    @property
    def comparable(self) -> bool:
        """Whether the previous period can be compared with (raw rows or history reach it)."""
        return any(c.comparison.key == PREVIOUS and c.comparison.available for c in self.comparisons)

    @property
    def previous_comparison(self) -> Comparison | None:
        return next((c.comparison for c in self.comparisons if c.comparison.key == PREVIOUS), None)


@dataclass(frozen=True)
class ComparedFigures:
    """The period's totals against one compared period, per currency (none when it is unavailable)."""

    comparison: Comparison
    currencies: list[CurrencyKpis]


def compared_totals(*, organization: Organization, date_range: DateRange) -> list[Metrics]:
    """One line per currency for a compared period: raw rows and, for folded days, the history."""
    return _totals_from(
        ad_day_platform_sums(organization=organization, date_range=date_range, sums=_METRIC_SUMS)
    )


# --------------------------------------------------------------------------------------------
# Aggregates
# --------------------------------------------------------------------------------------------


def overview_date_range(*, days: int = DEFAULT_DAYS, today: date | None = None) -> DateRange:
    """The ``days`` days ending today (UTC), today included."""
    return last_days(days, today=today)


def _performance_rows(*, organization: Organization, date_range: DateRange) -> QuerySet[AdPerformanceDaily]:
    return AdPerformanceDaily.objects.filter(
        organization_id=organization.pk, date__gte=date_range.start, date__lte=date_range.end
    )


def _metric_kwargs(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "currency": row["currency"],
        "spend": row["sum_spend"] if row["sum_spend"] is not None else Decimal("0"),
        "impressions": int(row["sum_impressions"] or 0),
        "clicks": int(row["sum_clicks"] or 0),
        "conversions": row["sum_conversions"],
        "conversion_value": row["sum_conversion_value"],
        "spend_with_conversions": row.get("sum_spend_conv"),
        "spend_with_value": row.get("sum_spend_value"),
        "rows": int(row.get("n_rows") or 0),
        "rows_with_conversions": int(row.get("n_conv") or 0),
        "rows_with_value": int(row.get("n_value") or 0),
    }


def overview_totals(*, organization: Organization, date_range: DateRange) -> list[Metrics]:
    """One line per currency, largest spend first."""
    return _totals_from(_day_platform_sums(organization=organization, date_range=date_range))


def overview_by_platform(*, organization: Organization, date_range: DateRange) -> list[PlatformMetrics]:
    """One line per platform and currency, largest spend first within each currency."""
    return _by_platform_from(_day_platform_sums(organization=organization, date_range=date_range))


def overview_daily(*, organization: Organization, date_range: DateRange) -> list[CurrencySeries]:
    """Per currency, the figures of each day of the range in date order (missing days are zero)."""
    return _daily_from(_day_platform_sums(organization=organization, date_range=date_range), date_range)


def _day_platform_sums(*, organization: Organization, date_range: DateRange) -> list[dict[str, Any]]:
    """The range's figures per day, platform and currency: at most a few rows a day.

    The overview's totals, platform lines and daily series are all sums of these rows, so one
    pass over the fact rows serves the three of them.
    """
    return list(
        _performance_rows(organization=organization, date_range=date_range)
        .values("date", "platform", "currency")
        .annotate(**_METRIC_SUMS)
        .order_by()
    )


def _regroup(rows: Iterable[Mapping[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Add aggregate rows up by a coarser key, as SQL's SUM does: NULL only if every part is NULL."""
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[name] for name in keys)
        total = grouped.get(key)
        if total is None:
            grouped[key] = {
                **{name: row[name] for name in keys},
                **{name: row[name] for name in _METRIC_SUMS},
            }
            continue
        for name in _METRIC_SUMS:
            if row[name] is not None:
                total[name] = row[name] if total[name] is None else total[name] + row[name]
    return list(grouped.values())


def currency_order(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Each currency's place in every list the pages show: the currency with the most campaign days
    first (the organization's main currency), then by campaign days and by code.

    Rows are counted, not amounts compared: 33,706 USD is neither more nor less than 14,573 EUR, so
    no currency is placed before another because of its figures. The overview, the campaign table
    and the exports all count the same fact rows, so they show the currencies in the same order.
    """
    days: dict[str, int] = {}
    for row in rows:
        days[row["currency"]] = days.get(row["currency"], 0) + int(row.get("n_rows") or 0)
    ordered = sorted(days, key=lambda currency: (-days[currency], currency))
    return {currency: place for place, currency in enumerate(ordered)}


def _totals_from(rows: Iterable[Mapping[str, Any]]) -> list[Metrics]:
    lines = _regroup(rows, "currency")
    order = currency_order(lines)
    lines.sort(key=lambda r: order[r["currency"]])
    return [Metrics(**_metric_kwargs(row)) for row in lines]


def _by_platform_from(rows: Iterable[Mapping[str, Any]]) -> list[PlatformMetrics]:
    """Grouped by currency (in ``currency_order``), the largest spend first within each."""
    lines = _regroup(rows, "platform", "currency")
    order = currency_order(lines)
    lines.sort(key=lambda r: (order[r["currency"]], -r["sum_spend"], r["platform"]))
    return [
        PlatformMetrics(
            platform=row["platform"], platform_name=platform_name(row["platform"]), **_metric_kwargs(row)
        )
        for row in lines
    ]


def _daily_from(rows: Iterable[Mapping[str, Any]], date_range: DateRange) -> list[CurrencySeries]:
    return _series(_regroup(rows, "date", "currency"), date_range)


def _series(rows: Iterable[Mapping[str, Any]], date_range: DateRange) -> list[CurrencySeries]:
    rows = list(rows)
    order = currency_order(rows)
    by_currency: dict[str, dict[date, DailyMetrics]] = {}
    for row in rows:
        by_currency.setdefault(row["currency"], {})[row["date"]] = DailyMetrics(
            day=row["date"], **_metric_kwargs(row)
        )
    series = [
        CurrencySeries(
            currency=currency,
            days=[found.get(day) or DailyMetrics(currency=currency, day=day) for day in date_range.dates()],
        )
        for currency, found in by_currency.items()
    ]
    series.sort(key=lambda s: order[s.currency])
    return series


def _latest_state() -> Max:
    """The campaign on its latest day in the range: the largest "YYYY-MM-DD|STATUS|NAME" string.

    A campaign renamed or paused during the period is shown as it is now, as the platform shows
    it. One aggregate in the same GROUP BY (no subquery per campaign), on SQLite and PostgreSQL
    alike; ``_with_latest`` splits it.
    """
    return Max(
        Concat(
            Cast("date", output_field=CharField()),
            Value("|"),
            Coalesce("campaign_status", Value("")),
            Value("|"),
            Coalesce("campaign_name", Value("")),
            output_field=CharField(),
        )
    )


def _campaign_rows(rows: QuerySet[AdPerformanceDaily]) -> QuerySet[Any]:
    # Grouped in the covering index's order (connection, campaign), so PostgreSQL need not sort.
    return rows.values("connection_id", "campaign_id", "currency", "platform", "account_id").annotate(
        account_label=Max("account_name"),
        latest=_latest_state(),
        **_METRIC_SUMS,
    )


def _with_latest(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grouped campaign rows with their latest day's status and name as ``status`` and ``campaign_label``."""
    found = []
    for row in rows:
        _, _, rest = (row.pop("latest") or "").partition("|")
        status, _, name = rest.partition("|")  # statuses are platform enums; a name may hold "|"
        row["status"], row["campaign_label"] = status, name
        found.append(row)
    return found


@dataclass(frozen=True)
class AdCampaignName:
    platform: str
    platform_name: str
    campaign_id: str
    name: str


def ad_campaign_names(
    *, organization: Organization, campaign_ids: Iterable[str]
) -> dict[str, list[AdCampaignName]]:
    """The ad campaigns the warehouse holds under each id (any platform), with the name of their
    latest day; ids without a named ad campaign are left out. One grouped query."""
    max_length = AdPerformanceDaily._meta.get_field("campaign_id").max_length or 0
    wanted = {i for i in campaign_ids if i and text_can_be_stored(i, max_length=max_length)}
    if not wanted:
        return {}
    rows = (
        AdPerformanceDaily.objects.filter(organization_id=organization.pk, campaign_id__in=sorted(wanted))
        .values("platform", "campaign_id")
        .annotate(latest=_latest_state())
        .order_by("campaign_id", "platform")
    )
    found: dict[str, list[AdCampaignName]] = {}
    for row in rows:
        _, _, rest = (row["latest"] or "").partition("|")
        name = rest.partition("|")[2]
        if name:
            found.setdefault(row["campaign_id"], []).append(
                AdCampaignName(row["platform"], platform_name(row["platform"]), row["campaign_id"], name)
            )
    return found


def _campaign_metrics(row: Mapping[str, Any]) -> CampaignMetrics:
    return CampaignMetrics(
        platform=row["platform"],
        platform_name=platform_name(row["platform"]),
        account_id=row["account_id"],
        account_name=row["account_label"] or "",
        campaign_id=row["campaign_id"],
        campaign_name=row["campaign_label"] or "",
        connection_id=row["connection_id"],
        status=row["status"],
        **_metric_kwargs(row),
    )


def _by_currency(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows already in an order of amounts, grouped by currency (``currency_order``) and keeping
    that order within each currency."""
    order = currency_order(rows)
    return sorted(rows, key=lambda row: order[row["currency"]])  # stable


def _top_per_currency(rows: Iterable[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """The first ``limit`` rows of each currency, in the given order."""
    if limit is None:
        return list(rows)
    taken: dict[str, int] = {}
    found = []
    for row in rows:
        if taken.get(row["currency"], 0) < limit:
            taken[row["currency"]] = taken.get(row["currency"], 0) + 1
            found.append(row)
    return found


def overview_campaigns(
    *, organization: Organization, date_range: DateRange, limit: int | None = None
) -> list[CampaignMetrics]:
    """One line per campaign and currency, grouped by currency and highest spend first within each
    (at most ``limit`` campaigns of each currency)."""
    rows = _campaign_rows(_performance_rows(organization=organization, date_range=date_range)).order_by(
        "-sum_spend", "platform", "account_id", "campaign_id"
    )
    return [_campaign_metrics(row) for row in _top_per_currency(_by_currency(_with_latest(rows)), limit)]


def campaign_totals(
    *, organization: Organization, date_range: DateRange, scope: str | None = None
) -> list[dict[str, Any]]:
    """Every campaign's figures in the range, in the campaign table's default order (cached).

    Grouping the fact rows by campaign is the heaviest read of the dashboard, so it is done once
    per range and data version: the overview's top campaigns, the unfiltered campaign table in its
    default order and the pipeline's cost per lead are all taken from this one result, and the
    campaign table's other orders and its filters are applied to it. The default order is the
    highest spend first within each currency, the currencies in ``currency_order``.
    """
    return cached(
        organization_id=organization.pk,
        name="campaign-totals",
        params=(date_range.start, date_range.end),
        compute=lambda: _by_currency(
            _with_latest(
                _campaign_rows(_performance_rows(organization=organization, date_range=date_range)).order_by(
                    F("sum_spend").desc(nulls_last=True), "platform", "account_id", "campaign_id", "currency"
                )
            )
        ),
        scope=scope,
    )


def _campaigns_and_count(
    *, organization: Organization, date_range: DateRange, limit: int
) -> tuple[list[CampaignMetrics], int]:
    """The campaigns with the highest spend in each currency and how many campaigns there are, in
    one pass."""
    rows = campaign_totals(organization=organization, date_range=date_range)
    count = len({(row["connection_id"], row["campaign_id"], row["currency"]) for row in rows})
    return [_campaign_metrics(row) for row in _top_per_currency(rows, limit)], count


def overview_get(
    *,
    organization: Organization,
    days: int = DEFAULT_DAYS,
    today: date | None = None,
    period: Period | None = None,
) -> Overview:
    """Everything the overview page shows for one organization (aggregates cached)."""
    if period is None:
        period = period_from_params({"days": str(days)}, today=today)
    date_range = period.current
    comparisons = comparisons_for(organization=organization, period=period)

    def compute() -> tuple[Any, ...]:
        sums = _day_platform_sums(organization=organization, date_range=date_range)
        campaigns, count = _campaigns_and_count(
            organization=organization, date_range=date_range, limit=OVERVIEW_TOP_CAMPAIGNS
        )
        return (
            _totals_from(sums),
            {
                c.key: compared_totals(organization=organization, date_range=c.date_range)
                for c in comparisons
                if c.available
            },
            _daily_from(sums, date_range),
            _by_platform_from(sums),
            campaigns,
            count,
        )

    totals, compared, daily, by_platform, campaigns, campaign_count = cached(
        organization_id=organization.pk,
        name="overview",
        params=(date_range.start, date_range.end, tuple(c.available for c in comparisons)),
        compute=compute,
    )

    settling = settling_get(organization=organization, dataset=AD_DATASET)
    figures = [
        ComparedFigures(c, _against(totals, compared[c.key]) if c.available else []) for c in comparisons
    ]
    currency_platforms: dict[str, set[str]] = {}
    for line in by_platform:
        currency_platforms.setdefault(line.currency, set()).add(line.platform)
    return Overview(
        organization=organization,
        date_range=date_range,
        period=period,
        totals=totals,
        currencies=next(f.currencies for f in figures if f.comparison.key == PREVIOUS)
        if PREVIOUS in compared
        else [currency_kpis(m, None) for m in totals],
        comparisons=figures,
        daily=[
            series.marked_settling(partial(settling.day, platforms=currency_platforms.get(series.currency, set())))
            for series in daily
        ],
        by_platform=[
            replace(line, provisional=settling.platform(line.platform, date_range.start, date_range.end))
            for line in by_platform
        ],
        campaigns=_marked_settling(campaigns, settling, date_range),
        campaign_count=campaign_count,
        restatements=settling_notes(settling, date_range.start, date_range.end),
        connections=overview_connections(organization=organization),
    )


def _against(totals: list[Metrics], compared: list[Metrics]) -> list[CurrencyKpis]:
    """Each currency of the period against the compared period's (zero where it had none that
    period: the compared period is covered, so no spend in that currency is a true zero)."""
    by_currency = {m.currency: m for m in compared}
    return [currency_kpis(m, by_currency.get(m.currency, Metrics(currency=m.currency))) for m in totals]


def _marked_settling(
    campaigns: list[CampaignMetrics], settling: Settling, date_range: DateRange
) -> list[CampaignMetrics]:
    """Each campaign settling when a recent re-read changed one of its days in the range."""
    return [
        replace(c, provisional=settling.record(c.connection_id, c.campaign_id, date_range.start, date_range.end))
        for c in campaigns
    ]


# --------------------------------------------------------------------------------------------
# The campaign table
# --------------------------------------------------------------------------------------------


def _ratio(numerator: str, denominator: str) -> Callable[[Mapping[str, Any]], float | None]:
    """A ratio of two summed columns; ``None`` (sorted last) when either is missing or the divisor 0."""

    def value(row: Mapping[str, Any]) -> float | None:
        top, bottom = row[numerator], row[denominator]
        if top is None or not bottom:
            return None
        return float(top) / float(bottom)

    return value


def _label(column: str) -> Callable[[Mapping[str, Any]], tuple[str, str] | None]:
    """Text sorted regardless of case (then by the exact text, so the order is total)."""

    def value(row: Mapping[str, Any]) -> tuple[str, str] | None:
        text = row[column]
        return None if text is None else (text.casefold(), text)

    return value


# sort key -> (label, the sorted value of one grouped campaign row)
CAMPAIGN_SORTS: dict[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {
    "campaign": ("Campaign", _label("campaign_label")),
    "platform": ("Platform", _label("platform")),
    "spend": ("Spend", operator.itemgetter("sum_spend")),
    "impressions": ("Impressions", operator.itemgetter("sum_impressions")),
    "clicks": ("Clicks", operator.itemgetter("sum_clicks")),
    "ctr": ("CTR", _ratio("sum_clicks", "sum_impressions")),
    "cpc": ("CPC", _ratio("sum_spend", "sum_clicks")),
    "conversions": ("Conversions", operator.itemgetter("sum_conversions")),
    "cost_per_conversion": ("Cost / conv.", _ratio("sum_spend_conv", "sum_conversions")),
    "conversion_value": ("Conv. value", operator.itemgetter("sum_conversion_value")),
    "roas": ("ROAS", _ratio("sum_conversion_value", "sum_spend_value")),
}
_TEXT_SORTS = {"campaign", "platform"}
# Amounts in a currency: sorted within each currency, never across currencies. The other columns
# are counts or ratios of amounts in one currency (CTR, ROAS), comparable across currencies.
MONEY_SORTS = {"spend", "cpc", "cost_per_conversion", "conversion_value"}


@dataclass(frozen=True)
class CampaignFilters:
    platform: str = ""
    status: str = ""
    currency: str = ""
    search: str = ""
    sort: str = "spend"
    descending: bool = True
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> CampaignFilters:
        sort = params.get("sort", "spend")
        if sort not in CAMPAIGN_SORTS:
            sort = "spend"
        direction = params.get("dir", "")
        descending = direction != "asc" if direction in ("asc", "desc") else sort not in _TEXT_SORTS
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            platform=params.get("platform", "").strip()[:32],
            status=params.get("status", "").strip()[:32],
            currency=params.get("currency", "").strip().upper()[:3],
            search=params.get("q", "").strip()[:200],
            sort=sort,
            descending=descending,
            page=page,
        )

    @property
    def params(self) -> dict[str, str]:
        """The filters as query parameters (without the page), defaults left out."""
        found = {
            "platform": self.platform,
            "status": self.status,
            "currency": self.currency,
            "q": self.search,
        }
        found = {k: v for k, v in found.items() if v}
        if self.sort != "spend" or not self.descending:
            found["sort"] = self.sort
            found["dir"] = "desc" if self.descending else "asc"
        return found

    @property
    def is_filtered(self) -> bool:
        return bool(self.platform or self.status or self.currency or self.search)

    @property
    def is_default_view(self) -> bool:
        """No filter and the default order (highest spend first), whatever the page."""
        return not self.is_filtered and self.sort == "spend" and self.descending

    @property
    def sorts_money(self) -> bool:
        """Sorted by an amount, so the rows are ordered within each currency."""
        return self.sort in MONEY_SORTS


@dataclass(frozen=True)
class SortColumn:
    key: str
    label: str
    current: bool
    descending: bool
    params: dict[str, str]  # the filters with this column's next sort order


@dataclass(frozen=True)
class CampaignPage(PagePosition):
    period: Period
    filters: CampaignFilters
    rows: list[CampaignMetrics]
    total: int
    page: int
    pages: int
    platforms: list[tuple[str, str]]
    statuses: list[str]
    currencies: list[str]
    restatements: list[SettlingNote]
    per_page: int = CAMPAIGNS_PER_PAGE
    comparison: Comparison | None = None  # the previous period each row's spend is compared with

    @property
    def by_currency(self) -> bool:
        """The rows are shown in currency groups: sorted by an amount, with several currencies."""
        return self.filters.sorts_money and len(self.currencies) > 1 and not self.filters.currency

    def sort_columns(self) -> dict[str, SortColumn]:
        columns = {}
        for key, (label, _) in CAMPAIGN_SORTS.items():
            current = key == self.filters.sort
            descending = self.filters.descending if current else key not in _TEXT_SORTS
            next_descending = not descending if current else descending
            params = {**self.filters.params, "sort": key, "dir": "desc" if next_descending else "asc"}
            columns[key] = SortColumn(key, label, current, descending, params)
        return columns


def _matcher(filters: CampaignFilters) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a grouped campaign row passes the filters.

    The search matches what the table shows: the campaign's or the account's name (any case), or
    its id exactly.
    """
    needle = filters.search.casefold()

    def matches(row: Mapping[str, Any]) -> bool:
        return (
            (not filters.platform or row["platform"] == filters.platform)
            and (not filters.currency or row["currency"] == filters.currency)
            and (not filters.status or row["status"] == filters.status)
            and (
                not needle
                or needle in (row["campaign_label"] or "").casefold()
                or needle in (row["account_label"] or "").casefold()
                or filters.search in (row["campaign_id"], row["account_id"])
            )
        )

    return matches


def _sorted_campaigns(
    rows: Iterable[Mapping[str, Any]], filters: CampaignFilters, currencies: Mapping[str, int]
) -> list[Mapping[str, Any]]:
    """Rows in the table's order: the sorted column (missing values last either way), then the
    campaign's platform, account, id and currency, so equal values keep one stable order. Sorted by
    an amount, the rows are grouped by currency first (in the order ``currencies`` gives)."""
    value = CAMPAIGN_SORTS[filters.sort][1]
    ordered = sorted(rows, key=operator.itemgetter("platform", "account_id", "campaign_id", "currency"))
    present = [row for row in ordered if value(row) is not None]
    missing = [row for row in ordered if value(row) is None]
    present.sort(key=value, reverse=filters.descending)  # stable: ties keep the order above
    found = present + missing
    if filters.sorts_money:
        found.sort(key=lambda row: currencies.get(row["currency"], len(currencies)))  # stable
    return found


def _campaign_table(
    *, organization: Organization, date_range: DateRange, filters: CampaignFilters, scope: str | None = None
) -> list[Mapping[str, Any]]:
    """Every row of the filtered, sorted campaign table.

    Every filter is a property of a campaign's grouped row, so the filters and every sort order
    are applied to the period's cached campaign totals (one grouping of the fact rows per period
    and data version, which the post-sync warm-up computes): searching or re-sorting the table
    never reads the fact table again, and a campaign's figures are the same filtered or not.
    """
    rows = campaign_totals(organization=organization, date_range=date_range, scope=scope)
    if filters.is_default_view:
        return list(rows)  # already in the default order
    return _sorted_campaigns(filter(_matcher(filters), rows), filters, currency_order(rows))


def campaign_filter_choices(*, organization: Organization, date_range: DateRange) -> dict[str, list[Any]]:
    combinations = list(
        _performance_rows(organization=organization, date_range=date_range)
        .values_list("platform", "campaign_status", "currency")
        .distinct()
        .order_by()
    )
    platforms = sorted({platform for platform, _, _ in combinations})
    statuses = sorted({status for _, status, _ in combinations if status})
    currencies = sorted({currency for _, _, currency in combinations})
    return {
        "platforms": [(p, platform_name(p)) for p in platforms],
        "statuses": statuses,
        "currencies": currencies,
    }


def campaign_list(
    *,
    organization: Organization,
    period: Period,
    filters: CampaignFilters,
    per_page: int = CAMPAIGNS_PER_PAGE,
) -> CampaignPage:
    """One page of the campaign table, filtered and sorted (cached)."""
    date_range = period.current
    scope = cache_scope(organization.pk)

    def compute() -> tuple[list[CampaignMetrics], int, int, int]:
        # The whole sorted table is read once; counting it again in SQL would group every row twice.
        table = _campaign_table(
            organization=organization, date_range=date_range, filters=filters, scope=scope
        )
        paginator = Paginator(table, per_page)
        page = paginator.get_page(filters.page)
        return (
            [_campaign_metrics(row) for row in page.object_list],
            paginator.count,
            page.number,
            paginator.num_pages,
        )

    rows, total, number, pages = cached(
        organization_id=organization.pk,
        name="campaigns",
        params=(date_range.start, date_range.end, filters, per_page),
        compute=compute,
        scope=scope,
    )
    choices = cached(
        organization_id=organization.pk,
        name="campaign-choices",
        params=(date_range.start, date_range.end),
        compute=lambda: campaign_filter_choices(organization=organization, date_range=date_range),
        scope=scope,
    )
    settling = settling_get(organization=organization, dataset=AD_DATASET)
    comparison = next(c for c in comparisons_for(organization=organization, period=period) if c.key == PREVIOUS)
    if comparison.available:
        rows = _with_previous_spend(organization, rows, comparison, scope)
    return CampaignPage(
        period=period,
        filters=filters,
        comparison=comparison,
        rows=_marked_settling(rows, settling, date_range),
        total=total,
        page=number,
        pages=pages,
        platforms=choices["platforms"],
        statuses=choices["statuses"],
        currencies=choices["currencies"],
        restatements=settling_notes(settling, date_range.start, date_range.end),
        per_page=per_page,
    )


def _with_previous_spend(
    organization: Organization, rows: list[CampaignMetrics], comparison: Comparison, scope: str
) -> list[CampaignMetrics]:
    """The page's campaigns, each with its spend in the compared period (cached)."""
    keys = [(r.connection_id, r.campaign_id, r.currency) for r in rows]
    spend = cached(
        organization_id=organization.pk,
        name="campaigns-compared",
        params=(comparison.date_range.start, comparison.date_range.end, tuple(keys)),
        compute=lambda: campaign_spend(
            organization=organization,
            date_range=comparison.date_range,
            campaigns=keys,
            spend=_METRIC_SUMS["sum_spend"],
        ),
        scope=scope,
    )
    return [replace(r, previous_spend=spend.get(key, Decimal("0"))) for r, key in zip(rows, keys, strict=True)]


def campaign_list_all(
    *, organization: Organization, period: Period, filters: CampaignFilters
) -> list[CampaignMetrics]:
    """Every row of the filtered, sorted campaign table (for the CSV export)."""
    rows = _campaign_table(organization=organization, date_range=period.current, filters=filters)
    return [_campaign_metrics(row) for row in rows]


# --------------------------------------------------------------------------------------------
# One campaign
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignDetail:
    period: Period
    campaign: CampaignMetrics | None  # None when the campaign has no rows in the period
    connection_id: int
    campaign_id: str
    series: list[CurrencySeries]
    restatements: list[SettlingNote] = field(default_factory=list)  # the campaign's settling days
    changes: list[ChangeLine] = field(default_factory=list)  # what re-reads changed of it, newest first

    @property
    def title(self) -> str:
        if self.campaign is not None:
            return self.campaign.campaign_name or self.campaign.campaign_id
        return self.campaign_id


def campaign_exists(*, organization: Organization, connection_id: int, campaign_id: str) -> bool:
    """Whether the organization has rows of the campaign; False for ids no row can have (a
    connection id past 64 bits, a campaign id with NUL or longer than its column)."""
    max_length = AdPerformanceDaily._meta.get_field("campaign_id").max_length or 0
    if not id_in_range(connection_id) or not text_can_be_stored(campaign_id, max_length=max_length):
        return False
    return AdPerformanceDaily.objects.filter(
        organization_id=organization.pk, connection_id=connection_id, campaign_id=campaign_id
    ).exists()


def campaign_detail(
    *, organization: Organization, connection_id: int, campaign_id: str, period: Period
) -> CampaignDetail | None:
    """One campaign's totals and days in the period; None if the organization has no such campaign."""
    if not campaign_exists(organization=organization, connection_id=connection_id, campaign_id=campaign_id):
        return None
    date_range = period.current

    def compute() -> tuple[list[CampaignMetrics], list[CurrencySeries]]:
        rows = _performance_rows(organization=organization, date_range=date_range).filter(
            connection_id=connection_id, campaign_id=campaign_id
        )
        totals = [_campaign_metrics(row) for row in _with_latest(_campaign_rows(rows).order_by("-sum_spend"))]
        daily = rows.values("date", "currency").annotate(**_METRIC_SUMS).order_by("currency", "date")
        return totals, _series(daily, date_range)

    totals, series = cached(
        organization_id=organization.pk,
        name="campaign",
        params=(date_range.start, date_range.end, connection_id, campaign_id),
        compute=compute,
    )
    campaign = totals[0] if totals else None
    settling = settling_get(organization=organization, dataset=AD_DATASET)
    own = Settling(frozenset(r for r in settling.records if r[:2] == (connection_id, campaign_id)))
    own_days = sorted(day for _, _, day in own.records if date_range.start <= day <= date_range.end)
    notes = []
    if campaign is not None and own_days:
        notes = [SettlingNote(campaign.platform, campaign.platform_name, own_days)]
    return CampaignDetail(
        period=period,
        campaign=replace(campaign, provisional=bool(own_days)) if campaign else None,
        connection_id=connection_id,
        campaign_id=campaign_id,
        series=[s.marked_settling(lambda day: own.record_day(connection_id, campaign_id, day)) for s in series],
        restatements=notes,
        changes=restatement_changes(
            organization=organization, connection_id=connection_id, dataset=AD_DATASET, record_id=campaign_id
        ),
    )


# --------------------------------------------------------------------------------------------
# Chart
# --------------------------------------------------------------------------------------------


def spend_chart(days: list[DailyMetrics]) -> BarChart:
    """Bar positions for a spend-per-day chart drawn as inline SVG."""
    currency = days[0].currency if days else ""
    return bar_chart([ChartPoint(d.day, d.spend, d.provisional) for d in days], unit=currency)

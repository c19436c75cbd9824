"""Reads behind the dashboard: who belongs to which organization, and the overview numbers.

Every figure is aggregated in the database (``values()`` + ``Sum``) and grouped by currency, so
money in different currencies is never added together. The results are small read models
(frozen dataclasses) that templates can display without further arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone

from connectors.models import Connection, Membership, Organization
from connectors.registry import PLATFORM_NAMES
from etl.models import AdPerformanceDaily, SyncRun
from etl.selectors import sync_run_latest_per_connection

DEFAULT_DAYS = 30
ALLOWED_DAYS = (7, 14, 30)

# Geometry of the daily spend chart (SVG user units; the SVG scales to its container).
CHART_WIDTH = 720
CHART_HEIGHT = 220
CHART_PAD_LEFT = 64
CHART_PAD_RIGHT = 12
CHART_PAD_TOP = 12
CHART_PAD_BOTTOM = 28
CHART_GRID_LINES = 4

# Aggregate aliases must differ from the model's field names.
_METRIC_SUMS: dict[str, Any] = {
    "sum_spend": Sum("spend"),
    "sum_impressions": Sum("impressions"),
    "sum_clicks": Sum("clicks"),
    "sum_conversions": Sum("conversions"),
    "sum_conversion_value": Sum("conversion_value"),
}


# --------------------------------------------------------------------------------------------
# Read models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.days)]


@dataclass(frozen=True, kw_only=True)
class Metrics:
    """Additive figures for one currency, plus the ratios derived from them.

    ``conversions`` and ``conversion_value`` stay ``None`` when no row reported them (some
    platforms do not track conversions), which is different from a reported zero.
    """

    currency: str
    spend: Decimal = Decimal("0")
    impressions: int = 0
    clicks: int = 0
    conversions: Decimal | None = None
    conversion_value: Decimal | None = None

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
        """Spend divided by conversions; None when there are none (or none were reported)."""
        if not self.conversions:
            return None
        return self.spend / self.conversions

    @property
    def has_activity(self) -> bool:
        return bool(self.spend or self.impressions or self.clicks or self.conversions)


@dataclass(frozen=True, kw_only=True)
class DailyMetrics(Metrics):
    day: date


@dataclass(frozen=True, kw_only=True)
class CampaignMetrics(Metrics):
    platform: str
    platform_name: str
    account_id: str
    account_name: str
    campaign_id: str
    campaign_name: str


@dataclass(frozen=True)
class ChartBar:
    day: date
    value: Decimal
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class ChartGridLine:
    """A horizontal grid line at height ``y`` labelled with the spend it stands for."""

    value: Decimal
    y: float


@dataclass(frozen=True)
class ChartDateLabel:
    """A date written under the bars, centred on ``x``."""

    day: date
    x: float
    y: float


@dataclass(frozen=True)
class SpendChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: list[ChartBar]
    grid_lines: list[ChartGridLine]
    date_labels: list[ChartDateLabel]


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
    def chart(self) -> SpendChart:
        return spend_chart(self.days)


@dataclass(frozen=True)
class ConnectionOverview:
    connection: Connection
    platform_name: str
    latest_run: SyncRun | None

    @property
    def can_sync(self) -> bool:
        return self.connection.status in (Connection.Status.ACTIVE, Connection.Status.FAILING)

    @property
    def problem(self) -> str:
        """The most useful plain-words explanation of what is wrong, or an empty string."""
        if self.connection.status_message and self.connection.status != Connection.Status.ACTIVE:
            return self.connection.status_message
        if self.latest_run is not None and self.latest_run.status == SyncRun.Status.FAILED:
            return self.latest_run.error_message
        return ""


@dataclass(frozen=True)
class Overview:
    organization: Organization
    date_range: DateRange
    totals: list[Metrics]
    daily: list[CurrencySeries]
    campaigns: list[CampaignMetrics]
    connections: list[ConnectionOverview] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        return bool(self.totals)


# --------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------


def organization_for_user(user: AbstractBaseUser | AnonymousUser) -> Organization | None:
    """The organization the user is a member of (the first by name if several), else None.

    Superusers get no special treatment: without a membership they have no organization here.
    """
    if not user.is_authenticated:
        return None
    membership = (
        Membership.objects.filter(user_id=user.pk)
        .select_related("organization")
        .order_by("organization__name", "organization_id")
        .first()
    )
    return membership.organization if membership else None


def overview_date_range(*, days: int = DEFAULT_DAYS, today: date | None = None) -> DateRange:
    """The ``days`` days ending today (UTC), today included."""
    end = today or timezone.now().date()
    return DateRange(start=end - timedelta(days=max(1, days) - 1), end=end)


def overview_days_from_param(value: str | None) -> int:
    """Parse the ``?days=`` query value; anything not offered falls back to the default."""
    try:
        days = int(value or "")
    except ValueError:
        return DEFAULT_DAYS
    return days if days in ALLOWED_DAYS else DEFAULT_DAYS


def _performance_rows(*, organization: Organization, date_range: DateRange) -> QuerySet[AdPerformanceDaily]:
    return AdPerformanceDaily.objects.filter(
        organization_id=organization.pk, date__gte=date_range.start, date__lte=date_range.end
    )


def _metric_kwargs(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "currency": row["currency"],
        "spend": row["sum_spend"] if row["sum_spend"] is not None else Decimal("0"),
        "impressions": int(row["sum_impressions"] or 0),
        "clicks": int(row["sum_clicks"] or 0),
        "conversions": row["sum_conversions"],
        "conversion_value": row["sum_conversion_value"],
    }


def overview_totals(*, organization: Organization, date_range: DateRange) -> list[Metrics]:
    """One line per currency, largest spend first."""
    rows = (
        _performance_rows(organization=organization, date_range=date_range)
        .values("currency")
        .annotate(**_METRIC_SUMS)
        .order_by("-sum_spend", "currency")
    )
    return [Metrics(**_metric_kwargs(row)) for row in rows]


def overview_daily(*, organization: Organization, date_range: DateRange) -> list[CurrencySeries]:
    """Per currency, the figures of each day of the range in date order (missing days are zero).

    The database returns at most one row per (day, currency); the loop below only places those
    aggregates on the calendar.
    """
    rows = (
        _performance_rows(organization=organization, date_range=date_range)
        .values("date", "currency")
        .annotate(**_METRIC_SUMS)
        .order_by("currency", "date")
    )
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
    series.sort(key=lambda s: (-sum((d.spend for d in s.days), Decimal("0")), s.currency))
    return series


def overview_campaigns(*, organization: Organization, date_range: DateRange) -> list[CampaignMetrics]:
    """One line per campaign and currency, highest spend first."""
    rows = (
        _performance_rows(organization=organization, date_range=date_range)
        .values("platform", "account_id", "campaign_id", "currency")
        .annotate(
            account_label=Max("account_name"),
            campaign_label=Max("campaign_name"),
            **_METRIC_SUMS,
        )
        .order_by("-sum_spend", "platform", "account_id", "campaign_id")
    )
    return [
        CampaignMetrics(
            platform=row["platform"],
            platform_name=PLATFORM_NAMES.get(row["platform"], row["platform"]),
            account_id=row["account_id"],
            account_name=row["account_label"] or "",
            campaign_id=row["campaign_id"],
            campaign_name=row["campaign_label"] or "",
            **_metric_kwargs(row),
        )
        for row in rows
    ]


def connection_list_for_organization(*, organization: Organization) -> QuerySet[Connection]:
    return Connection.objects.filter(organization_id=organization.pk).order_by("platform", "account_id")


def connection_get_for_organization(
    *, organization: Organization | None, connection_id: int
) -> Connection | None:
    """The connection if it belongs to the organization; None otherwise (or without organization)."""
    if organization is None:
        return None
    return connection_list_for_organization(organization=organization).filter(pk=connection_id).first()


def overview_connections(*, organization: Organization) -> list[ConnectionOverview]:
    connections = list(connection_list_for_organization(organization=organization))
    latest = sync_run_latest_per_connection(connection_ids=[c.pk for c in connections])
    return [
        ConnectionOverview(
            connection=connection,
            platform_name=PLATFORM_NAMES.get(connection.platform, connection.platform),
            latest_run=latest.get(connection.pk),
        )
        for connection in connections
    ]


def overview_get(
    *, organization: Organization, days: int = DEFAULT_DAYS, today: date | None = None
) -> Overview:
    """Everything the overview page shows for one organization."""
    date_range = overview_date_range(days=days, today=today)
    return Overview(
        organization=organization,
        date_range=date_range,
        totals=overview_totals(organization=organization, date_range=date_range),
        daily=overview_daily(organization=organization, date_range=date_range),
        campaigns=overview_campaigns(organization=organization, date_range=date_range),
        connections=overview_connections(organization=organization),
    )


# --------------------------------------------------------------------------------------------
# Chart geometry
# --------------------------------------------------------------------------------------------


def _nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 or 10 times a power of ten that is >= value (1 for zero)."""
    if value <= 0:
        return Decimal("1")
    exponent = value.adjusted()
    magnitude = Decimal(10) ** exponent
    for step in (Decimal("1"), Decimal("2"), Decimal("2.5"), Decimal("5"), Decimal("10")):
        if value <= step * magnitude:
            return step * magnitude
    return Decimal(10) * magnitude


def spend_chart(days: list[DailyMetrics]) -> SpendChart:
    """Bar positions for a spend-per-day chart drawn as inline SVG."""
    plot_left, plot_right = CHART_PAD_LEFT, CHART_WIDTH - CHART_PAD_RIGHT
    plot_top, plot_bottom = CHART_PAD_TOP, CHART_HEIGHT - CHART_PAD_BOTTOM
    plot_width, plot_height = plot_right - plot_left, plot_bottom - plot_top
    top_value = _nice_ceiling(max((d.spend for d in days), default=Decimal("0")))

    slot = plot_width / max(1, len(days))
    bar_width = max(1.0, slot * 0.72)
    bars = []
    for index, day in enumerate(days):
        height = float(day.spend / top_value) * plot_height if day.spend > 0 else 0.0
        bars.append(
            ChartBar(
                day=day.day,
                value=day.spend,
                x=round(plot_left + index * slot + (slot - bar_width) / 2, 2),
                y=round(plot_bottom - height, 2),
                width=round(bar_width, 2),
                height=round(height, 2),
            )
        )

    grid_lines = [
        ChartGridLine(
            value=top_value * step / CHART_GRID_LINES,
            y=round(plot_bottom - plot_height * step / CHART_GRID_LINES, 2),
        )
        for step in range(CHART_GRID_LINES + 1)
    ]
    label_every = max(1, round(len(days) / 6))
    date_labels = [
        ChartDateLabel(day=day.day, x=round(plot_left + index * slot + slot / 2, 2), y=CHART_HEIGHT - 8)
        for index, day in enumerate(days)
        if index % label_every == 0 or index == len(days) - 1
    ]
    if len(date_labels) >= 2 and date_labels[-1].x - date_labels[-2].x < slot * label_every * 0.6:
        # Keep the last day's label and drop its crowded neighbour.
        del date_labels[-2]
    return SpendChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        bars=bars,
        grid_lines=grid_lines,
        date_labels=date_labels,
    )

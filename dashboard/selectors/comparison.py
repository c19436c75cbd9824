"""What a period's ad figures are compared with: the previous period of the same length, the same
dates a month earlier and the same dates a year earlier.

Raw rows are kept for ``RETENTION_DAYS``; older days live on, folded, in the history
(``warehouse_ad_campaign_history_daily``, etl/history.py). A compared period is read from the raw
rows where they exist and from the history for the days that were folded; a connection's day is
taken from one or the other, never both (a day the raw table still holds is not read from the
history; ``warehouse_email_history_daily`` for email). A comparison is offered only when the warehouse
reaches back to its first day (``figures_reach``);
otherwise it says why, and its figures are "—", never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Exists, Min, OuterRef, QuerySet

from dashboard.cache import cached
from dashboard.periods import DateRange, Period, retention_start
from etl.history import history_start, months_before
from etl.models import (
    AbmEngagementHistoryDaily,
    AdCampaignHistoryDaily,
    AdPerformanceDaily,
    EmailHistoryDaily,
    WarehouseRow,
)
from tenancy.models import Organization

PREVIOUS = "previous"
MONTH = "month"
YEAR = "year"


@dataclass(frozen=True)
class Comparison:
    """A period the shown one is compared with, and why it cannot be when it cannot."""

    key: str  # previous | month | year
    label: str
    date_range: DateRange
    reason: str = ""  # why there are no figures for it ("" when there are)

    @property
    def available(self) -> bool:
        return not self.reason


def _shifted(date_range: DateRange, months: int) -> DateRange:
    return DateRange(months_before(date_range.start, months), months_before(date_range.end, months))


def comparison_ranges(period: Period) -> list[tuple[str, str, DateRange]]:
    """The previous period, the same dates a month earlier and a year earlier."""
    days = period.current.days
    return [
        (PREVIOUS, f"Previous {days} day{'s' if days != 1 else ''}", period.previous),
        (MONTH, "Same dates a month earlier", _shifted(period.current, 1)),
        (YEAR, "Same dates a year earlier", _shifted(period.current, 12)),
    ]


# What each history holds, in words ("the warehouse holds ad figures from ...").
HISTORIES: dict[type[WarehouseRow], str] = {
    AdCampaignHistoryDaily: "ad figures",
    EmailHistoryDaily: "email figures",
    AbmEngagementHistoryDaily: "engagement figures",
}


def figures_reach(
    *, organization: Organization, today: date, history: type[WarehouseRow] = AdCampaignHistoryDaily
) -> date:
    """The oldest day the warehouse answers for, for the dataset folded into ``history``: the
    retention start (raw rows; a first sync backfills the whole retention), or the oldest day folded
    into the history if that is older. A day in between without a row had nothing (no spend, no
    send): it was raw once, and nothing was folded."""
    oldest_folded = history._default_manager.filter(organization_id=organization.pk).aggregate(
        day=Min("date")
    )["day"]
    kept = retention_start(today)
    return min(kept, oldest_folded) if oldest_folded is not None else kept


def ad_figures_reach(*, organization: Organization, today: date) -> date:
    return figures_reach(organization=organization, today=today, history=AdCampaignHistoryDaily)


def _reason(date_range: DateRange, *, reach: date, today: date, what: str = "ad figures") -> str:
    if date_range.start >= reach:
        return ""
    kept_from = history_start(today)
    if date_range.start < kept_from:
        return (
            f"it starts on {date_range.start:%-d %b %Y}, before {kept_from:%-d %b %Y}: daily history is kept "
            f"for {_months_kept(today, kept_from)} months"
        )
    return (
        f"it starts on {date_range.start:%-d %b %Y}, and the warehouse holds {what} from {reach:%-d %b %Y} on"
    )


def _months_kept(today: date, kept_from: date) -> int:
    return (today.year - kept_from.year) * 12 + today.month - kept_from.month


def comparisons_for(
    *, organization: Organization, period: Period, history: type[WarehouseRow] = AdCampaignHistoryDaily
) -> list[Comparison]:
    """Each comparison of the period for the dataset folded into ``history`` (ad figures unless
    said), with the reason it cannot be made where it cannot (cached: a fold changes the
    organization's data version like a load)."""

    def compute() -> list[Comparison]:
        reach = figures_reach(organization=organization, today=period.today, history=history)
        what = HISTORIES[history]
        return [
            Comparison(
                key, label, date_range, _reason(date_range, reach=reach, today=period.today, what=what)
            )
            for key, label, date_range in comparison_ranges(period)
        ]

    return cached(
        organization_id=organization.pk,
        name=f"comparisons:{history._meta.db_table}",
        params=(period.current.start, period.current.end, period.today),
        compute=compute,
    )


def ad_day_platform_sums(
    *, organization: Organization, date_range: DateRange, sums: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The range's ad figures per day, platform and currency: raw rows where the raw table holds the
    connection's day, the history for the days that were folded. ``sums`` are the aggregates to
    compute (the history table has the raw table's figure columns under the same names)."""
    raw = AdPerformanceDaily.objects.filter(
        organization_id=organization.pk, date__gte=date_range.start, date__lte=date_range.end
    )
    rows = list(raw.values("date", "platform", "currency").annotate(**sums).order_by())
    still_raw = AdPerformanceDaily.objects.filter(
        connection_id=OuterRef("connection_id"), date=OuterRef("date")
    )
    folded = AdCampaignHistoryDaily.objects.filter(
        organization_id=organization.pk, date__gte=date_range.start, date__lte=date_range.end
    ).exclude(Exists(still_raw))
    return rows + list(folded.values("date", "platform", "currency").annotate(**sums).order_by())


CampaignKey = tuple[int, str, str]  # connection id, campaign id, currency


def campaign_spend(
    *, organization: Organization, date_range: DateRange, campaigns: list[CampaignKey], spend: Any
) -> dict[CampaignKey, Any]:
    """Each campaign's spend in the range (``spend``: the aggregate to sum it with), raw rows where
    the raw table holds the connection's day and the history for folded days; a campaign without a
    row in the range is absent."""
    if not campaigns:
        return {}
    connections = {key[0] for key in campaigns}
    campaign_ids = {key[1] for key in campaigns}
    in_range = {
        "organization_id": organization.pk,
        "date__gte": date_range.start,
        "date__lte": date_range.end,
        "connection_id__in": connections,
        "campaign_id__in": campaign_ids,
    }
    still_raw = AdPerformanceDaily.objects.filter(
        connection_id=OuterRef("connection_id"), date=OuterRef("date")
    )
    parts: list[QuerySet[Any]] = [
        AdPerformanceDaily.objects.filter(**in_range),
        AdCampaignHistoryDaily.objects.filter(**in_range).exclude(Exists(still_raw)),
    ]
    wanted = set(campaigns)
    totals: dict[CampaignKey, Any] = {}
    for rows in parts:
        for row in rows.values("connection_id", "campaign_id", "currency").annotate(total=spend).order_by():
            key = (row["connection_id"], row["campaign_id"], row["currency"])
            if key in wanted:
                totals[key] = totals.get(key, 0) + row["total"]
    return totals

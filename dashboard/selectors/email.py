"""Email campaigns (Mailchimp): sends, opens, clicks and unsubscribes of campaigns sent in the period.

Rates are computed from counts, the way Mailchimp defines them: unique opens (or unique
subscriber clicks, or unsubscribes) divided by delivered emails (sent minus bounces). When a
campaign has no counts, the platform's own rate is shown instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum

from connectors.models import Organization
from dashboard.cache import cached
from dashboard.charts import BarChart, ChartPoint, bar_chart
from dashboard.periods import DateRange, Period
from dashboard.selectors.common import (
    Restatement,
    organization_platforms,
    parse_day,
    restatement_windows,
    utc_day,
)
from dashboard.selectors.paging import RowsPage, rows_page
from etl.models import EmailCampaign

EMAIL_PLATFORMS = ("mailchimp",)


def _percent(part: int | None, whole: int | None) -> Decimal | None:
    if part is None or not whole or whole <= 0:
        return None
    return Decimal(part) * 100 / Decimal(whole)


@dataclass(frozen=True, kw_only=True)
class EmailCounts:
    emails_sent: int = 0
    bounces: int = 0
    unique_opens: int = 0
    unique_clicks: int = 0
    unsubscribes: int = 0

    @property
    def delivered(self) -> int:
        return max(0, self.emails_sent - self.bounces)

    @property
    def open_rate_percent(self) -> Decimal | None:
        return _percent(self.unique_opens, self.delivered)

    @property
    def click_rate_percent(self) -> Decimal | None:
        return _percent(self.unique_clicks, self.delivered)

    @property
    def unsubscribe_rate_percent(self) -> Decimal | None:
        return _percent(self.unsubscribes, self.delivered)

    @property
    def click_to_open_percent(self) -> Decimal | None:
        return _percent(self.unique_clicks, self.unique_opens)


@dataclass(frozen=True, kw_only=True)
class EmailTotals(EmailCounts):
    campaigns: int = 0


@dataclass(frozen=True, kw_only=True)
class EmailCampaignRow(EmailCounts):
    connection_id: int
    campaign_id: str
    title: str
    subject: str
    list_name: str
    campaign_type: str
    send_time: datetime | None
    has_counts: bool
    platform_open_rate: Decimal | None = None  # as the platform sent it (a fraction)
    platform_click_rate: Decimal | None = None
    provisional: bool = False

    @property
    def shown_open_rate_percent(self) -> Decimal | None:
        if self.has_counts:
            return self.open_rate_percent
        return self.platform_open_rate * 100 if self.platform_open_rate is not None else None

    @property
    def shown_click_rate_percent(self) -> Decimal | None:
        if self.has_counts:
            return self.click_rate_percent
        return self.platform_click_rate * 100 if self.platform_click_rate is not None else None


@dataclass(frozen=True)
class EmailReport:
    period: Period
    connected: bool
    totals: EmailTotals
    previous: EmailTotals | None
    campaigns: list[EmailCampaignRow]  # every campaign sent in the period (the CSV download)
    chart: BarChart
    restatement: Restatement | None = None
    changes: dict[str, Decimal | None] = field(default_factory=dict)
    campaigns_page: RowsPage[EmailCampaignRow] | None = None  # the lines the page shows

    @property
    def campaigns_shown(self) -> RowsPage[EmailCampaignRow]:
        return self.campaigns_page or rows_page(self.campaigns)

    @property
    def has_data(self) -> bool:
        return bool(self.campaigns)


def _bounds(date_range: DateRange) -> tuple[datetime, datetime]:
    start = datetime.combine(date_range.start, time.min, tzinfo=UTC)
    return start, datetime.combine(date_range.end + timedelta(days=1), time.min, tzinfo=UTC)


def _sent_in(organization: Organization, date_range: DateRange) -> QuerySet[EmailCampaign]:
    start, end = _bounds(date_range)
    return EmailCampaign.objects.filter(
        organization_id=organization.pk, send_time__gte=start, send_time__lt=end
    )


def email_totals(*, organization: Organization, date_range: DateRange) -> EmailTotals:
    row = _sent_in(organization, date_range).aggregate(
        campaigns=Count("id"),
        emails_sent=Sum("emails_sent"),
        bounces=Sum("bounces"),
        unique_opens=Sum("unique_opens"),
        unique_clicks=Sum("unique_clicks"),
        unsubscribes=Sum("unsubscribes"),
    )
    return EmailTotals(**{k: int(v or 0) for k, v in row.items()})


def email_campaigns(*, organization: Organization, date_range: DateRange) -> list[EmailCampaignRow]:
    rows = _sent_in(organization, date_range).order_by("-send_time", "campaign_id")
    return [
        EmailCampaignRow(
            connection_id=row.connection_id,
            campaign_id=row.campaign_id,
            title=row.campaign_title or "",
            subject=row.subject or "",
            list_name=row.list_name or row.list_id or "",
            campaign_type=row.campaign_type or "",
            send_time=row.send_time,
            has_counts=row.emails_sent is not None,
            emails_sent=int(row.emails_sent or 0),
            bounces=int(row.bounces or 0),
            unique_opens=int(row.unique_opens or 0),
            unique_clicks=int(row.unique_clicks or 0),
            unsubscribes=int(row.unsubscribes or 0),
            platform_open_rate=row.open_rate,
            platform_click_rate=row.click_rate,
        )
        for row in rows.only(
            "connection_id",
            "campaign_id",
            "campaign_title",
            "subject",
            "list_name",
            "list_id",
            "campaign_type",
            "send_time",
            "emails_sent",
            "bounces",
            "unique_opens",
            "unique_clicks",
            "unsubscribes",
            "open_rate",
            "click_rate",
        )
    ]


def email_sends_per_day(*, organization: Organization, date_range: DateRange) -> dict[date, int]:
    rows = (
        _sent_in(organization, date_range)
        .annotate(day=utc_day("send_time"))
        .values("day")
        .annotate(sent=Sum("emails_sent"))
        .order_by("day")
    )
    found: dict[date, int] = {}
    for row in rows:
        day = parse_day(row["day"])
        if day is not None:
            found[day] = found.get(day, 0) + int(row["sent"] or 0)
    return found


def email_report(*, organization: Organization, period: Period, page: int = 1) -> EmailReport:
    """The email page's figures; ``page`` is the page of the campaign table shown."""
    date_range = period.current

    def compute() -> tuple[Any, ...]:
        return (
            email_totals(organization=organization, date_range=date_range),
            email_totals(organization=organization, date_range=period.previous)
            if period.comparable
            else None,
            email_campaigns(organization=organization, date_range=date_range),
            email_sends_per_day(organization=organization, date_range=date_range),
        )

    totals, previous, campaigns, per_day = cached(
        organization_id=organization.pk,
        name="email",
        params=(date_range.start, date_range.end, period.comparable),
        compute=compute,
    )
    windows = restatement_windows(organization=organization, today=period.today)
    restatement = next((windows[p] for p in EMAIL_PLATFORMS if p in windows), None)
    if restatement is not None and not restatement.overlaps(date_range):
        restatement = None
    since = restatement.since if restatement else None

    def settling(row: EmailCampaignRow) -> bool:
        return since is not None and row.send_time is not None and row.send_time.date() >= since

    chart = bar_chart(
        [
            ChartPoint(day, Decimal(per_day.get(day, 0)), since is not None and day >= since)
            for day in date_range.dates()
        ],
        unit="emails",
    )
    changes: dict[str, Decimal | None] = {}
    if previous is not None:
        for key in ("emails_sent", "open_rate_percent", "click_rate_percent", "unsubscribe_rate_percent"):
            now_value, before = getattr(totals, key), getattr(previous, key)
            changes[key] = (
                (Decimal(now_value) - Decimal(before)) * 100 / Decimal(before)
                if now_value is not None and before
                else None
            )
    platforms = organization_platforms(organization=organization)
    marked = [replace(row, provisional=True) if settling(row) else row for row in campaigns]
    return EmailReport(
        period=period,
        connected=any(p in platforms for p in EMAIL_PLATFORMS) or bool(campaigns),
        totals=totals,
        previous=previous,
        campaigns=marked,
        chart=chart,
        restatement=restatement,
        changes=changes,
        campaigns_page=rows_page(marked, page),
    )

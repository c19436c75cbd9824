"""Email campaigns (Mailchimp): sends, opens, clicks and unsubscribes of campaigns sent in the period.

Rates are computed from counts, the way Mailchimp defines them: unique opens (or unique
subscriber clicks, or unsubscribes) divided by delivered emails (sent minus bounces). When a
campaign lacks a count a rate needs, the platform's own rate is shown instead, or nothing.

A count Mailchimp did not send is ``None`` (shown "—", an empty CSV cell), never 0. The period's
totals add up the campaigns that have each count and say how many campaigns are without it (all
of them: the total is ``None``); a rate of the totals is computed over the campaigns that have
every count it needs, so a campaign without opens does not pull the open rate down.

A period is compared with the previous one, the same dates a month and a year earlier
(``dashboard.selectors.comparison``): the campaigns the raw table holds, and for days past the
retention the day sums of ``warehouse_email_history_daily``, where a rate counts a folded day only
when every campaign of it had both counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import CharField, Exists, OuterRef, QuerySet, Sum
from django.db.models.functions import Cast

from connectors.registry import platforms_feeding
from dashboard.cache import cached
from dashboard.charts import BarChart, ChartPoint, bar_chart
from dashboard.periods import DateRange, Period
from dashboard.selectors.common import (
    Restatement,
    organization_platforms,
    parse_day,
    percent_change,
    restatement_windows,
    utc_day,
)
from dashboard.selectors.comparison import PREVIOUS, Comparison, comparisons_for
from dashboard.selectors.paging import RowsPage, rows_page
from etl.models import EmailCampaign, EmailHistoryDaily
from tenancy.models import Organization

COUNTS = ("emails_sent", "bounces", "unique_opens", "unique_clicks", "unsubscribes")


def _percent(part: int | None, whole: int | None) -> Decimal | None:
    if part is None or not whole or whole <= 0:
        return None
    return Decimal(part) * 100 / Decimal(whole)


def _delivered(sent: int | None, bounces: int | None) -> int | None:
    if sent is None or bounces is None:
        return None
    return max(0, sent - bounces)


@dataclass(frozen=True, kw_only=True)
class EmailCounts:
    """Counts as Mailchimp sent them; ``None`` where it sent none."""

    emails_sent: int | None = None
    bounces: int | None = None
    unique_opens: int | None = None
    unique_clicks: int | None = None
    unsubscribes: int | None = None

    @property
    def delivered(self) -> int | None:
        """Sent minus bounces; None unless both are known."""
        return _delivered(self.emails_sent, self.bounces)

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
    """The period's counts over the campaigns that have them (see the module docstring)."""

    campaigns: int = 0
    # count name -> campaigns of the period without it
    missing: dict[str, int] = field(default_factory=dict)
    # rate name -> the rate over the campaigns that have every count it needs
    rates: dict[str, Decimal | None] = field(default_factory=dict)

    def without(self, name: str) -> int:
        return self.missing.get(name, 0)

    @property
    def open_rate_percent(self) -> Decimal | None:
        return self.rates.get("open_rate_percent")

    @property
    def click_rate_percent(self) -> Decimal | None:
        return self.rates.get("click_rate_percent")

    @property
    def unsubscribe_rate_percent(self) -> Decimal | None:
        return self.rates.get("unsubscribe_rate_percent")

    @property
    def click_to_open_percent(self) -> Decimal | None:
        return self.rates.get("click_to_open_percent")

    @property
    def delivered_without(self) -> int:
        """Campaigns whose delivered emails are unknown (sent or bounces missing)."""
        return self.missing.get("delivered", 0)

    @property
    def notes(self) -> dict[str, str]:
        """Per count, "n of m campaigns without data" when some (not all) campaigns lack it."""
        found = {}
        for name in (*COUNTS, "delivered"):
            n = self.missing.get(name, 0)
            if 0 < n < self.campaigns:
                found[name] = f"{n} of {self.campaigns} campaigns without data"
        return found


@dataclass(frozen=True)
class _Part:
    """Campaigns added up together: one campaign, or the campaigns one connection sent on a day
    that was folded into the history (``warehouse_email_history_daily``)."""

    campaigns: int
    counts: dict[str, int | None]
    missing: dict[str, int]  # count name (and "delivered") -> campaigns of the part without it


def _campaign_part(row: tuple[int | None, ...]) -> _Part:
    counts = dict(zip(COUNTS, row, strict=True))
    missing = {name: int(value is None) for name, value in counts.items()}
    missing["delivered"] = int(_delivered(counts["emails_sent"], counts["bounces"]) is None)
    return _Part(1, counts, missing)


def _history_part(day: EmailHistoryDaily) -> _Part:
    """A folded day. The history counts the campaigns without sends, unique opens or unique clicks;
    bounces and unsubscribes are taken as known for all of the day's campaigns when the day has a
    sum (Mailchimp reports them for every sent campaign), for none when it has not."""
    counts = {name: getattr(day, name) for name in COUNTS}
    missing = {
        "emails_sent": day.rows_missing_emails_sent,
        "unique_opens": day.rows_missing_unique_opens,
        "unique_clicks": day.rows_missing_unique_clicks,
        "bounces": day.campaigns if day.bounces is None else 0,
        "unsubscribes": day.campaigns if day.unsubscribes is None else 0,
    }
    missing["delivered"] = min(day.campaigns, missing["emails_sent"] + missing["bounces"])
    return _Part(day.campaigns, counts, missing)


def totals_from(rows: list[tuple[int | None, ...]]) -> EmailTotals:
    """Totals of campaigns given as ``COUNTS`` tuples (see the module docstring)."""
    return _totals([_campaign_part(row) for row in rows])


def _totals(parts: list[_Part]) -> EmailTotals:
    sums: dict[str, int | None] = {}
    missing: dict[str, int] = {}
    for name in COUNTS:
        known = [int(value) for p in parts if (value := p.counts[name]) is not None]
        sums[name] = sum(known) if known else None
        missing[name] = sum(p.missing[name] for p in parts)
    missing["delivered"] = sum(p.missing["delivered"] for p in parts)

    def rate(part: str, whole: str) -> Decimal | None:
        """Over the parts whose every campaign has both counts."""
        top = bottom = 0
        found = False
        for p in parts:
            if p.missing[part] or p.missing[whole]:
                continue
            count = p.counts[part]
            base = (
                _delivered(p.counts["emails_sent"], p.counts["bounces"])
                if whole == "delivered"
                else p.counts[whole]
            )
            if count is None or base is None:
                continue
            top, bottom, found = top + count, bottom + base, True
        return _percent(top, bottom) if found else None

    return EmailTotals(
        campaigns=sum(p.campaigns for p in parts),
        missing=missing,
        rates={
            "open_rate_percent": rate("unique_opens", "delivered"),
            "click_rate_percent": rate("unique_clicks", "delivered"),
            "unsubscribe_rate_percent": rate("unsubscribes", "delivered"),
            "click_to_open_percent": rate("unique_clicks", "unique_opens"),
        },
        **sums,
    )


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
        """From the counts when they are all there, else the platform's own rate (or None)."""
        if self.unique_opens is not None and self.delivered is not None:
            return self.open_rate_percent
        return self.platform_open_rate * 100 if self.platform_open_rate is not None else None

    @property
    def shown_click_rate_percent(self) -> Decimal | None:
        if self.unique_clicks is not None and self.delivered is not None:
            return self.click_rate_percent
        return self.platform_click_rate * 100 if self.platform_click_rate is not None else None


@dataclass(frozen=True)
class EmailCompared:
    """The period's email totals against one compared period (``then`` None: not compared)."""

    comparison: Comparison
    then: EmailTotals | None
    sent_change: Decimal | None = None


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
    # The previous period, a month and a year earlier (dashboard/selectors/comparison.py).
    comparisons: list[EmailCompared] = field(default_factory=list)

    @property
    def previous_comparison(self) -> Comparison | None:
        return next((c.comparison for c in self.comparisons if c.comparison.key == PREVIOUS), None)

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
    """The period's totals: one short row per campaign sent in it, added up by ``totals_from``."""
    return totals_from(list(_sent_in(organization, date_range).order_by().values_list(*COUNTS)))


def compared_email_totals(*, organization: Organization, date_range: DateRange) -> EmailTotals:
    """A compared period's totals: the campaigns the raw table holds, and for the days that were
    folded the history's day sums (a connection's day from one or the other, never both)."""
    raw = _sent_in(organization, date_range).order_by().values_list(*COUNTS)
    still_raw = EmailCampaign.objects.annotate(day=utc_day("send_time")).filter(
        connection_id=OuterRef("connection_id"), day=Cast(OuterRef("date"), output_field=CharField())
    )
    folded = EmailHistoryDaily.objects.filter(
        organization_id=organization.pk, date__gte=date_range.start, date__lte=date_range.end
    ).exclude(Exists(still_raw))
    return _totals([*map(_campaign_part, raw), *map(_history_part, folded)])


def _count(value: int | None) -> int | None:
    return None if value is None else int(value)


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
            emails_sent=_count(row.emails_sent),
            bounces=_count(row.bounces),
            unique_opens=_count(row.unique_opens),
            unique_clicks=_count(row.unique_clicks),
            unsubscribes=_count(row.unsubscribes),
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


def email_sends_per_day(*, organization: Organization, date_range: DateRange) -> dict[date, int | None]:
    """Emails sent per UTC day of the campaigns sent that day; None for a day whose campaigns all
    lack the count (days without a campaign are not in the result: nothing was sent)."""
    rows = (
        _sent_in(organization, date_range)
        .annotate(day=utc_day("send_time"))
        .values("day")
        .annotate(sent=Sum("emails_sent"))
        .order_by("day")
    )
    found: dict[date, int | None] = {}
    for row in rows:
        day = parse_day(row["day"])
        if day is None:
            continue
        before, sent = found.get(day), row["sent"]
        found[day] = before if sent is None else int(sent) + (before or 0)
    return found


def email_report(*, organization: Organization, period: Period, page: int = 1) -> EmailReport:
    """The email page's figures; ``page`` is the page of the campaign table shown."""
    date_range = period.current

    comparisons = comparisons_for(organization=organization, period=period, history=EmailHistoryDaily)

    def compute() -> tuple[Any, ...]:
        return (
            email_totals(organization=organization, date_range=date_range),
            {
                c.key: compared_email_totals(organization=organization, date_range=c.date_range)
                for c in comparisons
                if c.available
            },
            email_campaigns(organization=organization, date_range=date_range),
            email_sends_per_day(organization=organization, date_range=date_range),
        )

    totals, compared, campaigns, per_day = cached(
        organization_id=organization.pk,
        name="email",
        params=(date_range.start, date_range.end, tuple(c.available for c in comparisons)),
        compute=compute,
    )
    previous = compared.get(PREVIOUS)
    windows = restatement_windows(organization=organization, today=period.today)
    feeding = platforms_feeding("email_campaign")  # the platforms this page speaks of
    restatement = next((windows[p] for p in feeding if p in windows), None)
    if restatement is not None and not restatement.overlaps(date_range):
        restatement = None
    since = restatement.since if restatement else None

    def settling(row: EmailCampaignRow) -> bool:
        return since is not None and row.send_time is not None and row.send_time.date() >= since

    chart = bar_chart(
        [
            ChartPoint(
                day,
                None if day in per_day and per_day[day] is None else Decimal(per_day.get(day) or 0),
                since is not None and day >= since,
            )
            for day in date_range.dates()
        ],
        unit="emails",
    )
    changes: dict[str, Decimal | None] = {}
    if previous is not None:
        for key in ("emails_sent", "open_rate_percent", "click_rate_percent", "unsubscribe_rate_percent"):
            changes[key] = percent_change(getattr(totals, key), getattr(previous, key))
    platforms = organization_platforms(organization=organization)
    marked = [replace(row, provisional=True) if settling(row) else row for row in campaigns]
    return EmailReport(
        period=period,
        connected=any(p in platforms for p in feeding) or bool(campaigns),
        totals=totals,
        previous=previous,
        campaigns=marked,
        chart=chart,
        restatement=restatement,
        changes=changes,
        campaigns_page=rows_page(marked, page),
        comparisons=[
            EmailCompared(
                c,
                then := compared.get(c.key),
                percent_change(totals.emails_sent, then.emails_sent) if then is not None else None,
            )
            for c in comparisons
        ],
    )

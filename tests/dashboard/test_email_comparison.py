"""The Email page compares its period with the previous one, the same dates a month and a year
earlier, like the Overview: campaigns sent in the raw days from the raw table, in the folded days
from the daily email history, each connection's day once; "—" with the reason where nothing
reaches back, never 0."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from connectors.models import Connection
from dashboard.periods import period_from_params
from dashboard.selectors.comparison import MONTH, PREVIOUS, YEAR
from dashboard.selectors.email import email_report
from etl.models import EmailCampaign, EmailHistoryDaily
from etl.services import prune_warehouse, retention_start
from tenancy.models import Organization
from tests.dashboard import FIRST_KEPT, PASSWORD, TODAY, add_email, make_connection, make_org, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.embedded, pytest.mark.usefixtures("history_kept")]

THIRTY = {"days": "30"}


@pytest.fixture
def org() -> Organization:
    return make_org("Northwind")


@pytest.fixture
def mailchimp(org: Organization) -> Connection:
    return make_connection(org, platform="mailchimp", account_id="77")


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def one_send_a_day(connection: Connection, first: date, last: date, **counts: Any) -> None:
    day = first
    while day <= last:
        add_email(connection, campaign_id=f"c{day:%Y%m%d}", send_time=noon(day), **counts)
        day += timedelta(days=1)


def sixty_days_folded(mailchimp: Connection) -> None:
    """Sixty days of sends as sixty days of syncs leave them: the older thirty folded."""
    old = {"emails_sent": 500, "bounces": 0, "unique_opens": 100, "unique_clicks": 10}
    one_send_a_day(mailchimp, TODAY - timedelta(days=59), FIRST_KEPT - timedelta(days=1), **old)
    one_send_a_day(mailchimp, FIRST_KEPT, TODAY, emails_sent=1000, bounces=0, unique_opens=250)
    prune_warehouse(today=TODAY)


def test_the_30_day_view_compares_with_the_previous_30_days_from_the_history(
    org: Organization, mailchimp: Connection
) -> None:
    sixty_days_folded(mailchimp)
    assert retention_start(TODAY) == FIRST_KEPT
    assert not EmailCampaign.objects.filter(send_time__lt=noon(FIRST_KEPT) - timedelta(hours=12)).exists()
    assert EmailHistoryDaily.objects.count() == 30

    report = email_report(organization=org, period=period_from_params(THIRTY, today=TODAY))

    assert report.previous is not None
    assert (report.previous.campaigns, report.previous.emails_sent) == (30, 15_000)
    assert report.previous.open_rate_percent == Decimal("20")  # 100 of 500 delivered, every day
    assert report.totals.emails_sent == 30_000
    assert report.changes["emails_sent"] == Decimal("100")
    previous = next(c for c in report.comparisons if c.comparison.key == PREVIOUS)
    assert previous.sent_change == Decimal("100")


def test_a_month_earlier_is_the_same_dates_read_from_the_history(
    org: Organization, mailchimp: Connection
) -> None:
    sixty_days_folded(mailchimp)

    report = email_report(organization=org, period=period_from_params(THIRTY, today=TODAY))

    month = next(c for c in report.comparisons if c.comparison.key == MONTH)
    assert (month.comparison.date_range.start, month.comparison.date_range.end) == (
        date(2025, 2, 2),
        date(2025, 2, 28),
    )
    assert month.then is not None and (month.then.campaigns, month.then.emails_sent) == (27, 13_500)


def test_a_day_both_folded_and_raw_is_read_once_from_the_raw_table(
    org: Organization, mailchimp: Connection
) -> None:
    sixty_days_folded(mailchimp)
    folded_day = FIRST_KEPT - timedelta(days=1)
    add_email(mailchimp, campaign_id="again", send_time=noon(folded_day), emails_sent=7, bounces=0)
    period = period_from_params({"start": "2025-03-16", "end": "2025-03-31"}, today=TODAY)

    report = email_report(organization=org, period=period)

    # 28 Feb – 15 Mar: 28 Feb folded (500), 1 Mar raw (7, not also its folded 500), 2–15 Mar raw.
    assert report.previous is not None
    assert (report.previous.campaigns, report.previous.emails_sent) == (16, 500 + 7 + 14 * 1000)


def test_counts_missing_on_folded_days_stay_missing(org: Organization, mailchimp: Connection) -> None:
    one_send_a_day(mailchimp, TODAY - timedelta(days=59), FIRST_KEPT - timedelta(days=1), unique_opens=None)
    one_send_a_day(mailchimp, FIRST_KEPT, TODAY)
    prune_warehouse(today=TODAY)

    report = email_report(organization=org, period=period_from_params(THIRTY, today=TODAY))

    assert report.previous is not None
    assert report.previous.unique_opens is None and report.previous.open_rate_percent is None  # "—", not 0
    assert report.previous.without("unique_opens") == 30
    assert report.previous.emails_sent == 30_000


def test_where_nothing_reaches_back_the_page_says_why(org: Organization, mailchimp: Connection) -> None:
    one_send_a_day(mailchimp, FIRST_KEPT, TODAY)  # a first sync's backfill: nothing older yet
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    report = email_report(organization=org, period=period_from_params(THIRTY, today=TODAY))
    assert report.previous is None and report.changes == {}
    by_key = {c.comparison.key: c for c in report.comparisons}
    assert set(by_key) == {PREVIOUS, MONTH, YEAR}
    assert all(c.then is None for c in by_key.values())
    assert "holds email figures from 2 Mar 2025 on" in by_key[PREVIOUS].comparison.reason

    page = client.get(reverse("dashboard:email"), THIRTY).content.decode()
    assert 'id="no-previous-comparison"' in page
    assert "Not compared: it starts on 31 Jan 2025, and the warehouse holds email figures" in page


def test_the_page_shows_each_comparison(org: Organization, mailchimp: Connection) -> None:
    sixty_days_folded(mailchimp)
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    page = client.get(reverse("dashboard:email"), THIRTY).content.decode()

    assert 'id="comparisons-table"' in page
    assert 'data-comparison="previous"' in page
    assert "▲ 100.0%" in page
    assert 'data-figure="emails_sent_then">15,000' in page
    assert 'data-figure="open_rate_then">20.0' in page
    assert 'id="no-previous-comparison"' not in page

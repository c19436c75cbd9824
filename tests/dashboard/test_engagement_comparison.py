"""The Accounts page compares the period's engagement with the previous period, the same dates a
month and a year earlier: the raw rows, and for days past the retention the daily engagement
history, each connection's day once; "—" with the reason where nothing reaches back, never 0."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from connectors.models import Connection
from dashboard.periods import period_from_params
from dashboard.selectors.accounts import accounts_report
from dashboard.selectors.comparison import MONTH, PREVIOUS, YEAR
from etl.models import AbmEngagementDaily, AbmEngagementHistoryDaily
from etl.services import prune_warehouse
from tenancy.models import Organization
from tests.dashboard import (
    FIRST_KEPT,
    PASSWORD,
    TODAY,
    add_account,
    add_engagement,
    make_connection,
    make_org,
    make_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.embedded, pytest.mark.usefixtures("history_kept")]

THIRTY = {"days": "30"}


@pytest.fixture
def org() -> Organization:
    return make_org("Northwind")


@pytest.fixture
def demandbase(org: Organization) -> Connection:
    connection = make_connection(org, platform="demandbase", account_id="tenant")
    add_account(connection, account_id="a1", name="Acme")
    add_account(connection, account_id="a2", name="Globex")
    return connection


def engaged(connection: Connection, first: date, last: date, minutes: str | None, views: int | None) -> None:
    """Both accounts engaged every day of the range."""
    day = first
    while day <= last:
        for account in ("a1", "a2"):
            add_engagement(
                connection,
                account_id=account,
                day=day,
                engagement_minutes=None if minutes is None else Decimal(minutes),
                page_views=views,
            )
        day += timedelta(days=1)


def sixty_days_folded(demandbase: Connection, old_minutes: str | None = "2") -> None:
    engaged(demandbase, TODAY - timedelta(days=59), FIRST_KEPT - timedelta(days=1), old_minutes, 1)
    engaged(demandbase, FIRST_KEPT, TODAY, "3", 2)
    prune_warehouse(today=TODAY)


def test_the_30_day_view_compares_with_the_previous_30_days_from_the_history(
    org: Organization, demandbase: Connection
) -> None:
    sixty_days_folded(demandbase)
    assert not AbmEngagementDaily.objects.filter(date__lt=FIRST_KEPT).exists()
    assert AbmEngagementHistoryDaily.objects.count() == 30

    report = accounts_report(organization=org, period=period_from_params(THIRTY, today=TODAY))

    previous = next(c for c in report.comparisons if c.comparison.key == PREVIOUS)
    assert previous.then is not None
    assert (previous.then.account_days, previous.then.minutes, previous.then.page_views) == (
        60,
        Decimal("120"),
        60,
    )
    assert previous.minutes_change == Decimal("50")  # 180 minutes now against 120
    month = next(c for c in report.comparisons if c.comparison.key == MONTH)
    assert month.then is not None and month.then.account_days == 54  # 2–28 Feb, two accounts a day


def test_a_day_both_folded_and_raw_is_read_once(org: Organization, demandbase: Connection) -> None:
    sixty_days_folded(demandbase)
    add_engagement(
        demandbase, account_id="a1", day=FIRST_KEPT - timedelta(days=1), engagement_minutes=Decimal("9")
    )
    period = period_from_params({"start": "2025-03-16", "end": "2025-03-31"}, today=TODAY)

    report = accounts_report(organization=org, period=period)

    then = next(c for c in report.comparisons if c.comparison.key == PREVIOUS).then
    # 28 Feb – 15 Mar: 28 Feb folded (2 × 2), 1 Mar raw (9, not also its folded 2 × 2), 2–15 Mar raw (14 × 2 × 3).
    assert then is not None and (then.account_days, then.minutes) == (2 + 1 + 28, Decimal("4") + 9 + 84)


def test_minutes_not_reported_then_stay_missing(org: Organization, demandbase: Connection) -> None:
    sixty_days_folded(demandbase, old_minutes=None)

    report = accounts_report(organization=org, period=period_from_params(THIRTY, today=TODAY))

    then = next(c for c in report.comparisons if c.comparison.key == PREVIOUS)
    assert then.then is not None and then.then.minutes is None and then.minutes_change is None  # "—", not 0
    assert then.then.page_views == 60 and then.then.account_days == 60


def test_where_nothing_reaches_back_the_page_says_why(org: Organization, demandbase: Connection) -> None:
    engaged(demandbase, FIRST_KEPT, TODAY, "3", 2)
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    report = accounts_report(organization=org, period=period_from_params(THIRTY, today=TODAY))
    by_key = {c.comparison.key: c for c in report.comparisons}
    assert set(by_key) == {PREVIOUS, MONTH, YEAR} and all(c.then is None for c in by_key.values())
    assert "holds engagement figures from 2 Mar 2025 on" in by_key[PREVIOUS].comparison.reason

    page = client.get(reverse("dashboard:accounts"), THIRTY).content.decode()
    assert "Not compared: it starts on 31 Jan 2025, and the warehouse holds engagement figures" in page


def test_the_page_shows_each_comparison(org: Organization, demandbase: Connection) -> None:
    sixty_days_folded(demandbase)
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    page = client.get(reverse("dashboard:accounts"), THIRTY).content.decode()

    assert 'data-comparison="previous"' in page and "▲ 50.0%" in page
    assert 'data-figure="minutes_then">120' in page
    assert 'data-figure="account_days_then">60' in page

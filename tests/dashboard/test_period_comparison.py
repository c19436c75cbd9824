"""With warehouse data older than 30 days folded into the history, the Overview's 30-day view compares
with the previous 30 days (and with the same dates a month earlier), each day read once, from the raw
rows or from the history; where nothing reaches back, "—" and the reason, never 0."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.models import Connection
from dashboard.periods import period_from_params
from dashboard.selectors.ads import CampaignFilters, campaign_list, overview_get
from dashboard.selectors.comparison import MONTH, PREVIOUS, YEAR
from etl.models import AdCampaignHistoryDaily, AdPerformanceDaily
from etl.services import prune_warehouse, retention_start
from tenancy.models import Organization
from tests.dashboard import FIRST_KEPT, PASSWORD, TODAY, add_row, make_connection, make_org, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.embedded, pytest.mark.usefixtures("history_kept")]


@pytest.fixture
def org() -> Organization:
    return make_org("Northwind")


@pytest.fixture
def ads(org: Organization) -> Connection:
    return make_connection(org, platform="linkedin_ads")


def spend_days(connection: Connection, first: date, last: date, spend: str, **extra: Any) -> None:
    day = first
    while day <= last:
        add_row(connection, day=day, spend=spend, clicks=2, **extra)
        day += timedelta(days=1)


def sixty_days_folded(ads: Connection) -> None:
    """Sixty days of figures as sixty days of syncs leave them: the older thirty folded."""
    spend_days(ads, TODAY - timedelta(days=59), FIRST_KEPT - timedelta(days=1), "5", conversions="1")
    spend_days(ads, FIRST_KEPT, TODAY, "10", conversions="2")
    prune_warehouse(today=TODAY)


def test_the_30_day_view_compares_with_the_previous_30_days_from_the_history(
    org: Organization, ads: Connection
) -> None:
    sixty_days_folded(ads)
    assert retention_start(TODAY) == FIRST_KEPT
    assert not AdPerformanceDaily.objects.filter(date__lt=FIRST_KEPT).exists()  # raw: nothing older
    assert AdCampaignHistoryDaily.objects.count() == 30

    overview = overview_get(organization=org, period=period_from_params({"days": "30"}, today=TODAY))

    assert overview.comparable
    (usd,) = overview.currencies
    assert usd.current.spend == Decimal("300.00")
    assert usd.previous is not None
    assert usd.previous.spend == Decimal("150.00")  # 30 folded days × 5
    assert usd.previous.clicks == 60 and usd.previous.conversions == Decimal("30.00")
    spend = next(k for k in usd.kpis if k.key == "spend")
    assert spend.change_percent == Decimal("100")


def test_a_month_earlier_is_the_same_dates_read_from_the_history(org: Organization, ads: Connection) -> None:
    sixty_days_folded(ads)

    overview = overview_get(organization=org, period=period_from_params({"days": "30"}, today=TODAY))

    month = next(f for f in overview.comparisons if f.comparison.key == MONTH)
    assert month.comparison.date_range.start == date(2025, 2, 2)
    assert month.comparison.date_range.end == date(2025, 2, 28)  # 31 Mar → 28 Feb
    (usd,) = month.currencies
    assert usd.previous is not None
    assert (usd.previous.spend, usd.previous.rows) == (Decimal("135.00"), 27)  # 27 folded days × 5


def test_a_period_across_the_retention_reads_each_day_once(org: Organization, ads: Connection) -> None:
    sixty_days_folded(ads)
    # A day both folded and still raw (a longer retention tried and undone): the raw row counts.
    add_row(ads, day=FIRST_KEPT - timedelta(days=1), campaign_id="c1", spend="7", clicks=2)
    period = period_from_params({"start": "2025-03-16", "end": "2025-03-31"}, today=TODAY)

    overview = overview_get(organization=org, period=period)

    (usd,) = overview.currencies
    assert overview.comparable and usd.previous is not None
    # 28 Feb – 15 Mar: 28 Feb folded (5), 1 Mar raw (7, not also its folded 5), 2–15 Mar raw (14 × 10).
    assert (usd.previous.spend, usd.previous.rows) == (Decimal("152.00"), 16)


def test_where_nothing_reaches_back_the_comparison_says_why(org: Organization, ads: Connection) -> None:
    spend_days(ads, FIRST_KEPT, TODAY, "10")  # a first sync's backfill: nothing older yet

    overview = overview_get(organization=org, period=period_from_params({"days": "30"}, today=TODAY))

    assert not overview.comparable
    by_key = {f.comparison.key: f for f in overview.comparisons}
    assert set(by_key) == {PREVIOUS, MONTH, YEAR}
    assert all(not f.comparison.available and f.currencies == [] for f in by_key.values())
    assert "holds ad figures from 2 Mar 2025 on" in by_key[PREVIOUS].comparison.reason
    (usd,) = overview.currencies
    assert usd.previous is None  # no previous figure, not a previous zero
    assert all(k.previous is None and k.change_percent is None for k in usd.kpis)


def test_a_year_earlier_beyond_the_kept_history_says_so(
    org: Organization, ads: Connection, settings: Any
) -> None:
    settings.HISTORY_RETENTION_MONTHS = 6
    AdCampaignHistoryDaily.objects.create(
        organization=org, connection=ads, platform="linkedin_ads", sync_run_id=1, synced_at=timezone.now(),
        account_id="1", campaign_id="c1", date=date(2024, 10, 1), currency="USD", impressions=0, clicks=0,
        spend=Decimal("1"), folded_at=timezone.now(),
    )  # fmt: skip
    spend_days(ads, FIRST_KEPT, TODAY, "10")

    overview = overview_get(organization=org, period=period_from_params({"days": "30"}, today=TODAY))

    year = next(f for f in overview.comparisons if f.comparison.key == YEAR)
    assert not year.comparison.available
    assert "daily history is kept for 6 months" in year.comparison.reason


def test_the_overview_page_shows_the_comparison_and_dashes_where_it_cannot(
    org: Organization, ads: Connection
) -> None:
    sixty_days_folded(ads)
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    page = client.get(reverse("dashboard:overview") + "?days=30").content.decode()

    assert 'id="no-previous-comparison"' not in page
    assert 'data-comparison="previous"' in page and "150.00 USD" in page
    year_row = page.split('data-comparison="year"')[1].split("</tr>")[0]
    assert "—" in year_row and "Not compared:" in year_row and "0.00" not in year_row


def test_the_campaigns_compare_each_spend_with_the_previous_period(
    org: Organization, ads: Connection
) -> None:
    sixty_days_folded(ads)
    add_row(ads, day=TODAY, campaign_id="new", spend="4")  # a campaign that did not run before
    period = period_from_params({"days": "30"}, today=TODAY)

    page = campaign_list(organization=org, period=period, filters=CampaignFilters.from_params({}))

    assert page.comparison is not None and page.comparison.available
    by_id = {row.campaign_id: row for row in page.rows}
    assert by_id["c1"].previous_spend == Decimal("150.00") and by_id["c1"].spend_change_percent == 100
    assert by_id["new"].previous_spend == 0 and by_id["new"].spend_change_percent is None


def test_the_campaigns_say_why_they_are_not_compared(org: Organization, ads: Connection) -> None:
    spend_days(ads, FIRST_KEPT, TODAY, "10")
    make_user("ana", organization=org)
    client = Client()
    assert client.login(username="ana", password=PASSWORD)

    page = client.get(reverse("dashboard:campaigns") + "?days=30").content.decode()

    assert 'id="no-campaign-comparison"' in page and "holds ad figures from 2 Mar 2025 on" in page
    assert 'data-figure="spend_change"' not in page

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from connectors.models import Connection
from dashboard.selectors import (
    DateRange,
    Metrics,
    connection_get_for_organization,
    organization_for_user,
    overview_campaigns,
    overview_connections,
    overview_daily,
    overview_date_range,
    overview_days_from_param,
    overview_get,
    overview_totals,
    spend_chart,
)
from etl.models import SyncRun
from tests.dashboard import TODAY, add_row, make_connection, make_org, make_run, make_user

RANGE = DateRange(start=TODAY - timedelta(days=29), end=TODAY)


@pytest.mark.django_db
class TestOrganizationForUser:
    def test_member_gets_their_organization(self) -> None:
        org = make_org("Northwind")
        user = make_user("ann", organization=org)
        assert organization_for_user(user) == org

    def test_user_without_membership_gets_none(self) -> None:
        make_org("Northwind")
        assert organization_for_user(make_user("bob")) is None

    def test_superuser_without_membership_gets_none(self) -> None:
        make_org("Northwind")
        root = make_user("root", is_superuser=True, is_staff=True)
        assert organization_for_user(root) is None

    def test_anonymous_gets_none(self) -> None:
        assert organization_for_user(AnonymousUser()) is None


class TestDateRange:
    def test_default_is_thirty_days_ending_today_utc(self) -> None:
        # 23:30 in UTC-5 is already the next day in UTC.
        with freeze_time(datetime(2025, 4, 1, 4, 30, tzinfo=UTC)):
            window = overview_date_range()
        assert window.end == date(2025, 4, 1)
        assert window.start == date(2025, 3, 3)
        assert window.days == 30

    def test_custom_length(self) -> None:
        window = overview_date_range(days=7, today=TODAY)
        assert (window.start, window.end, window.days) == (date(2025, 3, 25), TODAY, 7)

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [("7", 7), ("14", 14), ("30", 30), (None, 30), ("", 30), ("abc", 30), ("9", 30), ("-7", 30)],
    )
    def test_days_parameter(self, raw: str | None, expected: int) -> None:
        assert overview_days_from_param(raw) == expected


class TestMetrics:
    def test_ratios(self) -> None:
        m = Metrics(
            currency="USD",
            spend=Decimal("50"),
            impressions=2000,
            clicks=40,
            conversions=Decimal("4"),
        )
        assert m.ctr_percent == Decimal("2")
        assert m.cpc == Decimal("1.25")
        assert m.cost_per_conversion == Decimal("12.5")

    def test_ratios_are_none_when_divisor_is_zero(self) -> None:
        m = Metrics(currency="USD", spend=Decimal("10"), conversions=Decimal("0"))
        assert m.ctr_percent is None
        assert m.cpc is None
        assert m.cost_per_conversion is None

    def test_cost_per_conversion_is_none_when_not_reported(self) -> None:
        assert Metrics(currency="USD", spend=Decimal("10"), clicks=3).cost_per_conversion is None


@pytest.mark.django_db
class TestOverviewTotals:
    def test_one_line_per_currency_and_no_mixing(self) -> None:
        org = make_org("Northwind")
        usd = make_connection(org, platform="linkedin_ads", account_id="1")
        eur = make_connection(org, platform="google_ads", account_id="2")
        add_row(
            usd,
            day=TODAY,
            campaign_id="a",
            spend="100.50",
            impressions=1000,
            clicks=10,
            conversions="2",
            conversion_value="300",
        )
        add_row(
            usd,
            day=TODAY - timedelta(days=1),
            campaign_id="a",
            spend="20.25",
            impressions=500,
            clicks=5,
            conversions="1",
            conversion_value="50",
        )
        add_row(eur, day=TODAY, campaign_id="b", currency="EUR", spend="7.00", impressions=300, clicks=3)

        totals = {t.currency: t for t in overview_totals(organization=org, date_range=RANGE)}

        assert set(totals) == {"USD", "EUR"}
        usd_total = totals["USD"]
        assert usd_total.spend == Decimal("120.75")
        assert usd_total.impressions == 1500
        assert usd_total.clicks == 15
        assert usd_total.conversions == Decimal("3")
        assert usd_total.conversion_value == Decimal("350")
        assert usd_total.cost_per_conversion == Decimal("40.25")
        assert usd_total.ctr_percent == Decimal("1")
        eur_total = totals["EUR"]
        assert eur_total.spend == Decimal("7")
        assert eur_total.conversions is None  # not reported: not shown as zero
        assert eur_total.cost_per_conversion is None

    def test_currencies_are_not_ranked_by_their_amounts(self) -> None:
        # The currency with the most campaign days first (the organization's main currency), then
        # by code: 500 EUR is neither more nor less than 50 USD.
        org = make_org("Northwind")
        conn = make_connection(org)
        add_row(conn, day=TODAY, campaign_id="a", currency="EUR", spend="500")
        add_row(conn, day=TODAY, campaign_id="b", currency="USD", spend="50")
        add_row(conn, day=TODAY, campaign_id="c", currency="USD", spend="5")
        add_row(conn, day=TODAY, campaign_id="d", currency="GBP", spend="1")
        assert [t.currency for t in overview_totals(organization=org, date_range=RANGE)] == [
            "USD",
            "EUR",
            "GBP",
        ]
        assert [s.currency for s in overview_daily(organization=org, date_range=RANGE)] == [
            "USD",
            "EUR",
            "GBP",
        ]

    def test_other_organizations_and_other_days_are_left_out(self) -> None:
        org = make_org("Northwind")
        other = make_org("Contoso")
        add_row(make_connection(org), day=TODAY, spend="10")
        add_row(make_connection(org, account_id="9"), day=RANGE.start - timedelta(days=1), spend="1000")
        add_row(make_connection(other), day=TODAY, spend="999")

        [total] = overview_totals(organization=org, date_range=RANGE)
        assert total.spend == Decimal("10")

    def test_empty(self) -> None:
        assert overview_totals(organization=make_org("Northwind"), date_range=RANGE) == []

    def test_aggregates_in_one_query(self) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        for offset in range(10):
            add_row(conn, day=TODAY - timedelta(days=offset), spend="1")
        with CaptureQueriesContext(db_connection) as queries:
            overview_totals(organization=org, date_range=RANGE)
            overview_daily(organization=org, date_range=RANGE)
            overview_campaigns(organization=org, date_range=RANGE)
        assert len(queries) == 3
        assert all("SUM(" in q["sql"].upper() for q in queries.captured_queries)


@pytest.mark.django_db
class TestOverviewDaily:
    def test_series_per_currency_covers_every_day(self) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        add_row(conn, day=TODAY, campaign_id="a", spend="10", impressions=100, clicks=1)
        add_row(conn, day=TODAY, campaign_id="b", spend="5.5", impressions=50, clicks=2)
        add_row(conn, day=TODAY - timedelta(days=2), campaign_id="a", spend="3")
        add_row(conn, day=TODAY, campaign_id="c", currency="GBP", spend="1")
        window = overview_date_range(days=7, today=TODAY)

        series = {s.currency: s for s in overview_daily(organization=org, date_range=window)}

        assert set(series) == {"USD", "GBP"}
        usd = series["USD"]
        assert [d.day for d in usd.days] == window.dates()
        by_day = {d.day: d for d in usd.days}
        assert by_day[TODAY].spend == Decimal("15.5")
        assert by_day[TODAY].impressions == 150
        assert by_day[TODAY].clicks == 3
        assert by_day[TODAY - timedelta(days=2)].spend == Decimal("3")
        assert by_day[TODAY - timedelta(days=1)].spend == Decimal("0")
        assert not by_day[TODAY - timedelta(days=1)].has_activity
        assert [d.day for d in usd.active_days_newest_first] == [TODAY, TODAY - timedelta(days=2)]
        assert {d.currency for d in usd.days} == {"USD"}
        assert series["GBP"].days[-1].spend == Decimal("1")

    def test_chart_bars_scale_with_spend(self) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        add_row(conn, day=TODAY, spend="100")
        add_row(conn, day=TODAY - timedelta(days=1), spend="50")
        window = overview_date_range(days=7, today=TODAY)
        [series] = overview_daily(organization=org, date_range=window)

        chart = series.chart
        assert len(chart.bars) == 7
        last, before = chart.bars[-1], chart.bars[-2]
        assert last.height == pytest.approx(2 * before.height)
        assert last.y + last.height == pytest.approx(chart.plot_bottom)
        assert chart.bars[0].height == 0
        assert chart.grid_lines[-1].value >= Decimal("100")
        assert chart.date_labels[-1].day == TODAY

    def test_chart_without_spend_has_flat_bars(self) -> None:
        chart = spend_chart([])
        assert chart.bars == []
        assert chart.grid_lines[-1].value == Decimal("1")


@pytest.mark.django_db
class TestOverviewCampaigns:
    def test_table_sorted_by_spend_with_names(self) -> None:
        org = make_org("Northwind")
        li = make_connection(org, platform="linkedin_ads", account_id="11", name="LinkedIn main")
        ga = make_connection(org, platform="google_ads", account_id="22", name="Search")
        add_row(li, day=TODAY, campaign_id="small", campaign_name="Small", spend="5", clicks=1)
        add_row(
            li, day=TODAY - timedelta(days=1), campaign_id="small", campaign_name="Small", spend="6", clicks=1
        )
        add_row(
            ga,
            day=TODAY,
            campaign_id="big",
            campaign_name="Big",
            spend="500",
            impressions=1000,
            clicks=20,
            conversions="5",
        )
        add_row(ga, day=TODAY, campaign_id="eur", campaign_name="Euro", currency="EUR", spend="50")

        rows = overview_campaigns(organization=org, date_range=RANGE)

        assert [(r.campaign_id, r.currency) for r in rows] == [
            ("big", "USD"),
            ("small", "USD"),
            ("eur", "EUR"),  # after USD, whatever its spend: amounts are ranked within a currency
        ]
        big = rows[0]
        assert (big.platform, big.platform_name, big.account_id, big.account_name) == (
            "google_ads",
            "Google Ads",
            "22",
            "Search",
        )
        assert big.campaign_name == "Big"
        assert big.cpc == Decimal("25")
        assert big.cost_per_conversion == Decimal("100")
        small = rows[1]
        assert small.spend == Decimal("11")
        assert small.clicks == 2
        assert small.platform_name == "LinkedIn Ads"

    def test_other_organization_campaigns_are_left_out(self) -> None:
        org = make_org("Northwind")
        other = make_org("Contoso")
        add_row(make_connection(org), day=TODAY, campaign_id="mine", spend="1")
        add_row(make_connection(other), day=TODAY, campaign_id="theirs", spend="1")
        assert [r.campaign_id for r in overview_campaigns(organization=org, date_range=RANGE)] == ["mine"]


@pytest.mark.django_db
class TestOverviewConnections:
    def test_latest_run_per_connection(self) -> None:
        org = make_org("Northwind")
        other = make_org("Contoso")
        first = make_connection(org, platform="linkedin_ads", account_id="1")
        second = make_connection(
            org,
            platform="google_ads",
            account_id="2",
            status=Connection.Status.NEEDS_REAUTH,
            status_message="The account owner has to sign in again.",
        )
        make_connection(other, account_id="3")
        make_run(first, status=SyncRun.Status.FAILED, step=SyncRun.Step.EXTRACT, error_message="old")
        latest = make_run(first, loaded=42, finished_at=datetime(2025, 3, 31, 6, tzinfo=UTC))

        items = overview_connections(organization=org)

        assert [i.connection.pk for i in items] == [second.pk, first.pk]  # ordered by platform
        by_pk = {i.connection.pk: i for i in items}
        first_run = by_pk[first.pk].latest_run
        assert first_run == latest
        assert first_run is not None
        assert first_run.rows_loaded == 42
        assert by_pk[first.pk].problem == ""
        assert by_pk[first.pk].can_sync
        assert by_pk[second.pk].latest_run is None
        assert by_pk[second.pk].platform_name == "Google Ads"
        assert by_pk[second.pk].problem == "The account owner has to sign in again."
        assert not by_pk[second.pk].can_sync

    def test_failed_run_explains_the_problem(self) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        make_run(
            conn,
            status=SyncRun.Status.FAILED,
            step=SyncRun.Step.EXTRACT,
            error_message="LinkedIn did not answer in time.",
        )
        [item] = overview_connections(organization=org)
        assert item.problem == "LinkedIn did not answer in time."

    def test_connection_lookup_is_scoped_to_the_organization(self) -> None:
        org = make_org("Northwind")
        other = make_org("Contoso")
        mine = make_connection(org)
        theirs = make_connection(other)
        assert connection_get_for_organization(organization=org, connection_id=mine.pk) == mine
        assert connection_get_for_organization(organization=org, connection_id=theirs.pk) is None
        assert connection_get_for_organization(organization=None, connection_id=mine.pk) is None


@pytest.mark.django_db
def test_overview_get_bundles_everything() -> None:
    org = make_org("Northwind")
    conn = make_connection(org)
    add_row(conn, day=TODAY, spend="12")
    result = overview_get(organization=org, days=14, today=TODAY)
    assert result.has_data
    assert result.date_range.days == 14
    assert [t.spend for t in result.totals] == [Decimal("12")]
    assert len(result.daily[0].days) == 14
    assert len(result.campaigns) == 1
    assert [c.connection for c in result.connections] == [conn]


@pytest.mark.django_db
def test_overview_get_without_data() -> None:
    result = overview_get(organization=make_org("Northwind"), today=TODAY)
    assert not result.has_data
    assert result.daily == []
    assert result.campaigns == []

"""Selectors of the campaign, email, pipeline, accounts and sync-health pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from connectors.models import Connection
from dashboard.periods import period_from_params
from dashboard.selectors import (
    CampaignFilters,
    accounts_report,
    campaign_detail,
    campaign_list,
    campaign_list_all,
    email_report,
    match_key,
    next_sync_runs,
    pipeline_report,
    sync_health_get,
)
from etl.models import AdPerformanceDaily, SyncRun
from tests.dashboard import (
    TODAY,
    add_account,
    add_deal,
    add_email,
    add_engagement,
    add_lead,
    add_row,
    make_connection,
    make_org,
    make_run,
)

# The SQL here must also run on the embedded default (SQLite): `make test` runs it there too.
pytestmark = pytest.mark.embedded

MONTH = period_from_params({"days": "30"}, today=TODAY)
WEEK = period_from_params({"days": "7"}, today=TODAY)
NOON = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def thirty_day_retention(settings: Any) -> None:
    settings.RETENTION_DAYS = 30


def filters(**params: str) -> CampaignFilters:
    return CampaignFilters.from_params(params)


@pytest.mark.django_db
class TestCampaignList:
    @pytest.fixture
    def org(self) -> Any:
        org = make_org("Northwind")
        li = make_connection(org, platform="linkedin_ads", account_id="11", name="LinkedIn main")
        ga = make_connection(org, platform="google_ads", account_id="22", name="Search")
        add_row(
            li,
            day=TODAY,
            campaign_id="a",
            campaign_name="Alpha launch",
            spend="10",
            impressions=1000,
            clicks=50,
        )
        add_row(
            li,
            day=TODAY - timedelta(days=1),
            campaign_id="b",
            campaign_name="Beta",
            spend="30",
            impressions=100,
            clicks=1,
        )
        add_row(
            ga, day=TODAY, campaign_id="c", campaign_name="Gamma brand", spend="20", impressions=10, clicks=5
        )
        add_row(ga, day=TODAY, campaign_id="e", campaign_name="Euro", currency="EUR", spend="99")
        AdRow = type(
            add_row(li, day=TODAY - timedelta(days=3), campaign_id="b", campaign_name="Beta", spend="1")
        )
        AdRow.objects.filter(campaign_id="b", date=TODAY - timedelta(days=3)).update(campaign_status="ACTIVE")
        AdRow.objects.filter(campaign_id="b", date=TODAY - timedelta(days=1)).update(campaign_status="PAUSED")
        AdRow.objects.filter(campaign_id="a").update(campaign_status="ACTIVE")
        return org

    def test_default_sort_is_spend_descending_within_each_currency(self, org: Any) -> None:
        # 99 EUR is not "more" than 31 USD: USD (4 campaign days) comes first, then EUR (1 day).
        page = campaign_list(organization=org, period=MONTH, filters=filters())
        assert [r.campaign_id for r in page.rows] == ["b", "c", "a", "e"]
        assert page.by_currency
        assert page.total == 4
        assert {p for p, _ in page.platforms} == {"linkedin_ads", "google_ads"}
        assert page.currencies == ["EUR", "USD"]

    def test_sort_by_a_ratio_in_the_database(self, org: Any) -> None:
        page = campaign_list(organization=org, period=MONTH, filters=filters(sort="ctr", dir="desc"))
        # c: 50%, a: 5%, b: 1%, e: no impressions (last)
        assert [r.campaign_id for r in page.rows] == ["c", "a", "b", "e"]
        ascending = campaign_list(organization=org, period=MONTH, filters=filters(sort="ctr", dir="asc"))
        assert [r.campaign_id for r in ascending.rows] == ["b", "a", "c", "e"]

    def test_sort_by_name(self, org: Any) -> None:
        page = campaign_list(organization=org, period=MONTH, filters=filters(sort="campaign"))
        assert [r.campaign_name for r in page.rows] == ["Alpha launch", "Beta", "Euro", "Gamma brand"]

    def test_filter_by_platform_currency_and_search(self, org: Any) -> None:
        assert [
            r.campaign_id
            for r in campaign_list(
                organization=org, period=MONTH, filters=filters(platform="google_ads")
            ).rows
        ] == ["c", "e"]
        assert [
            r.campaign_id
            for r in campaign_list(organization=org, period=MONTH, filters=filters(currency="eur")).rows
        ] == ["e"]
        assert [
            r.campaign_id
            for r in campaign_list(organization=org, period=MONTH, filters=filters(q="launch")).rows
        ] == ["a"]
        assert [
            r.campaign_id
            for r in campaign_list(organization=org, period=MONTH, filters=filters(q="GAMMA")).rows
        ] == ["c"]
        assert [
            r.campaign_id
            for r in campaign_list(organization=org, period=MONTH, filters=filters(q="search")).rows
        ] == ["c", "e"]  # account name

    def test_status_is_the_latest_days_status(self, org: Any) -> None:
        page = campaign_list(organization=org, period=MONTH, filters=filters(status="PAUSED"))
        assert [(r.campaign_id, r.status) for r in page.rows] == [("b", "PAUSED")]
        active = campaign_list(organization=org, period=MONTH, filters=filters(status="ACTIVE"))
        assert [r.campaign_id for r in active.rows] == ["a"]
        assert "PAUSED" in active.statuses

    def test_paging(self, org: Any) -> None:
        page = campaign_list(organization=org, period=MONTH, filters=filters(page="2"), per_page=3)
        assert (page.page, page.pages, page.total) == (2, 2, 4)
        assert [r.campaign_id for r in page.rows] == ["e"]
        assert (page.first_index, page.last_index) == (4, 4)

    @pytest.mark.parametrize("sort", ["spend", "cpc", "cost_per_conversion", "conversion_value"])
    @pytest.mark.parametrize("direction", ["asc", "desc"])
    def test_amounts_are_sorted_within_each_currency(self, org: Any, sort: str, direction: str) -> None:
        page = campaign_list(organization=org, period=MONTH, filters=filters(sort=sort, dir=direction))
        currencies = [r.currency for r in page.rows]
        assert currencies == ["USD", "USD", "USD", "EUR"]  # one block per currency, whatever the order
        assert page.by_currency
        exported = campaign_list_all(
            organization=org, period=MONTH, filters=filters(sort=sort, dir=direction)
        )
        assert [r.campaign_id for r in exported] == [r.campaign_id for r in page.rows]

    def test_counts_and_ratios_are_ranked_across_currencies(self, org: Any) -> None:
        page = campaign_list(organization=org, period=MONTH, filters=filters(sort="impressions"))
        assert [r.campaign_id for r in page.rows] == ["a", "b", "c", "e"]
        assert not page.by_currency
        one_currency = campaign_list(organization=org, period=MONTH, filters=filters(currency="USD"))
        assert not one_currency.by_currency

    def test_sort_links_toggle_the_direction(self, org: Any) -> None:
        page = campaign_list(organization=org, period=MONTH, filters=filters(sort="clicks", dir="desc"))
        columns = page.sort_columns()
        assert columns["clicks"].params["dir"] == "asc"
        assert columns["spend"].params["dir"] == "desc"
        assert columns["campaign"].params["dir"] == "asc"

    def test_sorting_and_filtering_reuse_the_periods_campaign_totals(self, org: Any) -> None:
        campaign_list(organization=org, period=MONTH, filters=filters())  # what the warm-up computes
        for params in (
            {"sort": "roas"},
            {"sort": "campaign", "dir": "desc"},
            {"platform": "google_ads"},
            {"q": "launch", "status": "ACTIVE"},
        ):
            with CaptureQueriesContext(connection) as queries:
                page = campaign_list(organization=org, period=MONTH, filters=filters(**params))
            assert page.rows
            assert not [q for q in queries.captured_queries if AdPerformanceDaily._meta.db_table in q["sql"]]

    def test_a_renamed_campaign_shows_its_latest_name(self, org: Any) -> None:
        ga = Connection.objects.get(organization=org, platform="google_ads")
        # "Zulu" sorts after "Alpha", but the campaign is called "Alpha" now
        add_row(ga, day=TODAY - timedelta(days=5), campaign_id="r", campaign_name="Zulu | old", spend="1")
        add_row(ga, day=TODAY - timedelta(days=1), campaign_id="r", campaign_name="Alpha | new", spend="1")
        [row] = [
            r
            for r in campaign_list(organization=org, period=MONTH, filters=filters()).rows
            if r.campaign_id == "r"
        ]
        assert (row.campaign_name, row.spend) == ("Alpha | new", Decimal("2"))
        assert [
            r.campaign_id
            for r in campaign_list(organization=org, period=MONTH, filters=filters(q="zulu")).rows
        ] == []
        ga_id = ga.pk
        detail = campaign_detail(organization=org, connection_id=ga_id, campaign_id="r", period=WEEK)
        assert detail is not None and detail.campaign is not None
        assert detail.campaign.campaign_name == "Alpha | new"

    def test_a_search_shows_the_whole_campaigns_figures(self, org: Any) -> None:
        ga = Connection.objects.get(organization=org, platform="google_ads")
        add_row(ga, day=TODAY - timedelta(days=2), campaign_id="c", campaign_name="Gamma", spend="7")
        add_row(ga, day=TODAY, campaign_id="777", campaign_name="Zeta", spend="1")
        [everything] = [
            r
            for r in campaign_list(organization=org, period=MONTH, filters=filters()).rows
            if r.campaign_id == "c"
        ]
        [found] = campaign_list(organization=org, period=MONTH, filters=filters(q="gamma b")).rows
        assert (found.campaign_id, found.campaign_name) == ("c", "Gamma brand")  # the name the table shows
        assert found.spend == everything.spend == Decimal("27")
        by_id = campaign_list(organization=org, period=MONTH, filters=filters(q="777")).rows
        assert [r.campaign_id for r in by_id] == ["777"]
        assert not campaign_list(
            organization=org, period=MONTH, filters=filters(q="77")
        ).rows  # ids match whole

    def test_missing_values_sort_last_in_both_directions_and_ties_keep_one_order(self, org: Any) -> None:
        # e has no impressions: no CTR, last both ways. a and the rest tie on conversions (none).
        for direction in ("asc", "desc"):
            page = campaign_list(organization=org, period=MONTH, filters=filters(sort="ctr", dir=direction))
            assert page.rows[-1].campaign_id == "e"
            by_conversions = campaign_list(
                organization=org, period=MONTH, filters=filters(sort="conversions", dir=direction)
            )
            # platform, then account, then campaign id, whatever the direction
            assert [r.campaign_id for r in by_conversions.rows] == ["c", "e", "a", "b"]

    def test_name_sort_ignores_case(self, org: Any) -> None:
        li = Connection.objects.get(organization=org, platform="linkedin_ads")
        add_row(li, day=TODAY, campaign_id="z", campaign_name="alpha (lowercase)", spend="1")
        page = campaign_list(organization=org, period=MONTH, filters=filters(sort="campaign", dir="asc"))
        assert [r.campaign_name for r in page.rows][:2] == ["alpha (lowercase)", "Alpha launch"]

    def test_export_has_the_pages_order_and_filters(self, org: Any) -> None:
        for params in ({"sort": "ctr", "dir": "asc"}, {"status": "ACTIVE"}, {"q": "a", "sort": "campaign"}):
            page = campaign_list(organization=org, period=MONTH, filters=filters(**params))
            exported = campaign_list_all(organization=org, period=MONTH, filters=filters(**params))
            assert [r.campaign_id for r in exported] == [r.campaign_id for r in page.rows]

    def test_other_organizations_are_left_out(self, org: Any) -> None:
        other = make_org("Contoso")
        add_row(make_connection(other), day=TODAY, campaign_id="theirs", spend="1000")
        page = campaign_list(organization=org, period=MONTH, filters=filters())
        assert "theirs" not in [r.campaign_id for r in page.rows]
        assert page.total == 4

    def test_detail(self, org: Any) -> None:
        li = Connection.objects.get(organization=org, platform="linkedin_ads")
        detail = campaign_detail(organization=org, connection_id=li.pk, campaign_id="b", period=WEEK)
        assert detail is not None and detail.campaign is not None
        assert detail.campaign.spend == Decimal("31")
        assert detail.campaign.status == "PAUSED"
        [series] = detail.series
        assert len(series.days) == 7
        # LinkedIn re-reads 30 days, but no re-read changed this campaign: its days are settled
        assert detail.restatements == [] and detail.changes == []
        assert not any(d.provisional for d in series.days)

    def test_detail_of_another_organization_is_none(self, org: Any) -> None:
        other = make_org("Contoso")
        theirs = make_connection(other)
        add_row(theirs, day=TODAY, campaign_id="x", spend="1")
        assert (
            campaign_detail(organization=org, connection_id=theirs.pk, campaign_id="x", period=WEEK) is None
        )


@pytest.mark.django_db
class TestEmail:
    def test_totals_and_rates(self) -> None:
        org = make_org("Northwind")
        mc = make_connection(org, platform="mailchimp", account_id="u1")
        add_email(
            mc,
            campaign_id="a",
            send_time=NOON,
            emails_sent=1000,
            bounces=100,
            unique_opens=450,
            unique_clicks=90,
            unsubscribes=9,
        )
        add_email(
            mc,
            campaign_id="b",
            send_time=NOON - timedelta(days=2),
            emails_sent=500,
            bounces=0,
            unique_opens=50,
            unique_clicks=10,
            unsubscribes=1,
        )
        add_email(mc, campaign_id="old", send_time=NOON - timedelta(days=10))

        report = email_report(organization=org, period=WEEK)

        assert [c.campaign_id for c in report.campaigns] == ["a", "b"]
        assert report.totals.campaigns == 2
        assert report.totals.emails_sent == 1500
        assert report.totals.delivered == 1400
        assert report.totals.open_rate_percent == Decimal(500) * 100 / Decimal(1400)
        assert report.campaigns[0].open_rate_percent == Decimal(50)  # 450 / 900 delivered
        assert report.campaigns[0].click_rate_percent == Decimal(10)
        assert report.campaigns[0].unsubscribe_rate_percent == Decimal(1)
        assert report.previous is not None and report.previous.campaigns == 1
        assert sum(bar.value or 0 for bar in report.chart.bars) == Decimal(1500)

    def test_platform_rate_when_counts_are_missing(self) -> None:
        org = make_org("Northwind")
        mc = make_connection(org, platform="mailchimp", account_id="u1")
        add_email(
            mc,
            campaign_id="a",
            send_time=NOON,
            emails_sent=None,
            unique_opens=None,
            unique_clicks=None,
            bounces=None,
            unsubscribes=None,
            open_rate=Decimal("0.25"),
            click_rate=Decimal("0.05"),
        )
        [row] = email_report(organization=org, period=WEEK).campaigns
        assert row.shown_open_rate_percent == Decimal("25.00")
        assert row.shown_click_rate_percent == Decimal("5.00")

    def test_empty_without_mailchimp(self) -> None:
        report = email_report(organization=make_org("Northwind"), period=WEEK)
        assert not report.has_data and not report.connected


@pytest.mark.django_db
class TestPipeline:
    def test_leads_and_deals_by_source_stage_and_campaign(self) -> None:
        org = make_org("Northwind")
        zoho = make_connection(org, platform="zoho_crm", account_id="org1")
        add_lead(zoho, lead_id="1", created=NOON, lead_source="LinkedIn", converted=True)
        add_lead(
            zoho, lead_id="2", created=NOON, lead_source="LinkedIn", campaign_name="Spring", converted=False
        )
        add_lead(zoho, lead_id="3", created=NOON, lead_source="Webinar", converted=False)
        add_lead(zoho, lead_id="old", created=NOON - timedelta(days=40), lead_source="Webinar")
        add_deal(
            zoho, deal_id="d1", created=NOON, stage="Qualification", amount=Decimal("100"), currency="USD"
        )
        add_deal(
            zoho, deal_id="d2", created=NOON, stage="Qualification", amount=Decimal("50"), currency="USD"
        )
        add_deal(zoho, deal_id="d3", created=NOON, stage="Closed Won", amount=Decimal("70"), currency="EUR")

        report = pipeline_report(organization=org, period=WEEK)

        assert (report.leads, report.converted) == (3, 1)
        assert [(g.label, g.leads, g.converted) for g in report.leads_by_source] == [
            ("LinkedIn", 2, 1),
            ("Webinar", 1, 0),
        ]
        assert ("Spring", 1, 0) in [(g.label, g.leads, g.converted) for g in report.leads_by_campaign]
        stages = {(g.label, g.currency): (g.deals, g.amount) for g in report.deals_by_stage}
        assert stages == {
            ("Qualification", "USD"): (2, Decimal("150")),
            ("Closed Won", "EUR"): (1, Decimal("70")),
        }
        assert {(d.currency, d.amount) for d in report.deals} == {
            ("USD", Decimal("150")),
            ("EUR", Decimal("70")),
        }

    def test_cost_per_lead_matching_rules(self) -> None:
        org = make_org("Northwind")
        li = make_connection(org, platform="linkedin_ads", account_id="11")
        ga = make_connection(org, platform="google_ads", account_id="22")
        zoho = make_connection(org, platform="zoho_crm", account_id="org1")
        add_row(li, day=TODAY, campaign_id="501", campaign_name="Spring Launch – IT Directors", spend="300")
        add_row(ga, day=TODAY, campaign_id="777", campaign_name="Brand Search", spend="100")
        add_row(li, day=TODAY, campaign_id="601", campaign_name="Shared Name", spend="10")
        add_row(ga, day=TODAY, campaign_id="602", campaign_name="Shared Name", spend="10")
        add_lead(zoho, lead_id="1", created=NOON, utm_campaign="501")  # by id
        add_lead(zoho, lead_id="2", created=NOON, utm_campaign="spring-launch-it-directors")  # by name
        add_lead(zoho, lead_id="3", created=NOON, campaign_name="brand search")  # CRM campaign name
        add_lead(
            zoho, lead_id="4", created=NOON, utm_campaign="shared_name", utm_source="linkedin"
        )  # source picks
        add_lead(zoho, lead_id="5", created=NOON, utm_campaign="Shared Name")  # ambiguous
        add_lead(zoho, lead_id="6", created=NOON, utm_campaign="Nothing like it")  # unmatched
        add_lead(zoho, lead_id="7", created=NOON)  # no campaign information

        report = pipeline_report(organization=org, period=WEEK)

        rows = {r.campaign_id: r for r in report.cost_per_lead}
        assert rows["501"].leads == 2
        assert rows["501"].cost_per_lead == Decimal("150")
        assert rows["501"].matched_by == ["UTM campaign = ad campaign ID", "UTM campaign = ad campaign name"]
        assert rows["777"].leads == 1 and rows["777"].matched_by == ["CRM campaign = ad campaign name"]
        assert rows["601"].leads == 1 and "602" not in rows
        assert report.match.matched_leads == 4
        assert report.match.ambiguous_leads == 1
        assert report.match.unmatched_leads == 1
        assert report.match.leads_without_campaign == 1

    def test_match_key_ignores_case_spaces_and_punctuation(self) -> None:
        assert match_key("  Spring_Launch -- IT   Directors ") == match_key("spring launch it directors")


@pytest.mark.django_db
class TestAccounts:
    def test_top_accounts_engagement_and_keywords(self) -> None:
        org = make_org("Northwind")
        db = make_connection(org, platform="demandbase", account_id="tenant")
        add_account(
            db, account_id="a", name="Acme", engagement_points_30d=Decimal("50"), journey_stage="Engaged"
        )
        add_account(
            db, account_id="b", name="Blue", engagement_points_30d=Decimal("90"), journey_stage="Engaged"
        )
        add_account(db, account_id="c", name="Cold", engagement_points_30d=None, journey_stage="Qualified")
        add_engagement(
            db,
            account_id="a",
            day=TODAY,
            engagement_minutes=Decimal("10"),
            page_views=3,
            intent_keywords="data warehouse, ETL",
            intent_strength="HIGH",
        )
        add_engagement(
            db,
            account_id="b",
            day=TODAY,
            engagement_minutes=Decimal("5"),
            intent_keywords="ETL",
            intent_strength="LOW",
        )
        add_engagement(
            db,
            account_id="b",
            day=TODAY - timedelta(days=1),
            engagement_minutes=Decimal("1"),
            intent_keywords="etl",
            intent_strength="MED",
        )

        report = accounts_report(organization=org, period=WEEK)

        assert [a.account_id for a in report.top_accounts] == ["b", "a", "c"]
        assert report.account_count == 3
        today = report.days[-1]
        assert (today.minutes, today.accounts, today.page_views) == (Decimal("15"), 2, 3)
        assert today.intent_accounts == 2
        assert report.intent_account_count == 2
        assert report.has_minutes and report.has_intent_days
        keywords = {k.keyword.lower(): k for k in report.keywords}
        assert keywords["etl"].accounts == 2
        assert keywords["etl"].strongest == "HIGH"
        assert keywords["data warehouse"].accounts == 1
        assert report.keywords[0].keyword.lower() == "etl"
        assert {(s.stage, s.accounts) for s in report.stages} == {("Engaged", 2), ("Qualified", 1)}


@pytest.mark.django_db
class TestSyncHealth:
    @pytest.fixture(autouse=True)
    def no_installed_schedule(self) -> None:
        PeriodicTask.objects.all().delete()

    def test_next_run_comes_from_the_beat_crontabs(self) -> None:
        org = make_org("Northwind")
        li = make_connection(org, platform="linkedin_ads")
        paused = make_connection(org, platform="google_ads", account_id="2", status=Connection.Status.PAUSED)
        reauth = make_connection(
            org, platform="mailchimp", account_id="3", status=Connection.Status.NEEDS_REAUTH
        )
        every_four = CrontabSchedule.objects.create(minute="0", hour="0,4,8,12,16,20", timezone="UTC")
        every_six = CrontabSchedule.objects.create(minute="0", hour="0,6,12,18", timezone="UTC")
        PeriodicTask.objects.create(
            name="li",
            task="dashboard.sync_platform_data",
            crontab=every_four,
            kwargs=json.dumps({"platform": "linkedin_ads"}),
        )
        PeriodicTask.objects.create(name="all", task="dashboard.sync_all_platform_data", crontab=every_six)
        now = datetime(2025, 3, 31, 13, 5, tzinfo=UTC)

        runs = next_sync_runs(connections=[li, paused, reauth], organization=org, now=now)

        assert runs[li.pk] == (datetime(2025, 3, 31, 16, 0, tzinfo=UTC), "")
        assert runs[paused.pk] == (None, "Paused")
        assert runs[reauth.pk] == (None, "After it is reconnected")

    def test_disabled_or_missing_schedules(self) -> None:
        org = make_org("Northwind")
        li = make_connection(org, platform="linkedin_ads")
        crontab = CrontabSchedule.objects.create(minute="0", hour="*", timezone="UTC")
        PeriodicTask.objects.create(
            name="all", task="dashboard.sync_all_platform_data", crontab=crontab, enabled=False
        )
        assert next_sync_runs(connections=[li], organization=org)[li.pk] == (None, "Not scheduled")

    def test_history_and_plain_words(self) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        other = make_connection(make_org("Contoso"))
        make_run(conn, loaded=10)
        failed = make_run(conn, status=SyncRun.Status.FAILED, step=SyncRun.Step.EXTRACT)
        SyncRun.objects.filter(pk=failed.pk).update(error_class="RateLimited")
        make_run(other, loaded=5)

        health = sync_health_get(organization=org)

        assert [r.connection.pk for r in health.runs] == [conn.pk, conn.pk]
        assert "slow down" in health.runs[0].problem
        assert health.runs[1].rows_loaded == 10
        [item] = health.connections
        assert item.last_run_rows is None  # the latest run failed

    def test_history_filtered_to_one_connection_of_the_organization(self) -> None:
        org = make_org("Northwind")
        first = make_connection(org, account_id="1")
        second = make_connection(org, account_id="2")
        theirs = make_connection(make_org("Contoso"))
        make_run(first)
        make_run(second)
        make_run(theirs)
        assert [r.connection.pk for r in sync_health_get(organization=org, connection_id=first.pk).runs] == [
            first.pk
        ]
        # Someone else's connection id does not filter (and shows nothing of theirs).
        assert {r.connection.pk for r in sync_health_get(organization=org, connection_id=theirs.pk).runs} == {
            first.pk,
            second.pk,
        }

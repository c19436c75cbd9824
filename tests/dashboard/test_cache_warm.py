"""Warming the cache after a load: the default views are then served without reading the warehouse."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from freezegun import freeze_time

from dashboard.cache_warm import dashboard_cache_warm, dashboard_in_use, dashboard_viewed
from dashboard.selectors.paging import ROWS_PER_PAGE
from dashboard.services import dashboard_cache_warm_schedule
from etl.data_version import data_version_bump
from tenancy.models import Organization
from tests.dashboard import (
    PASSWORD,
    TODAY,
    add_account,
    add_deal,
    add_email,
    add_engagement,
    add_lead,
    add_row,
    make_connection,
    make_org,
    make_user,
)

# The SQL here must also run on the embedded default (SQLite): `make test` runs it there too.
pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

NOON = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
WARMED_PAGES = ["overview", "campaigns", "email", "pipeline", "accounts"]


@pytest.fixture(autouse=True)
def frozen_today() -> Iterator[date]:
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        yield TODAY


@pytest.fixture
def northwind() -> Organization:
    """An organization with rows in every warehouse table, some of them older than a week."""
    org = make_org("Northwind")
    li = make_connection(org, platform="linkedin_ads", account_id="11", name="LinkedIn main")
    mc = make_connection(org, platform="mailchimp", account_id="u1", name="Newsletter")
    zoho = make_connection(org, platform="zoho_crm", account_id="org1", name="CRM")
    abm = make_connection(org, platform="demandbase", account_id="tenant", name="ABM")
    for days_ago in (0, 10):
        add_row(li, day=TODAY - timedelta(days=days_ago), campaign_id="501", campaign_name="Spring Launch")
        add_email(mc, campaign_id=f"e{days_ago}", send_time=NOON - timedelta(days=days_ago))
        add_lead(zoho, lead_id=f"l{days_ago}", created=NOON - timedelta(days=days_ago), utm_campaign="501")
        add_deal(zoho, deal_id=f"d{days_ago}", created=NOON - timedelta(days=days_ago), stage="Proposal")
        add_engagement(abm, account_id="a1", day=TODAY - timedelta(days=days_ago), intent_keywords="etl")
    add_account(abm, account_id="a1")
    return org


def member_of(organization: Organization) -> Client:
    make_user("ann", organization=organization)
    client = Client()
    assert client.login(username="ann", password=PASSWORD)
    return client


def warehouse_queries(client: Client, url: str) -> list[str]:
    """The SQL statements of one request that read a warehouse table."""
    with CaptureQueriesContext(db_connection) as captured:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in captured.captured_queries if "warehouse_" in q["sql"]]


def main_content(html: str) -> str:
    """The page's own content, without the per-request form tokens of the layout."""
    return html.split('<main class="page">', 1)[1].split("</main>", 1)[0]


class TestWarmUp:
    def test_a_cold_overview_reads_the_warehouse(self, northwind: Organization) -> None:
        client = member_of(northwind)
        assert warehouse_queries(client, reverse("dashboard:overview"))

    @pytest.mark.parametrize("name", WARMED_PAGES)
    @pytest.mark.parametrize("days", ["7", "14", "30"])
    def test_warmed_default_views_read_no_warehouse_table(
        self, northwind: Organization, name: str, days: str
    ) -> None:
        client = member_of(northwind)
        dashboard_cache_warm(organization_id=northwind.pk)
        assert warehouse_queries(client, f"{reverse(f'dashboard:{name}')}?days={days}") == []

    def test_the_default_period_is_warmed_too(self, northwind: Organization) -> None:
        client = member_of(northwind)
        dashboard_cache_warm(organization_id=northwind.pk)
        assert warehouse_queries(client, reverse("dashboard:overview")) == []

    def test_warmed_figures_are_the_pages_own(self, northwind: Organization) -> None:
        client = member_of(northwind)
        url = reverse("dashboard:pipeline") + "?days=14"
        cold = main_content(client.get(url).content.decode())
        data_version_bump(northwind.pk)
        dashboard_cache_warm(organization_id=northwind.pk)
        assert main_content(client.get(url).content.decode()) == cold

    def test_a_second_warm_up_of_the_same_data_reads_nothing(self, northwind: Organization) -> None:
        dashboard_cache_warm(organization_id=northwind.pk)
        with CaptureQueriesContext(db_connection) as captured:
            dashboard_cache_warm(organization_id=northwind.pk)
        assert not [q for q in captured.captured_queries if "warehouse_" in q["sql"]]

    def test_new_data_is_warmed_again(self, northwind: Organization) -> None:
        client = member_of(northwind)
        dashboard_cache_warm(organization_id=northwind.pk)
        data_version_bump(northwind.pk)
        assert warehouse_queries(client, reverse("dashboard:overview")) != []
        data_version_bump(northwind.pk)
        dashboard_cache_warm(organization_id=northwind.pk)
        assert warehouse_queries(client, reverse("dashboard:overview")) == []

    def test_an_unknown_organization_is_ignored(self) -> None:
        dashboard_cache_warm(organization_id=987654)

    def test_sync_health_never_reads_the_warehouse(self, northwind: Organization) -> None:
        """The live page is never cached, so it must stay cheap however large the warehouse is."""
        client = member_of(northwind)
        assert warehouse_queries(client, reverse("dashboard:sync_health")) == []


def queued_warm_ups() -> list[dict[str, object]]:
    """The warm-up tasks waiting on the (in-process) broker's maintenance queue, taken off it."""
    from sales_dashboard.celery import app

    found = []
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue("maintenance")
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            message.ack()
            if message.headers.get("task") == "dashboard.cache_warm":
                found.append(message.payload[1])  # (args, kwargs, embed)
        queue.close()
    return found


class TestOnlyDashboardsInUseAreWarmed:
    """A sync warms an organization's views only when a member opened its dashboards lately."""

    @pytest.fixture
    def with_workers(self, settings: Any) -> None:
        settings.CELERY_TASK_ALWAYS_EAGER = False  # sent to the in-process broker, not run
        queued_warm_ups()

    def test_opening_a_page_notes_the_organization_as_in_use(self, northwind: Organization) -> None:
        other = make_org("Contoso")
        assert not dashboard_in_use(organization_id=northwind.pk)
        client = member_of(northwind)
        assert client.get(reverse("dashboard:email")).status_code == 200
        assert dashboard_in_use(organization_id=northwind.pk)
        assert not dashboard_in_use(organization_id=other.pk)

    def test_the_note_lasts_the_configured_days(self, northwind: Organization, settings: Any) -> None:
        settings.DASHBOARD_CACHE_WARM_VIEWED_DAYS = 14
        with freeze_time(NOON - timedelta(days=40)) as clock:
            dashboard_viewed(organization_id=northwind.pk)
            clock.tick(timedelta(days=10))
            dashboard_viewed(organization_id=northwind.pk)  # seen again: the note runs 14 days from here
            clock.tick(timedelta(days=13))
            assert dashboard_in_use(organization_id=northwind.pk)
            clock.tick(timedelta(days=2))
            assert not dashboard_in_use(organization_id=northwind.pk)

    def test_a_sync_of_an_organization_nobody_looks_at_queues_no_warm_up(
        self, northwind: Organization, with_workers: None
    ) -> None:
        dashboard_cache_warm_schedule(organization_id=northwind.pk, sync_run_id=1)
        assert queued_warm_ups() == []

    def test_a_sync_of_an_organization_in_use_queues_its_warm_up(
        self, northwind: Organization, with_workers: None
    ) -> None:
        member_of(northwind).get(reverse("dashboard:overview"))
        dashboard_cache_warm_schedule(organization_id=northwind.pk, sync_run_id=1)
        assert queued_warm_ups() == [{"organization_id": northwind.pk}]

    def test_an_unreachable_cache_never_fails_the_sync(self, northwind: Organization, with_workers: None) -> None:
        unreachable = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
        with override_settings(CACHES={"default": unreachable}):
            dashboard_cache_warm_schedule(organization_id=northwind.pk, sync_run_id=1)  # does not raise
        assert queued_warm_ups() == []

    def test_with_the_setting_at_zero_every_organization_is_warmed(
        self, northwind: Organization, with_workers: None, settings: Any
    ) -> None:
        settings.DASHBOARD_CACHE_WARM_VIEWED_DAYS = 0
        dashboard_cache_warm_schedule(organization_id=northwind.pk, sync_run_id=1)
        assert queued_warm_ups() == [{"organization_id": northwind.pk}]


class TestLongTablesArePaged:
    """Email campaigns and cost per lead are shown a page at a time; the CSV keeps every line."""

    @pytest.fixture
    def busy(self) -> Organization:
        org = make_org("Busy")
        li = make_connection(org, platform="linkedin_ads", account_id="11")
        mc = make_connection(org, platform="mailchimp", account_id="u1")
        zoho = make_connection(org, platform="zoho_crm", account_id="org1")
        for n in range(ROWS_PER_PAGE + 5):
            add_row(li, day=TODAY, campaign_id=f"c{n:03d}", campaign_name=f"Campaign {n:03d}")
            add_lead(zoho, lead_id=f"l{n}", created=NOON, utm_campaign=f"c{n:03d}")
            add_email(mc, campaign_id=f"e{n:03d}", send_time=NOON, campaign_title=f"Letter {n:03d}")
        return org

    @pytest.mark.parametrize(
        ("name", "table_id", "export"),
        [("email", "email-table", "email_campaigns"), ("pipeline", "cpl-table", "cost_per_lead")],
    )
    def test_pages_and_csv(self, busy: Organization, name: str, table_id: str, export: str) -> None:
        client = member_of(busy)
        url = reverse(f"dashboard:{name}")

        def rows_shown(html: str) -> int:
            table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
            return table.split("<tbody>", 1)[1].count("<tr>")

        first = client.get(url).content.decode()
        assert rows_shown(first) == ROWS_PER_PAGE
        assert "Page 1 of 2" in first and f"of {ROWS_PER_PAGE + 5} campaigns" in first
        second = client.get(url, {"page": "2"}).content.decode()
        assert rows_shown(second) == 5
        assert rows_shown(client.get(url, {"page": "nine"}).content.decode()) == ROWS_PER_PAGE
        exported = client.get(reverse("dashboard:export_csv", args=[export]))
        assert len(list(csv.DictReader(io.StringIO(exported.content.decode())))) == ROWS_PER_PAGE + 5

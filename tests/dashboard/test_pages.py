"""The pages behind the navigation: login, organization scope, empty states, data, CSV exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from connectors.models import Connection
from dashboard.exports import EXPORTS
from tenancy.models import Membership, Organization
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
    make_run,
    make_user,
)

# The SQL here must also run on the embedded default (SQLite): `make test` runs it there too.
pytestmark = pytest.mark.embedded

NOON = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
PAGES = ["overview", "campaigns", "email", "pipeline", "funnel", "accounts", "sync_health"]


@pytest.fixture(autouse=True)
def frozen_today() -> Iterator[date]:
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        yield TODAY


def logged_in(username: str, organization: Organization | None = None, *, admin: bool = False) -> Client:
    user = make_user(username, organization=organization)
    if admin and organization is not None:
        Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def read_csv(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def northwind() -> Organization:
    """An organization with a row in every warehouse table."""
    org = make_org("Northwind")
    li = make_connection(org, platform="linkedin_ads", account_id="11", name="LinkedIn main")
    mc = make_connection(org, platform="mailchimp", account_id="u1", name="Newsletter")
    zoho = make_connection(org, platform="zoho_crm", account_id="org1", name="CRM")
    db = make_connection(org, platform="demandbase", account_id="tenant", name="ABM")
    add_row(
        li,
        day=TODAY,
        campaign_id="501",
        campaign_name="Spring Launch",
        spend="300",
        impressions=10000,
        clicks=100,
        conversions="3",
        conversion_value="900",
    )
    add_row(
        li,
        day=TODAY - timedelta(days=8),
        campaign_id="501",
        campaign_name="Spring Launch",
        spend="100",
        impressions=5000,
        clicks=50,
        conversions="1",
        conversion_value="100",
    )
    add_email(mc, campaign_id="e1", send_time=NOON, campaign_title="March newsletter")
    add_lead(zoho, lead_id="l1", created=NOON, lead_source="LinkedIn", utm_campaign="spring-launch")
    add_deal(zoho, deal_id="d1", created=NOON, stage="Negotiation", amount=Decimal("5000"), currency="EUR")
    add_account(db, account_id="a1", name="Acme Corp", engagement_points_30d=Decimal("80"))
    add_engagement(
        db, account_id="a1", day=TODAY, engagement_minutes=Decimal("12"), intent_keywords="data lake"
    )
    make_run(li, loaded=2)
    return org


@pytest.fixture
def contoso() -> Organization:
    org = make_org("Contoso")
    li = make_connection(org, platform="linkedin_ads", account_id="99", name="Contoso LinkedIn")
    mc = make_connection(org, platform="mailchimp", account_id="u9", name="Contoso mail")
    zoho = make_connection(org, platform="zoho_crm", account_id="org9", name="Contoso CRM")
    db = make_connection(org, platform="demandbase", account_id="t9", name="Contoso ABM")
    add_row(li, day=TODAY, campaign_id="9", campaign_name="Secret Contoso campaign", spend="777777")
    add_email(mc, campaign_id="e9", send_time=NOON, campaign_title="Secret Contoso email")
    add_lead(zoho, lead_id="l9", created=NOON, lead_source="Secret Contoso source")
    add_deal(
        zoho, deal_id="d9", created=NOON, stage="Secret Contoso stage", amount=Decimal("1"), currency="USD"
    )
    add_account(db, account_id="a9", name="Secret Contoso account", engagement_points_30d=Decimal("99"))
    add_engagement(
        db, account_id="a9", day=TODAY, engagement_minutes=Decimal("1"), intent_keywords="secret contoso"
    )
    make_run(li, error_message="Secret Contoso failure")
    return org


@pytest.mark.django_db
class TestAccess:
    @pytest.mark.parametrize("name", PAGES)
    def test_login_required(self, name: str, client: Client) -> None:
        url = reverse(f"dashboard:{name}")
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    @pytest.mark.parametrize("name", PAGES)
    def test_without_organization(self, name: str) -> None:
        response = logged_in("loner").get(reverse(f"dashboard:{name}"))
        assert response.status_code == 200
        assert b"not part of an organization" in response.content

    def test_export_requires_login(self, client: Client) -> None:
        response = client.get(reverse("dashboard:export_csv", args=["campaigns"]))
        assert response.status_code == 302

    def test_unknown_export_is_not_found(self, northwind: Organization) -> None:
        response = logged_in("ann", northwind).get(reverse("dashboard:export_csv", args=["nope"]))
        assert response.status_code == 404


@pytest.mark.django_db
class TestEmptyStates:
    @pytest.mark.parametrize(
        ("name", "text"),
        [
            ("overview", "No ad account is connected"),
            ("campaigns", "No campaign matches"),
            ("email", "No Mailchimp account is connected"),
            ("pipeline", "No CRM is connected"),
            ("accounts", "No Demandbase tenant is connected"),
            ("sync_health", "No accounts are connected yet"),
        ],
    )
    def test_new_organization(self, name: str, text: str) -> None:
        response = logged_in("ann", make_org("Fresh")).get(reverse(f"dashboard:{name}"))
        assert response.status_code == 200
        assert text in response.content.decode()

    def test_admins_are_offered_to_connect(self) -> None:
        html = (
            logged_in("ann", make_org("Fresh"), admin=True).get(reverse("dashboard:email")).content.decode()
        )
        assert reverse("dashboard:connect_platform", args=["mailchimp"]) in html

    def test_connected_but_not_synced_yet(self) -> None:
        org = make_org("Fresh")
        make_connection(org, platform="mailchimp", account_id="u1")
        html = logged_in("ann", org).get(reverse("dashboard:email")).content.decode()
        assert "first sync has not finished" in html


@pytest.mark.django_db
class TestPagesShowTheirData:
    def test_overview(self, northwind: Organization, contoso: Organization) -> None:
        response = logged_in("ann", northwind).get(reverse("dashboard:overview"), {"days": "7"})
        html = response.content.decode()
        assert "300.00" in html and "Spring Launch" in html
        assert "ROAS" in html and "3.00×" in html
        assert "by platform" in html.lower()
        assert 'data-kpi="spend"' in html
        # The previous 7 days had 100 spend: +200%.
        assert "▲ 200.0%" in html
        # LinkedIn re-reads 30 days, but no re-read changed anything: every day is settled
        assert "Settling" not in html and 'data-settling="1"' not in html
        assert "Secret Contoso" not in html

    def test_custom_period(self, northwind: Organization) -> None:
        response = logged_in("ann", northwind).get(
            reverse("dashboard:overview"),
            {
                "start": (TODAY - timedelta(days=9)).isoformat(),
                "end": (TODAY - timedelta(days=7)).isoformat(),
            },
        )
        assert response.context["overview"].totals[0].spend == Decimal("100")

    def test_campaigns_and_detail(self, northwind: Organization, contoso: Organization) -> None:
        client = logged_in("ann", northwind)
        html = client.get(
            reverse("dashboard:campaigns"), {"platform": "linkedin_ads", "q": "spring"}
        ).content.decode()
        assert "Spring Launch" in html and "Secret Contoso" not in html
        li = Connection.objects.get(organization=northwind, platform="linkedin_ads")
        detail = client.get(reverse("dashboard:campaign", args=[li.pk, "501"]))
        assert detail.status_code == 200
        assert "Spend per day" in detail.content.decode()
        theirs = Connection.objects.get(organization=contoso, platform="linkedin_ads")
        assert client.get(reverse("dashboard:campaign", args=[theirs.pk, "9"])).status_code == 404

    def test_email(self, northwind: Organization, contoso: Organization) -> None:
        html = logged_in("ann", northwind).get(reverse("dashboard:email")).content.decode()
        assert "March newsletter" in html and "25.0%" in html
        assert "Secret Contoso" not in html

    def test_pipeline(self, northwind: Organization, contoso: Organization) -> None:
        html = logged_in("ann", northwind).get(reverse("dashboard:pipeline")).content.decode()
        assert "How leads were matched" in html
        assert "Negotiation" in html and "5,000.00 EUR" in html
        assert "Spring Launch" in html and "400.00 USD" in html  # 30 days of the matched campaign, one lead
        assert "Secret Contoso" not in html

    def test_accounts(self, northwind: Organization, contoso: Organization) -> None:
        html = logged_in("ann", northwind).get(reverse("dashboard:accounts")).content.decode()
        assert "Acme Corp" in html and "data lake" in html
        assert "Secret Contoso" not in html

    def test_sync_health(self, northwind: Organization, contoso: Organization) -> None:
        html = logged_in("ann", northwind).get(reverse("dashboard:sync_health")).content.decode()
        assert "LinkedIn main" in html and "Next scheduled run" in html and "Run history" in html
        assert "Sync now" in html
        assert "Secret Contoso" not in html

    def test_reauth_banner_with_one_click_reconnect(self, northwind: Organization) -> None:
        conn = Connection.objects.get(organization=northwind, platform="linkedin_ads")
        Connection.objects.filter(pk=conn.pk).update(
            status=Connection.Status.NEEDS_REAUTH, status_message="LinkedIn refused to renew access."
        )
        admin_html = logged_in("boss", northwind, admin=True).get(reverse("dashboard:email")).content.decode()
        assert "needs you to sign in again" in admin_html
        assert reverse("dashboard:connection_reconnect", args=[conn.pk]) in admin_html
        member_html = logged_in("ann", northwind).get(reverse("dashboard:email")).content.decode()
        assert "Ask an administrator" in member_html
        assert reverse("dashboard:connection_reconnect", args=[conn.pk]) not in member_html

    def test_navigation_keeps_the_period(self, northwind: Organization) -> None:
        html = logged_in("ann", northwind).get(reverse("dashboard:email"), {"days": "14"}).content.decode()
        assert f'href="{reverse("dashboard:pipeline")}?days=14"' in html

    def test_no_asset_comes_from_elsewhere(self, northwind: Organization) -> None:
        client = logged_in("ann", northwind)
        for name in PAGES:
            html = client.get(reverse(f"dashboard:{name}")).content.decode()
            assert 'src="http' not in html and 'href="http' not in html and "<script src" not in html


@pytest.mark.django_db
class TestCsv:
    @pytest.mark.parametrize("table", sorted(set(EXPORTS) - {"campaign_daily"}))
    def test_every_table_exports_without_other_organizations(
        self, table: str, northwind: Organization, contoso: Organization
    ) -> None:
        response = logged_in("ann", northwind).get(reverse("dashboard:export_csv", args=[table]))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        assert "Secret Contoso" not in response.content.decode()
        assert response.content.decode().splitlines()[0]  # a header row

    def test_campaign_daily(self, northwind: Organization, contoso: Organization) -> None:
        client = logged_in("ann", northwind)
        li = Connection.objects.get(organization=northwind, platform="linkedin_ads")
        url = reverse("dashboard:export_csv", args=["campaign_daily"])
        rows = read_csv(client.get(url, {"connection": str(li.pk), "campaign": "501", "days": "7"}))
        assert len(rows) == 7
        assert rows[-1]["spend"] == "300.00" and rows[-1]["currency"] == "USD"
        theirs = Connection.objects.get(organization=contoso, platform="linkedin_ads")
        assert client.get(url, {"connection": str(theirs.pk), "campaign": "9"}).status_code == 404

    def test_campaigns_follow_the_filters(self, northwind: Organization) -> None:
        client = logged_in("ann", northwind)
        url = reverse("dashboard:export_csv", args=["campaigns"])
        assert [r["campaign_name"] for r in read_csv(client.get(url))] == ["Spring Launch"]
        assert read_csv(client.get(url, {"platform": "google_ads"})) == []

    def test_currencies_are_separate_columns_never_summed(self) -> None:
        org = make_org("Northwind")
        add_row(make_connection(org, account_id="1"), day=TODAY, spend="10")
        add_row(make_connection(org, account_id="2"), day=TODAY, campaign_id="e", currency="EUR", spend="5")
        rows = read_csv(
            logged_in("ann", org).get(reverse("dashboard:export_csv", args=["overview_platforms"]))
        )
        assert {(r["currency"], r["spend"]) for r in rows} == {("USD", "10.00"), ("EUR", "5.00")}

    def test_spreadsheet_formulas_are_neutralised(self) -> None:
        org = make_org("Northwind")
        add_row(make_connection(org), day=TODAY, campaign_name='=HYPERLINK("http://x")', spend="1")
        rows = read_csv(logged_in("ann", org).get(reverse("dashboard:export_csv", args=["campaigns"])))
        assert rows[0]["campaign_name"].startswith("'=")

    def test_filename_names_the_period(self, northwind: Organization) -> None:
        response = logged_in("ann", northwind).get(
            reverse("dashboard:export_csv", args=["email_campaigns"]), {"days": "7"}
        )
        assert (
            f"email_campaigns_{(TODAY - timedelta(days=6)).isoformat()}_{TODAY.isoformat()}.csv"
            in response["Content-Disposition"]
        )


@pytest.mark.django_db
class TestSyncNowRedirect:
    def test_returns_to_the_page_it_was_pressed_on(self, northwind: Organization) -> None:
        conn = Connection.objects.get(organization=northwind, platform="linkedin_ads")
        client = logged_in("ann", northwind)
        response = client.post(
            reverse("dashboard:connection_sync_now", args=[conn.pk]),
            {"next": reverse("dashboard:sync_health")},
        )
        assert response["Location"] == reverse("dashboard:sync_health")

    def test_never_redirects_elsewhere(self, northwind: Organization) -> None:
        conn = Connection.objects.get(organization=northwind, platform="linkedin_ads")
        response = logged_in("ann", northwind).post(
            reverse("dashboard:connection_sync_now", args=[conn.pk]), {"next": "https://evil.example/"}
        )
        assert response["Location"] == reverse("dashboard:overview")


@pytest.mark.django_db
class TestQueryCounts:
    """A page's number of queries does not grow with the data: everything is aggregated in SQL."""

    def count_queries(self, client: Client, url: str) -> int:
        from django.db import connection as db_connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(db_connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries.captured_queries)

    @pytest.mark.parametrize("name", PAGES)
    def test_more_data_same_queries(self, name: str, northwind: Organization) -> None:
        from django.core.cache import cache

        client = logged_in("ann", northwind)
        url = reverse(f"dashboard:{name}")
        before = self.count_queries(client, url)
        li = Connection.objects.get(organization=northwind, platform="linkedin_ads")
        zoho = Connection.objects.get(organization=northwind, platform="zoho_crm")
        db = Connection.objects.get(organization=northwind, platform="demandbase")
        mc = Connection.objects.get(organization=northwind, platform="mailchimp")
        for n in range(20):
            add_row(li, day=TODAY - timedelta(days=n % 7), campaign_id=f"more-{n}", spend="1")
            add_email(mc, campaign_id=f"more-{n}", send_time=NOON - timedelta(days=n % 7))
            add_lead(zoho, lead_id=f"more-{n}", created=NOON, utm_campaign=f"more-{n}")
            add_deal(
                zoho, deal_id=f"more-{n}", created=NOON, stage=f"Stage {n}", amount=Decimal(n), currency="USD"
            )
            add_account(db, account_id=f"more-{n}", engagement_points_30d=Decimal(n))
            add_engagement(db, account_id=f"more-{n}", day=TODAY, intent_keywords=f"kw{n}")
            make_run(li, loaded=n)
        cache.clear()
        assert self.count_queries(client, url) == before

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from unittest.mock import MagicMock, patch

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from connectors.models import Connection
from etl.models import SyncRun
from tenancy.models import Organization
from tests.dashboard import PASSWORD, TODAY, add_row, make_connection, make_org, make_run, make_user

OVERVIEW = reverse("dashboard:overview")


def sync_now_url(connection: Connection) -> str:
    return reverse("dashboard:connection_sync_now", args=[connection.pk])


def logged_in(username: str, *, organization: Organization | None = None, csrf: bool = False) -> Client:
    make_user(username, organization=organization)
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def frozen_today() -> Iterator[date]:
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        yield TODAY


@pytest.mark.django_db
class TestOverview:
    def test_login_required(self, client: Client) -> None:
        response = client.get(OVERVIEW)
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={OVERVIEW}"

    def test_login_page_renders(self, client: Client) -> None:
        response = client.get(reverse("login"))
        assert response.status_code == 200
        assert b'name="password"' in response.content

    def test_user_without_organization_sees_a_friendly_page(self) -> None:
        client = logged_in("loner")
        response = client.get(OVERVIEW)
        assert response.status_code == 200
        assert "dashboard/no_organization.html" in [t.name for t in response.templates]
        assert b"not part of an organization" in response.content

    def test_empty_state(self, frozen_today: object) -> None:
        org = make_org("Northwind")
        make_connection(org, name="LinkedIn main")
        response = logged_in("ann", organization=org).get(OVERVIEW)
        assert response.status_code == 200
        assert b"No data for this period yet" in response.content
        assert b"LinkedIn main" in response.content  # connections are listed even without data

    def test_totals_per_currency_are_never_mixed(self, frozen_today: object) -> None:
        org = make_org("Northwind")
        usd = make_connection(org, platform="linkedin_ads", account_id="1")
        eur = make_connection(org, platform="google_ads", account_id="2")
        add_row(usd, day=TODAY, campaign_id="a", spend="1000.25", impressions=123456, clicks=789)
        add_row(usd, day=TODAY - timedelta(days=3), campaign_id="a", spend="234.25", impressions=1, clicks=1)
        add_row(eur, day=TODAY, campaign_id="b", currency="EUR", spend="99.00", impressions=10, clicks=1)

        response = logged_in("ann", organization=org).get(OVERVIEW)

        assert response.status_code == 200
        html = response.content.decode()
        assert "Northwind" in html
        assert "1,234.50" in html  # USD total, with thousands separator and 2 decimals
        assert "99.00" in html  # EUR total
        assert "123,457" in html  # impressions with separators
        assert "1,333.50" not in html  # USD + EUR would be this: never shown
        totals = response.context["overview"].totals
        assert {t.currency: t.spend for t in totals} == {"USD": Decimal("1234.5"), "EUR": Decimal("99")}

    def test_other_organizations_rows_never_appear(self, frozen_today: object) -> None:
        org = make_org("Northwind")
        other = make_org("Contoso")
        add_row(make_connection(org), day=TODAY, campaign_name="Our campaign", spend="10")
        add_row(
            make_connection(other, name="Their account"),
            day=TODAY,
            campaign_id="x",
            campaign_name="Their secret campaign",
            spend="777777",
        )

        html = logged_in("ann", organization=org).get(OVERVIEW).content.decode()

        assert "Our campaign" in html
        assert "Their secret campaign" not in html
        assert "Their account" not in html
        assert "777,777" not in html

    def test_days_parameter(self, frozen_today: object) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        add_row(conn, day=TODAY, campaign_name="Recent", spend="1")
        add_row(conn, day=TODAY - timedelta(days=10), campaign_id="old", campaign_name="Older", spend="1")
        client = logged_in("ann", organization=org)

        week = client.get(OVERVIEW, {"days": "7"})
        assert week.context["overview"].date_range.days == 7
        assert "Older" not in week.content.decode()
        month = client.get(OVERVIEW, {"days": "bogus"})
        assert month.context["overview"].date_range.days == 30
        assert "Older" in month.content.decode()

    def test_chart_campaigns_and_connections_are_rendered(self, frozen_today: object) -> None:
        org = make_org("Northwind")
        conn = make_connection(
            org,
            name="LinkedIn main",
            status=Connection.Status.FAILING,
            status_message="LinkedIn refused the request three times in a row.",
            last_success_at=timezone.now() - timedelta(days=2),
        )
        make_run(conn, loaded=1234, finished_at=timezone.now())
        add_row(conn, day=TODAY, campaign_name="Spring launch", spend="42", impressions=1000, clicks=10)

        html = logged_in("ann", organization=org).get(OVERVIEW).content.decode()

        assert "<svg" in html and 'class="chart__bar"' in html
        assert "Spring launch" in html
        assert "LinkedIn Ads" in html
        assert "badge--failing" in html
        assert "LinkedIn refused the request three times in a row." in html
        assert "1,234 rows loaded" in html
        assert sync_now_url(conn) in html

    def test_page_uses_only_local_assets_and_a_post_logout(self, frozen_today: object) -> None:
        org = make_org("Northwind")
        add_row(make_connection(org), day=TODAY, spend="1")
        html = logged_in("ann", organization=org).get(OVERVIEW).content.decode()
        assert 'src="http' not in html
        assert 'href="http' not in html
        assert "/static/dashboard/app.css" in html
        assert f'method="post" action="{reverse("logout")}"' in html
        stylesheet = Client().get("/static/dashboard/app.css")
        assert stylesheet.status_code == 200
        assert b"@import" not in stylesheet.getvalue()


@pytest.mark.django_db
class TestConnectionSyncNow:
    def test_login_required(self, client: Client) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        with patch("dashboard.views.sync_start") as sync_start:
            response = client.post(sync_now_url(conn))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        sync_start.assert_not_called()

    def test_get_is_not_allowed(self) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        client = logged_in("ann", organization=org)
        with patch("dashboard.views.sync_start") as sync_start:
            response = client.get(sync_now_url(conn))
        assert response.status_code == 405
        sync_start.assert_not_called()

    def test_other_organizations_connection_is_not_found(self) -> None:
        org = make_org("Northwind")
        theirs = make_connection(make_org("Contoso"))
        client = logged_in("ann", organization=org)
        with patch("dashboard.views.sync_start") as sync_start:
            response = client.post(sync_now_url(theirs))
        assert response.status_code == 404
        sync_start.assert_not_called()

    def test_user_without_organization_gets_not_found(self) -> None:
        conn = make_connection(make_org("Northwind"))
        with patch("dashboard.views.sync_start") as sync_start:
            response = logged_in("loner").post(sync_now_url(conn))
        assert response.status_code == 404
        sync_start.assert_not_called()

    def test_csrf_token_is_required(self) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        client = logged_in("ann", organization=org, csrf=True)
        with patch("dashboard.views.sync_start") as sync_start:
            response = client.post(sync_now_url(conn))
        assert response.status_code == 403
        sync_start.assert_not_called()

    def test_starts_a_sync_and_redirects(self, frozen_today: object) -> None:
        org = make_org("Northwind")
        conn = make_connection(org, name="LinkedIn main")
        client = logged_in("ann", organization=org)
        with patch("dashboard.views.sync_start", return_value=MagicMock(spec=SyncRun)) as sync_start:
            response = client.post(sync_now_url(conn))
        sync_start.assert_called_once_with(connection_id=conn.pk, trigger="manual")
        assert response.status_code == 302
        assert response["Location"] == OVERVIEW
        assert "Sync started" in client.get(OVERVIEW).content.decode()

    def test_keeps_the_selected_period(self) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        client = logged_in("ann", organization=org)
        with patch("dashboard.views.sync_start", return_value=MagicMock(spec=SyncRun)):
            response = client.post(sync_now_url(conn), {"days": "7"})
        assert response["Location"] == f"{OVERVIEW}?days=7"

    def test_reports_a_sync_already_running(self, frozen_today: object) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        client = logged_in("ann", organization=org)
        with patch("dashboard.views.sync_start", return_value=None) as sync_start:
            response = client.post(sync_now_url(conn), follow=True)
        sync_start.assert_called_once_with(connection_id=conn.pk, trigger="manual")
        assert response.redirect_chain == [(OVERVIEW, 302)]
        assert "A sync is already running" in response.content.decode()

    def test_real_service_refuses_a_second_run_while_one_is_in_flight(self, frozen_today: object) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        run = make_run(conn, status=SyncRun.Status.RUNNING, step=SyncRun.Step.EXTRACT)
        response = logged_in("ann", organization=org).post(sync_now_url(conn), follow=True)
        html = response.content.decode()
        assert f"A LinkedIn Ads sync of 1001 is already running (run {run.pk}, extracting," in html
        assert "it was not started twice" in html
        assert SyncRun.objects.filter(connection=conn).count() == 1


@pytest.mark.django_db
class TestAdmin:
    @pytest.fixture
    def admin_client_(self) -> Client:
        make_user("root", is_staff=True, is_superuser=True)
        client = Client()
        assert client.login(username="root", password=PASSWORD)
        return client

    def test_connection_change_page_hides_credentials(self, admin_client_: Client) -> None:
        org = make_org("Northwind")
        conn = make_connection(org, credentials_encrypted="gAAAAAB-very-secret-ciphertext")

        change = admin_client_.get(reverse("admin:connectors_connection_change", args=[conn.pk]))
        listing = admin_client_.get(reverse("admin:connectors_connection_changelist"))

        for response in (change, listing):
            assert response.status_code == 200
            html = response.content.decode()
            assert "credentials_encrypted" not in html
            assert "very-secret-ciphertext" not in html
        assert "credentials_encrypted" not in change.context["adminform"].form.fields

    def test_organization_page_has_membership_inline(self, admin_client_: Client) -> None:
        org = make_org("Northwind")
        make_user("ann", organization=org)
        response = admin_client_.get(reverse("admin:tenancy_organization_change", args=[org.pk]))
        assert response.status_code == 200
        assert "memberships-TOTAL_FORMS" in response.content.decode()

    def test_pipeline_pages_are_read_only(self, admin_client_: Client) -> None:
        org = make_org("Northwind")
        conn = make_connection(org)
        run = make_run(conn, status=SyncRun.Status.FAILED, error_message="It broke.")
        add_row(conn, day=TODAY, spend="1")

        for name in ("etl_syncrun", "etl_quarantinedrecord", "etl_adperformancedaily"):
            assert admin_client_.get(reverse(f"admin:{name}_changelist")).status_code == 200
            assert admin_client_.get(reverse(f"admin:{name}_add")).status_code == 403
        filtered = admin_client_.get(reverse("admin:etl_syncrun_changelist"), {"status__exact": "failed"})
        assert filtered.status_code == 200
        detail = admin_client_.get(reverse("admin:etl_syncrun_change", args=[run.pk]))
        assert detail.status_code == 200
        assert "It broke." in detail.content.decode()
        assert admin_client_.post(reverse("admin:etl_syncrun_delete", args=[run.pk])).status_code == 403

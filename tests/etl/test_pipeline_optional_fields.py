"""Tenants unlike the sandbox: a field the tenant lacks loads empty with a note on the run, a missing key
field is a clear error that fails that stream alone.

Whole syncs through the real pipeline (Celery in-process) against each platform's sandbox, with the
sandbox option that makes its tenant differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.models import Connection
from connectors.sandbox import SandboxServer
from connectors.services import connection_create
from etl.models import CrmDeal, CrmLead, SyncRun
from etl.pipeline import sync_start
from tenancy.models import Organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


@pytest.fixture
def organization(db: None) -> Organization:
    return Organization.objects.create(name="Northwind", slug="northwind")


def serve(settings: Any, app: Any) -> Iterator[SandboxServer]:
    with SandboxServer(app) as server:
        for key, value in server.env().items():
            setattr(settings, key, value)
        yield server


def run_sync(connection: Connection) -> SyncRun:
    run = sync_start(connection_id=connection.pk)
    assert run is not None
    run.refresh_from_db()
    return run


# =========================================================================== Zoho CRM


def zoho_connection(organization: Organization) -> Connection:
    from connectors.zoho_crm.sandbox import DEMO_ORG, DEMO_REFRESH_TOKEN

    return connection_create(
        organization=organization,
        platform="zoho_crm",
        account_id=DEMO_ORG,
        credentials={"refresh_token": DEMO_REFRESH_TOKEN},
        options={"accounts_server": "https://accounts.zoho.in"},
        check=False,
    )


@pytest.fixture
def zoho_without_attribution(settings: Any) -> Iterator[SandboxServer]:
    from connectors.zoho_crm.sandbox import create_app

    removed = ["Lead_Source", "Campaign_Source", "UTM_Source", "UTM_Medium", "UTM_Campaign"]
    yield from serve(settings, create_app(removed_fields=removed))


@pytest.fixture
def zoho_without_modified_time(settings: Any) -> Iterator[SandboxServer]:
    from connectors.zoho_crm.sandbox import create_app

    yield from serve(settings, create_app(removed_fields=["Modified_Time"]))


def test_zoho_org_without_attribution_fields_loads_them_empty_with_a_note(
    organization: Organization, zoho_without_attribution: SandboxServer
) -> None:
    from connectors.zoho_crm.sandbox import DEMO_ORG, expected_records

    connection = zoho_connection(organization)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    leads = CrmLead.objects.filter(connection=connection)
    served = expected_records(DEMO_ORG, "Leads")
    assert leads.count() == run.rows["leads"]["inserted"] > 0
    assert set(leads.values_list("lead_id", flat=True)) <= {r["id"] for r in served}
    for rows in (leads, CrmDeal.objects.filter(connection=connection)):
        assert rows.exists()
        assert not rows.exclude(lead_source=None).exists()
        assert not rows.exclude(campaign_id=None).exists()
        assert not rows.exclude(utm_source=None).exists() and not rows.exclude(utm_campaign=None).exists()
        assert not rows.filter(modified_time=None).exists() and not rows.filter(owner=None).exists()
    notes = [note for note in run.notes if "layout has no field" in note]
    assert len(notes) == 2, run.notes  # one per module
    assert any("Leads layout" in note and "Lead_Source (lead source)" in note for note in notes)
    assert all("UTM_Source (utm source)" in note and "stays empty" not in note for note in notes)


def test_zoho_org_without_a_key_field_fails_with_its_name(
    organization: Organization, zoho_without_modified_time: SandboxServer
) -> None:
    connection = zoho_connection(organization)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.FAILED  # both streams need it: nothing could be read
    assert "Modified_Time" in run.error_message and "layout" in run.error_message
    assert not CrmLead.objects.filter(connection=connection).exists()


# =========================================================================== Mailchimp


@pytest.fixture
def mailchimp_plaintext_without_counts(settings: Any) -> Iterator[SandboxServer]:
    from connectors.mailchimp.sandbox import create_app

    yield from serve(settings, create_app(reports_without={"plaintext": ["opens", "clicks"]}))


def test_mailchimp_reports_without_open_and_click_counts_load_them_empty_with_a_note(
    organization: Organization, mailchimp_plaintext_without_counts: SandboxServer
) -> None:
    from connectors.mailchimp.sandbox import DEMO_ACCESS_TOKEN
    from etl.models import EmailCampaign

    connection = connection_create(
        organization=organization,
        platform="mailchimp",
        account_id="40118001",
        credentials={"access_token": DEMO_ACCESS_TOKEN},
        check=False,
    )
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    rows = EmailCampaign.objects.filter(connection=connection)
    plain, other = rows.filter(campaign_type="plaintext"), rows.exclude(campaign_type="plaintext")
    assert plain.exists() and other.exists()
    assert run.rows["campaigns"].get("quarantined", 0) == 0
    for column in ("opens", "unique_opens", "clicks", "unique_clicks", "open_rate", "click_rate"):
        assert not plain.exclude(**{column: None}).exists(), column  # NULL, not 0
        assert not other.filter(**{column: None}).exists(), column
    assert not plain.filter(emails_sent=None).exists() and not plain.filter(bounces=None).exists()
    assert (
        "Mailchimp: the reports of some plaintext campaigns have no open counts or click counts; "
        "those columns stay empty for them."
    ) in run.notes


# =========================================================================== LinkedIn Ads


@pytest.fixture
def linkedin_without_conversions(settings: Any) -> Iterator[SandboxServer]:
    from connectors.linkedin_ads.sandbox import create_app

    unreturned = ["externalWebsiteConversions", "conversionValueInLocalCurrency"]
    yield from serve(settings, create_app(unreturned_metrics=unreturned))


def test_linkedin_metrics_not_returned_load_empty_with_a_note(
    organization: Organization, linkedin_without_conversions: SandboxServer
) -> None:
    from connectors.linkedin_ads.sandbox import DEMO_REFRESH_TOKEN, expected_daily_rows
    from etl.models import AdPerformanceDaily

    connection = connection_create(
        organization=organization,
        platform="linkedin_ads",
        account_id="508000001",
        credentials={"refresh_token": DEMO_REFRESH_TOKEN},
        check=False,
    )
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    rows = AdPerformanceDaily.objects.filter(connection=connection)
    served = expected_daily_rows("508000001", run.window_start, run.window_end)
    assert rows.count() == len(served) > 0 and run.rows["ad_analytics"].get("quarantined", 0) == 0
    assert not rows.exclude(conversions=None).exists()  # NULL, not 0
    assert not rows.exclude(conversion_value=None).exists()
    assert not rows.filter(view_through_conversions=None).exists()  # still returned
    notes = [note for note in run.notes if note.startswith("LinkedIn Ads did not return")]
    assert len(notes) == 1, run.notes
    assert "conversions (externalWebsiteConversions)" in notes[0]
    assert "conversion value (conversionValueInLocalCurrency)" in notes[0]
    assert "view-through" not in notes[0]


def test_a_tenant_like_the_sandbox_gets_no_such_note(linkedin_connection: Connection) -> None:
    run = run_sync(linkedin_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert not [note for note in run.notes if "did not return" in note], run.notes


# =========================================================================== Google Ads


def google_ads_sandbox(settings: Any, **options: Any) -> Iterator[SandboxServer]:
    from tests.connectors.google_ads.support import serving

    with serving(settings, **options) as server:
        yield server


@pytest.fixture
def google_ads_pmax_without_view_through(settings: Any) -> Iterator[SandboxServer]:
    yield from google_ads_sandbox(
        settings, unreported_metrics={"PERFORMANCE_MAX": ["view_through_conversions"]}
    )


@pytest.fixture
def google_ads_account_refusing_conversion_value(settings: Any) -> Iterator[SandboxServer]:
    yield from google_ads_sandbox(settings, refused_metrics={"5550003001": ["conversions_value"]})


@pytest.fixture
def google_ads_account_refusing_clicks(settings: Any) -> Iterator[SandboxServer]:
    yield from google_ads_sandbox(settings, refused_metrics={"5550003001": ["clicks"]})


def google_ads_connection(organization: Organization) -> Connection:
    from tests.connectors.google_ads.support import STANDALONE, connect

    return connect(organization, STANDALONE)  # Fabrikam UK: Search, Performance Max and Display campaigns


def google_ads_served(server: SandboxServer, run: SyncRun) -> list[dict[str, Any]]:
    from connectors.google_ads.sandbox import expected_daily_rows
    from tests.connectors.google_ads.support import STANDALONE, app_of

    today = app_of(server).today_for(STANDALONE)
    return expected_daily_rows(STANDALONE, run.window_start, run.window_end, today=today)


def test_google_ads_campaign_type_without_view_through_loads_it_empty_with_a_note(
    organization: Organization, google_ads_pmax_without_view_through: SandboxServer
) -> None:
    from etl.models import AdPerformanceDaily

    connection = google_ads_connection(organization)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    served = google_ads_served(google_ads_pmax_without_view_through, run)
    rows = AdPerformanceDaily.objects.filter(connection=connection)
    assert rows.count() == len(served) > 0 and run.rows["campaign_performance"].get("quarantined", 0) == 0
    pmax, other = rows.filter(campaign_type="PERFORMANCE_MAX"), rows.exclude(campaign_type="PERFORMANCE_MAX")
    assert pmax.exists() and other.exists()
    assert not pmax.exclude(view_through_conversions=None).exists()  # NULL, not 0
    assert not other.filter(view_through_conversions=None).exists()
    assert other.filter(campaign_type="SEARCH", view_through_conversions=0).exists()  # a real zero stays 0
    for column in ("impressions", "clicks", "spend", "conversions", "conversion_value"):
        assert not rows.filter(**{column: None}).exists(), column
    assert {(r["campaign_id"], r["date"], r["impressions"], r["cost"]) for r in served} == set(
        rows.values_list("campaign_id", "date", "impressions", "spend")
    )
    assert (
        "Google Ads: view-through conversions are not reported for Performance Max campaigns; those figures "
        "stay empty."
    ) in run.notes


def test_google_ads_account_refusing_a_metric_loads_the_rest_with_a_note(
    organization: Organization, google_ads_account_refusing_conversion_value: SandboxServer
) -> None:
    from etl.models import AdPerformanceDaily

    connection = google_ads_connection(organization)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    served = google_ads_served(google_ads_account_refusing_conversion_value, run)
    rows = AdPerformanceDaily.objects.filter(connection=connection)
    assert rows.count() == len(served) > 0
    assert not rows.exclude(conversion_value=None).exists()  # NULL, not 0
    assert (
        not rows.filter(conversions=None).exists() and not rows.filter(view_through_conversions=None).exists()
    )
    assert run.state["unavailable_metrics"] == {"5550003001": ["conversions_value"]}
    notes = [note for note in run.notes if note.startswith("Google Ads: account")]
    assert notes == [
        "Google Ads: account 555-000-3001 (Fabrikam UK) does not report conversion value (Google refused "
        "metrics.conversions_value in its report query); those figures stay empty for its campaigns."
    ]


def test_google_ads_account_refusing_a_required_metric_fails_with_its_name(
    organization: Organization, google_ads_account_refusing_clicks: SandboxServer
) -> None:
    from etl.models import AdPerformanceDaily

    connection = google_ads_connection(organization)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.FAILED  # its one stream could not be read
    assert "clicks (metrics.clicks)" in run.error_message and "555-000-3001" in run.error_message
    assert not AdPerformanceDaily.objects.filter(connection=connection).exists()


@pytest.fixture
def google_ads_like_the_demo(settings: Any) -> Iterator[SandboxServer]:
    yield from google_ads_sandbox(settings)


def test_a_google_ads_tenant_like_the_sandbox_gets_no_such_note(
    organization: Organization, google_ads_like_the_demo: SandboxServer
) -> None:
    from etl.models import AdPerformanceDaily

    connection = google_ads_connection(organization)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert not [note for note in run.notes if note.startswith("Google Ads:")], run.notes
    rows = AdPerformanceDaily.objects.filter(connection=connection)
    assert rows.exists() and not rows.filter(view_through_conversions=None).exists()
    assert not rows.filter(conversion_value=None).exists()

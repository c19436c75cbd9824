"""Tenants unlike the sandbox: a field the tenant lacks loads empty with a note on the run, a missing key
field is a clear error that fails that stream alone.

Whole syncs through the real pipeline (Celery in-process) against each platform's sandbox, with the
sandbox option that makes its tenant differ.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.models import Connection
from etl.models import CrmDeal, CrmLead, SyncRun
from tenancy.models import Organization
from tests.connectors.google_ads.support import STANDALONE as FABRIKAM_UK
from tests.sandboxes import Sandboxes, app_of, run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


# =========================================================================== Zoho CRM


def test_zoho_org_without_attribution_fields_loads_them_empty_with_a_note(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    from sandbox.zoho_crm import DEMO_ORG, expected_records

    removed = ["Lead_Source", "Campaign_Source", "UTM_Source", "UTM_Medium", "UTM_Campaign"]
    sandboxes.serve("zoho_crm", removed_fields=removed)
    connection = sandboxes.connect("zoho_crm", organization)
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
    sandboxes: Sandboxes, organization: Organization
) -> None:
    sandboxes.serve("zoho_crm", removed_fields=["Modified_Time"])
    connection = sandboxes.connect("zoho_crm", organization)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.FAILED  # both streams need it: nothing could be read
    assert "Modified_Time" in run.error_message and "layout" in run.error_message
    assert not CrmLead.objects.filter(connection=connection).exists()


# =========================================================================== Mailchimp


def test_mailchimp_reports_without_open_and_click_counts_load_them_empty_with_a_note(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    from etl.models import EmailCampaign

    sandboxes.serve("mailchimp", reports_without={"plaintext": ["opens", "clicks"]})
    connection = sandboxes.connect("mailchimp", organization)
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


def test_linkedin_metrics_not_returned_load_empty_with_a_note(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    from etl.models import AdPerformanceDaily
    from sandbox.linkedin_ads import expected_daily_rows

    sandboxes.serve(
        "linkedin_ads", unreturned_metrics=["externalWebsiteConversions", "conversionValueInLocalCurrency"]
    )
    connection = sandboxes.connect("linkedin_ads", organization)
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


def fabrikam_uk(sandboxes: Sandboxes, organization: Organization, **options: Any) -> tuple[Connection, Any]:
    """Fabrikam UK (Search, Performance Max and Display campaigns) on a Google Ads sandbox served with
    these options, and the sandbox."""
    from sandbox.google_ads import GoogleAdsSandbox

    app = app_of(sandboxes.serve("google_ads", **options), GoogleAdsSandbox)
    return sandboxes.connect("google_ads", organization, account_id=FABRIKAM_UK), app


def google_ads_served(app: Any, run: SyncRun) -> list[dict[str, Any]]:
    from sandbox.google_ads import expected_daily_rows

    today = app.today_for(FABRIKAM_UK)
    return expected_daily_rows(FABRIKAM_UK, run.window_start, run.window_end, today=today)


def test_google_ads_campaign_type_without_view_through_loads_it_empty_with_a_note(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    from etl.models import AdPerformanceDaily

    unreported = {"PERFORMANCE_MAX": ["view_through_conversions"]}
    connection, app = fabrikam_uk(sandboxes, organization, unreported_metrics=unreported)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    served = google_ads_served(app, run)
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
    sandboxes: Sandboxes, organization: Organization
) -> None:
    from etl.models import AdPerformanceDaily

    refused = {FABRIKAM_UK: ["conversions_value"]}
    connection, app = fabrikam_uk(sandboxes, organization, refused_metrics=refused)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    served = google_ads_served(app, run)
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
    sandboxes: Sandboxes, organization: Organization
) -> None:
    from etl.models import AdPerformanceDaily

    connection, _ = fabrikam_uk(sandboxes, organization, refused_metrics={FABRIKAM_UK: ["clicks"]})
    run = run_sync(connection)
    assert run.status == SyncRun.Status.FAILED  # its one stream could not be read
    assert "clicks (metrics.clicks)" in run.error_message and "555-000-3001" in run.error_message
    assert not AdPerformanceDaily.objects.filter(connection=connection).exists()


def test_a_google_ads_tenant_like_the_sandbox_gets_no_such_note(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    from etl.models import AdPerformanceDaily

    connection, _ = fabrikam_uk(sandboxes, organization)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert not [note for note in run.notes if note.startswith("Google Ads:")], run.notes
    rows = AdPerformanceDaily.objects.filter(connection=connection)
    assert rows.exists() and not rows.filter(view_through_conversions=None).exists()
    assert not rows.filter(conversion_value=None).exists()

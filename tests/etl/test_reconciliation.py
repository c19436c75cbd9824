"""Reconciliation on every sync: after the load, the totals each platform itself reports for the
window beside the warehouse's sums. A clean sync agrees on every platform that has totals; a page
that silently lost rows (the sandbox's ``silent_gap`` fault) is caught, with the right figures; a
platform without an independent total says why; a totals query that fails does not fail the sync."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from connectors.models import Connection
from dashboard.management.commands.start_background_syncs import EXIT_TOTALS_DIFFER
from etl.models import AdPerformanceDaily, SyncRun
from etl.reconciliation import within_rounding
from sandbox import google_ads as google_sandbox
from sandbox import linkedin_ads as linkedin_sandbox
from sandbox import zoho_crm as zoho_sandbox
from sandbox.core import FakeApi
from sandbox.oauth import RefreshToken
from tenancy.models import Organization
from tests.connectors.google_ads.support import STANDALONE, STREAM_PATH
from tests.dashboard import PASSWORD, make_org, make_user
from tests.sandboxes import Sandboxes, run_sync

pytestmark = pytest.mark.django_db(transaction=True)

LINKEDIN_ACCOUNT = "508000001"
# Where each ad platform's report pages come from, and the sandbox's own rows for a window.
AD_PLATFORMS: dict[str, tuple[str, str, Callable[..., list[dict[str, Any]]]]] = {
    "google_ads": (STANDALONE, STREAM_PATH, google_sandbox.expected_daily_rows),
    "linkedin_ads": (LINKEDIN_ACCOUNT, "/rest/adAnalytics", linkedin_sandbox.expected_daily_rows),
}


def connect(sandboxes: Sandboxes, platform: str, organization: Organization) -> Connection:
    account = AD_PLATFORMS[platform][0] if platform in AD_PLATFORMS else None
    return sandboxes.connect(platform, organization, account_id=account)


def figures(run: SyncRun) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Each figure by metric and currency (a record count by its dataset instead)."""
    return {
        (f["dataset"] if f["metric"] == "rows" else f["metric"], f["currency"]): f
        for f in run.reconciliation["figures"]
    }


def compared_days(run: SyncRun) -> tuple[date, date]:
    window = run.reconciliation["window"]
    return date.fromisoformat(window["start"]), date.fromisoformat(window["end"])


@pytest.mark.parametrize("platform", ["google_ads", "linkedin_ads", "mailchimp", "zoho_crm"])
def test_a_clean_sync_reconciles_equal(
    sandboxes: Sandboxes, organization: Organization, platform: str
) -> None:
    run = run_sync(connect(sandboxes, platform, organization))

    assert run.status == SyncRun.Status.SUCCEEDED and run.step == SyncRun.Step.DONE
    assert run.reconciliation_status == SyncRun.Reconciliation.EQUAL, run.reconciliation
    assert not run.totals_differ
    compared = figures(run)
    assert compared and all(f["agrees"] for f in compared.values())
    start, end = compared_days(run)
    assert start == run.window_start and start <= end < run.window_end
    if platform == "mailchimp":
        assert int(compared[("email_campaign", None)]["platform"]) > 0
    elif platform == "zoho_crm":
        assert set(compared) == {("crm_lead", None), ("crm_deal", None)}
        assert all(int(f["platform"]) == int(f["warehouse"]) > 0 for f in compared.values())
    else:
        currency = AdPerformanceDaily.objects.filter(connection__platform=platform).values_list(
            "currency", flat=True
        )[0]
        impressions = compared[("impressions", currency)]
        assert int(impressions["platform"]) == int(impressions["warehouse"]) > 0
        assert Decimal(compared[("spend", currency)]["platform"]) > 0


@pytest.mark.embedded
def test_a_clean_sync_reconciles_equal_on_the_embedded_database(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    run = run_sync(connect(sandboxes, "linkedin_ads", organization))

    assert run.reconciliation_status == SyncRun.Reconciliation.EQUAL, run.reconciliation
    assert {metric for metric, _ in figures(run)} == {
        "impressions",
        "clicks",
        "spend",
        "conversions",
        "conversion_value",
        "view_through_conversions",
    }


@pytest.mark.parametrize("platform", ["google_ads", "linkedin_ads"])
def test_a_silent_gap_is_caught_with_the_right_figures(
    sandboxes: Sandboxes, organization: Organization, platform: str
) -> None:
    account, path, expected_daily_rows = AD_PLATFORMS[platform]
    connection = connect(sandboxes, platform, organization)
    app: FakeApi = sandboxes.serve(platform).app
    app.faults.add("silent_gap", path=path, drop=3)

    run = run_sync(connection)

    # Nothing looked wrong to the sync: it loaded, and only reconciliation noticed.
    assert app.counters["silent_gap_dropped"] == 3
    assert run.status == SyncRun.Status.SUCCEEDED and not run.error_message
    assert run.reconciliation_status == SyncRun.Reconciliation.DIFFER and run.totals_differ
    start, end = compared_days(run)
    served = expected_daily_rows(account, start, end)
    loaded = {
        (r.campaign_id, r.date): r
        for r in AdPerformanceDaily.objects.filter(connection=connection, date__range=(start, end))
    }
    missing = [r for r in served if (str(r["campaign_id"]), r["date"]) not in loaded]
    assert len(missing) == 3
    currency = next(iter(loaded.values())).currency
    compared = figures(run)
    for metric, key in (("impressions", "impressions"), ("clicks", "clicks"), ("spend", "cost")):
        figure = compared[(metric, currency)]
        platform_total = sum(Decimal(r[key]) for r in served)
        warehouse_total = sum(Decimal(getattr(r, metric)) for r in loaded.values())
        assert Decimal(figure["platform"]) == platform_total
        assert Decimal(figure["warehouse"]) == warehouse_total
        assert Decimal(figure["difference"]) == -sum(Decimal(r[key]) for r in missing)
    assert not compared[("impressions", currency)]["agrees"]


def test_a_silent_gap_in_a_record_listing_is_caught_by_its_count(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    connection = connect(sandboxes, "mailchimp", organization)
    app: FakeApi = sandboxes.serve("mailchimp").app
    app.faults.add("silent_gap", drop=2)

    run = run_sync(connection)

    assert run.status == SyncRun.Status.SUCCEEDED and run.totals_differ
    campaigns = figures(run)[("email_campaign", None)]
    assert int(campaigns["platform"]) - int(campaigns["warehouse"]) == 2 == app.counters["silent_gap_dropped"]


def test_rows_quarantined_by_normalization_explain_a_difference(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    connection = connect(sandboxes, "linkedin_ads", organization)
    sandboxes.serve("linkedin_ads").app.faults.add("malformed", path="/rest/adAnalytics", index=0)

    run = run_sync(connection)

    assert run.totals_differ and run.rows["ad_analytics"]["quarantined"] == 1
    assert (
        "1 row(s) quarantined by normalization are not in the warehouse" in run.reconciliation["explanations"]
    )


def test_the_next_clean_sync_agrees_again(sandboxes: Sandboxes, organization: Organization) -> None:
    connection = connect(sandboxes, "linkedin_ads", organization)
    sandboxes.serve("linkedin_ads").app.faults.add("silent_gap", path="/rest/adAnalytics", drop=2)
    assert run_sync(connection).totals_differ

    again = run_sync(connection)

    assert again.reconciliation_status == SyncRun.Reconciliation.EQUAL, again.reconciliation


def test_a_platform_without_an_independent_total_says_why(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    run = run_sync(connect(sandboxes, "demandbase", organization))

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.reconciliation_status == SyncRun.Reconciliation.NOT_COMPARED
    assert run.reconciliation["reason"].startswith("Demandbase's export jobs report no row count")
    assert "figures" not in run.reconciliation


def test_a_failing_totals_query_does_not_fail_the_sync(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    # A first sync counts the report's calls, so the fault can strike the totals query after them.
    app = sandboxes.serve("linkedin_ads").app
    run_sync(connect(sandboxes, "linkedin_ads", organization))
    report_calls = app.requests["ad_analytics"] - 1
    other = Organization.objects.create(name="Other", slug="other")
    app.faults.add("version_retired", path="/rest/adAnalytics", after=report_calls)

    run = run_sync(connect(sandboxes, "linkedin_ads", other))

    assert run.status == SyncRun.Status.SUCCEEDED and run.step == SyncRun.Step.DONE
    assert run.reconciliation_status == SyncRun.Reconciliation.FAILED
    assert "no longer serves API version" in run.reconciliation["reason"]


def test_a_zoho_authorization_without_the_search_permission_says_to_reconnect(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    # Zoho's record count narrowed by criteria is a search: an authorization granted before the
    # connector asked for ZohoSearch.securesearch.READ cannot count; the sync is not affected.
    app = sandboxes.app("zoho_crm", zoho_sandbox.ZohoCrmSandbox)
    older_scope = zoho_sandbox.app.DEFAULT_SCOPE.replace(",ZohoSearch.securesearch.READ", "")
    app.refresh["1000.older-grant"] = RefreshToken(older_scope, zoho_sandbox.DEMO_ORG)
    connection = sandboxes.connect(
        "zoho_crm", organization, credentials={"refresh_token": "1000.older-grant"}
    )

    run = run_sync(connection)

    assert run.status == SyncRun.Status.SUCCEEDED and run.step == SyncRun.Step.DONE
    assert run.reconciliation_status == SyncRun.Reconciliation.FAILED
    assert "ZohoSearch.securesearch.READ" in run.reconciliation["reason"]
    assert "Reconnect the Zoho CRM account" in run.reconciliation["reason"]
    connection.refresh_from_db()
    assert connection.status != Connection.Status.NEEDS_REAUTH


def test_the_command_shows_the_figures_and_exits_with_totals_differ(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    connection = connect(sandboxes, "linkedin_ads", organization)
    sandboxes.serve("linkedin_ads").app.faults.add("silent_gap", path="/rest/adAnalytics", drop=3)
    out = StringIO()

    with pytest.raises(CommandError) as exited:
        call_command(
            "start_background_syncs", "--connection", str(connection.pk), stdout=out, stderr=StringIO()
        )

    assert exited.value.returncode == EXIT_TOTALS_DIFFER
    run = SyncRun.objects.get(connection=connection)
    impressions = next(f for f in run.reconciliation["figures"] if f["metric"] == "impressions")
    summary = out.getvalue()
    assert "Loaded, totals differ" in summary
    platform_figure = f"{int(impressions['platform']):,}"
    warehouse_figure = f"{int(impressions['warehouse']):,}"
    currency = impressions["currency"]
    assert (
        f"impressions ({currency} accounts): platform {platform_figure} · warehouse {warehouse_figure}"
        in summary
    )


def test_sync_health_shows_the_figures_side_by_side_to_the_organization_only(
    sandboxes: Sandboxes, organization: Organization, settings: Any
) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    connection = connect(sandboxes, "linkedin_ads", organization)
    sandboxes.serve("linkedin_ads").app.faults.add("silent_gap", path="/rest/adAnalytics", drop=3)
    run = run_sync(connection)
    spend = next(f for f in run.reconciliation["figures"] if f["metric"] == "spend")
    member, outsider = Client(), Client()
    assert member.login(username=make_user("member", organization=organization).username, password=PASSWORD)
    assert outsider.login(
        username=make_user("outsider", organization=make_org("Elsewhere")).username, password=PASSWORD
    )

    page = member.get(reverse("dashboard:sync_health")).content.decode()

    assert 'data-reconciliation="differ"' in page and "Loaded, totals differ" in page
    assert f"{Decimal(spend['platform']):,.2f}" in page and f"{Decimal(spend['warehouse']):,.2f}" in page
    assert f"{Decimal(spend['difference']):,.2f}" in page
    csv = member.get(reverse("dashboard:export_csv", args=["sync_runs"])).content.decode()
    assert "Loaded, totals differ" in csv and f"spend {spend['currency']}: platform" in csv
    assert "data-reconciliation" not in outsider.get(reverse("dashboard:sync_health")).content.decode()


@pytest.mark.parametrize(
    ("metric", "platform", "warehouse", "agrees"),
    [
        ("impressions", "1000", "1000", True),
        ("impressions", "1000", "999", False),
        ("spend", "10.004", "10.00", True),
        ("spend", "10.01", "10.00", False),
        ("conversions", "123456.5", "123456.49", True),
        ("conversions", "12.5", "12.4", False),
        ("rows", "12", "11", False),
    ],
)
def test_rounding_is_defined_per_metric(metric: str, platform: str, warehouse: str, agrees: bool) -> None:
    assert within_rounding(metric, Decimal(platform), Decimal(warehouse)) is agrees

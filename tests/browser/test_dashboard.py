"""A marketer's morning, in a real browser: log in, connect LinkedIn through its sign-in page,
sync, read the numbers on every page, export a CSV, and reconnect an account that lost access.

Screenshots of every page are saved under test-artifacts/browser/.
"""

from __future__ import annotations

import csv
import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from connectors.models import Connection
from etl.models import AdPerformanceDaily, SyncRun
from sandbox.core import SandboxServer
from tenancy.models import Membership, Organization

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACCOUNT = "508000001"  # the LinkedIn sandbox's "Northwind – Demand Gen", in USD
USERNAME, PASSWORD = "marketer", "a-long-browser-password"
CENT = Decimal("0.01")


@pytest.fixture
def marketer() -> Organization:
    organization = Organization.objects.create(name="Northwind", slug="northwind")
    user = get_user_model().objects.create_user(username=USERNAME, password=PASSWORD)
    Membership.objects.create(organization=organization, user=user, role=Membership.Role.ADMIN)
    return organization


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def spend_last_30_days(organization: Organization) -> Decimal:
    """The spend of the last 30 days as the dashboard counts it: each campaign's day to the cent
    (half away from zero, as the platforms show it), then added up exactly."""
    since = timezone.now().date() - timedelta(days=29)
    spends = AdPerformanceDaily.objects.filter(organization=organization, date__gte=since).values_list(
        "spend", flat=True
    )
    return sum((spend.quantize(CENT, rounding=ROUND_HALF_UP) for spend in spends), Decimal("0"))


def test_connect_sync_read_and_export(
    page: Any, live_server: Any, linkedin_sandbox: SandboxServer, marketer: Organization, artifacts: Path
) -> None:
    base = live_server.url

    # Log in; the dashboard is empty and offers to connect an account.
    page.goto(base + "/")
    assert "/accounts/login/" in page.url
    shot(page, artifacts, "00-login")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("text=No ad account is connected")
    shot(page, artifacts, "01-overview-empty")

    # Connect LinkedIn: account id, then LinkedIn's consent page (the sandbox approves at once).
    page.click("text=+ Connect an account")
    page.wait_for_selector("text=Connect LinkedIn Ads")
    shot(page, artifacts, "02-connect-choose")
    page.click("a:has-text('Connect LinkedIn Ads')")
    page.fill("input[name=account_id]", ACCOUNT)
    shot(page, artifacts, "03-connect-form")
    sandbox_requests = []
    page.on("request", lambda request: sandbox_requests.append(request.url))
    page.click("#connect-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/sync/$"))
    assert any(url.startswith(linkedin_sandbox.url + "/oauth/v2/authorization?") for url in sandbox_requests)
    assert any("/connections/oauth/callback/?code=" in url for url in sandbox_requests)
    assert page.locator(".message--success").inner_text().endswith("is connected; a sync has started.")
    connection = Connection.objects.get(organization=marketer, platform="linkedin_ads", account_id=ACCOUNT)
    assert connection.status == Connection.Status.ACTIVE
    shot(page, artifacts, "04-sync-health-connected")

    # Sync now, from the sync health page.
    row = page.locator(f"#connections-table tr[data-connection='{connection.pk}']")
    row.locator("button:has-text('Sync now')").click()
    page.wait_for_selector(".message--success:has-text('Sync started')")
    # The message names the platform and account: two connections may share a name.
    started = page.locator(".message--success").inner_text()
    assert "LinkedIn Ads" in started and ACCOUNT in started, started
    assert SyncRun.objects.filter(connection=connection, status=SyncRun.Status.SUCCEEDED).count() == 2
    assert page.locator("#runs-table > tbody > tr").count() == 2
    assert page.locator("#runs-table > tbody > tr > td > .badge--run-succeeded").count() == 2
    shot(page, artifacts, "05-sync-health-after-sync-now")

    # The numbers appear on the overview, the same as the warehouse holds.
    expected = spend_last_30_days(marketer)
    assert expected > 0
    page.click("nav.tabs >> text=Overview")
    spend_card = page.locator("[data-kpi=spend] .kpi__value")
    assert f"{expected:,.2f}" in spend_card.inner_text()
    assert page.locator("svg.chart rect.chart__bar").count() == 30
    assert page.locator("#platforms-table tbody tr").count() == 1
    shot(page, artifacts, "06-overview")

    # The CSV of the platform table carries the same figures.
    with page.expect_download() as download_info:
        page.click("#platforms-title ~ a.export-link, section[aria-labelledby=platforms-title] a.export-link")
    download = download_info.value
    target = artifacts / download.suggested_filename
    download.save_as(str(target))
    with target.open(newline="") as handle:
        [line] = list(csv.DictReader(handle))
    assert line["platform"] == "LinkedIn Ads"
    assert line["currency"] == "USD"
    assert Decimal(line["spend"]) == expected

    # A shorter period, then every other page.
    page.click("a.segmented__item:has-text('Last 7 days')")
    page.wait_for_url(re.compile(r".*\?days=7$"))
    assert page.locator("svg.chart rect.chart__bar").count() == 7
    shot(page, artifacts, "07-overview-7-days")

    page.click("nav.tabs >> text=Campaigns")
    page.wait_for_selector("#campaigns-table")
    assert page.locator("#campaigns-table tbody tr").count() >= 1
    page.click("#campaigns-table th >> text=Clicks")
    page.wait_for_url(re.compile(r".*sort=clicks.*"))
    shot(page, artifacts, "08-campaigns")
    page.locator("#campaigns-table tbody tr td a").first.click()
    page.wait_for_selector("text=Spend per day")
    shot(page, artifacts, "09-campaign")

    for tab, text, name in [
        ("Email", "No email campaigns in this period", "10-email"),
        ("Pipeline", "No leads or deals in this period", "11-pipeline"),
        ("Funnel", "How the stages were joined", "11b-funnel"),
        ("Accounts", "No account engagement yet", "12-accounts"),
    ]:
        page.click(f"nav.tabs >> text={tab}")
        page.wait_for_selector(f"text={text}")
        shot(page, artifacts, name)

    # Access lost: a banner with a one-click reconnect that goes through LinkedIn again.
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.NEEDS_REAUTH, status_message="LinkedIn refused to renew access."
    )
    page.click("nav.tabs >> text=Sync health")
    banner = page.locator(".banner--warning")
    assert "needs you to sign in again" in banner.inner_text()
    shot(page, artifacts, "13-needs-reauthorization")
    banner.locator("button:has-text('Reconnect')").click()
    page.wait_for_selector(".message--success:has-text('reconnected')")
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert page.locator(".banner--warning").count() == 0
    shot(page, artifacts, "14-reconnected")

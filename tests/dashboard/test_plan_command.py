"""``start_background_syncs --plan``: what a sync or a backfill would cost in API calls per platform
and connection, what each credential spent today, its budget, and whether it fits; a dry run (no
API call, no run) whose exit status says whether everything fits. ``--backfill-days`` then runs it."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from connectors.models import Connection
from connectors.quota import quota_spend, quota_spent
from connectors.registry import get_connector_class
from dashboard.management.commands.start_background_syncs import EXIT_BAD_INPUT, EXIT_DOES_NOT_FIT
from etl.models import SyncRun
from etl.services import today_utc
from sandbox.google_ads import GoogleAdsSandbox
from tenancy.models import Organization
from tests.sandboxes import Sandboxes, connect, run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


def plan(*args: str) -> str:
    out = StringIO()
    call_command("start_background_syncs", "--plan", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def line_of(output: str, platform: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"{platform} "))


@pytest.fixture
def synced_manager(sandboxes: Sandboxes, organization: Organization, settings: Any) -> Connection:
    """The demo's Google Ads manager after one sync: it reports two client accounts."""
    settings.RETENTION_DAYS = 120
    connection = sandboxes.connect("google_ads", organization)
    assert run_sync(connection).status in SyncRun.LOADED
    return connection


def test_a_90_day_google_ads_backfill_plan_prints_its_calls_and_fits(
    synced_manager: Connection, sandboxes: Sandboxes
) -> None:
    app = sandboxes.app("google_ads", GoogleAdsSandbox)
    calls_before, runs_before = len(app.calls), SyncRun.objects.count()
    out = plan("--platform", "google_ads", "--backfill-days", "90")
    today = today_utc()
    row = line_of(out, "google_ads")
    # 3 discovery calls, then 2 client accounts × 3 slices of 30 days.
    assert f"backfill {today - timedelta(days=89):%d %b}–{today:%d %b %Y} (90 d)" in row
    assert " 9 " in row and "15,000" in row and row.rstrip().endswith("fits")
    assert "Google Cloud project" in out and "9 operations planned" in out and "fits today" in out
    assert len(app.calls) == calls_before and SyncRun.objects.count() == runs_before  # a dry run


def test_a_plan_over_the_budget_says_how_many_days_and_exits_8(
    synced_manager: Connection, settings: Any
) -> None:
    settings.GOOGLE_ADS_DAILY_QUOTA = 5
    credential = get_connector_class("google_ads").quota_credential(synced_manager.account_id)
    assert credential is not None
    quota_spend(platform="google_ads", credential=credential.label, amount=4)  # on top of the sync's
    spent = quota_spent(credential=credential)
    assert spent > 5  # the first sync (3 discovery + 2 accounts × 4 slices of 120 days) and the 4
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command(
            "start_background_syncs", "--plan", "--backfill-days", "90", stdout=out, stderr=StringIO()
        )
    assert failed.value.returncode == EXIT_DOES_NOT_FIT
    row = line_of(out.getvalue(), "google_ads")
    # Nothing is left today: 9 operations take two more days of 5, after today.
    assert f" {spent:,} " in row and row.rstrip().endswith("does not fit: would take 3 days")
    assert (
        f"9 operations planned + {spent:,} spent of 5 per any 24 hours: does not fit today" in out.getvalue()
    )


def test_platforms_without_a_known_budget_say_so(organization: Organization) -> None:
    connect("mailchimp", organization)
    connect("linkedin_ads", organization)
    out = plan()
    assert line_of(out, "mailchimp").rstrip().endswith("no daily budget")
    assert line_of(out, "linkedin_ads").rstrip().endswith("budget not known (set LINKEDIN_ADS_DAILY_QUOTA)")
    assert "≥" in line_of(out, "linkedin_ads")  # pages depend on the data: the least it costs


def test_a_backfill_longer_than_retention_is_refused(organization: Organization) -> None:
    connect("google_ads", organization)
    with pytest.raises(CommandError) as failed:
        call_command(
            "start_background_syncs",
            "--backfill-days",
            "400",
            "--no-wait",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert failed.value.returncode == EXIT_BAD_INPUT
    assert "RETENTION_DAYS" in str(failed.value)
    assert not SyncRun.objects.exists()


def test_backfill_days_runs_the_backfill(synced_manager: Connection) -> None:
    out = StringIO()
    call_command(
        "start_background_syncs",
        "--platform",
        "google_ads",
        "--backfill-days",
        "90",
        stdout=out,
        stderr=StringIO(),
    )
    run = SyncRun.objects.filter(connection=synced_manager).order_by("-created_at").first()
    assert run is not None and run.is_backfill and run.status in SyncRun.LOADED
    assert (run.window_start, run.window_end) == (today_utc() - timedelta(days=89), today_utc())
    assert "backfill of" in out.getvalue()

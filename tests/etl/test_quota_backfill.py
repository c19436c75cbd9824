"""A Google Ads backfill against a daily quota (the gRPC sandbox's operations per sandbox day, and
this installation's own count): read in 30-day slices, newest first; cut by the quota, it loads the
slices it read and the next sync, after the reset, reads only the days still missing; the warehouse
ends with every day exactly once. Each call is counted against the credential, retries included."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from connectors.models import ApiQuotaSpend, Connection
from connectors.quota import quota_spent
from connectors.registry import get_connector_class
from etl.backfill import backfill_request
from etl.models import AdPerformanceDaily, SyncRun
from etl.services import today_utc
from sandbox.google_ads import GoogleAdsSandbox, expected_daily_rows
from tenancy.models import Organization
from tests.connectors.google_ads.support import DACH_CLIENT, US_CLIENT
from tests.sandboxes import Sandboxes, app_of, run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

# The demo's manager connection: discovery is 3 operations (accessible customers, the manager, its
# clients), then one SearchStream per enabled client (2) and 30 days. A 90-day backfill is 3 + 2 × 3.
DISCOVERY, ACCOUNTS = 3, 2
DAY = 86_400


@pytest.fixture(autouse=True)
def long_retention(settings: Any) -> None:
    settings.RETENTION_DAYS = 120  # a 90-day backfill must outlive the prune after each sync


def keys(connection: Connection) -> list[tuple[str, str, Any]]:
    return list(
        AdPerformanceDaily.objects.filter(connection=connection).values_list(
            "account_id", "campaign_id", "date"
        )
    )


def served_keys(app: GoogleAdsSandbox, start: Any, end: Any) -> set[tuple[str, str, Any]]:
    return {
        (customer_id, row["campaign_id"], row["date"])
        for customer_id in (US_CLIENT, DACH_CLIENT)
        for row in expected_daily_rows(customer_id, start, end, today=app.today_for(customer_id))
    }


def campaign_rows_served(app: GoogleAdsSandbox) -> int:
    counters = app.state()["counters"]
    return sum(counters.get(f"rows_served:{c}:campaign", 0) for c in (US_CLIENT, DACH_CLIENT))


def test_a_backfill_cut_by_the_platform_quota_continues_after_the_reset(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    server = sandboxes.serve("google_ads", daily_operations=DISCOVERY + 2 * ACCOUNTS)
    app = app_of(server, GoogleAdsSandbox)
    connection = sandboxes.connect("google_ads", organization)
    today = today_utc()
    backfill_request(connection=connection, days=90, today=today)

    first = run_sync(connection)
    # Two slices fit the sandbox's day; the third's first query was refused RESOURCE_EXHAUSTED.
    assert first.status in SyncRun.LOADED, first.error_message
    assert first.is_backfill
    assert (first.window_start, first.window_end) == (today - timedelta(days=59), today)
    assert first.state["backfill"]["slices_done"] == [
        [(today - timedelta(days=29)).isoformat(), today.isoformat()],
        [(today - timedelta(days=59)).isoformat(), (today - timedelta(days=30)).isoformat()],
    ]
    assert any(note.startswith("Backfill paused: Google Ads refused more calls") for note in first.notes)
    assert app.state()["operations_today"] == DISCOVERY + 2 * ACCOUNTS
    recent = served_keys(app, today - timedelta(days=59), today)
    assert set(keys(connection)) == recent and len(recent) > 100
    connection.refresh_from_db()
    assert connection.backfill_loaded_from == today - timedelta(days=59)
    assert connection.backfill_start == today - timedelta(days=89)

    # The sandbox's day ends: its quota resets (no waiting on real time).
    answer = requests.post(f"{server.url}/_sandbox/clock", json={"advance_seconds": DAY}, timeout=10)
    assert answer.status_code == 200
    rows_before = campaign_rows_served(app)

    second = run_sync(connection)
    assert second.status in SyncRun.LOADED, second.error_message
    # Only the days still missing were read: the loaded 60 days were not asked again.
    assert (second.window_start, second.window_end) == (
        today - timedelta(days=89),
        today - timedelta(days=60),
    )
    older = served_keys(app, today - timedelta(days=89), today - timedelta(days=60))
    assert campaign_rows_served(app) - rows_before == len(older) > 0
    loaded = keys(connection)
    assert len(loaded) == len(set(loaded))  # every campaign-day exactly once
    assert set(loaded) == recent | older
    assert {day for _, _, day in loaded} >= {today - timedelta(days=n) for n in (0, 30, 59, 60, 89)}
    connection.refresh_from_db()
    assert (connection.backfill_start, connection.backfill_end, connection.backfill_loaded_from) == (
        None,
        None,
        None,
    )

    # The backfill is done: the next sync (the sandbox's next day) is a regular one again.
    requests.post(
        f"{server.url}/_sandbox/clock", json={"advance_seconds": DAY}, timeout=10
    ).raise_for_status()
    third = run_sync(connection)
    assert third.status in SyncRun.LOADED and not third.is_backfill
    assert third.window_end == today and third.window_start > today - timedelta(days=30)


def test_the_installations_own_count_stops_a_backfill_before_the_platform_refuses(
    sandboxes: Sandboxes, organization: Organization, settings: Any
) -> None:
    settings.GOOGLE_ADS_DAILY_QUOTA = DISCOVERY + 2 * ACCOUNTS
    app = sandboxes.app("google_ads", GoogleAdsSandbox)  # no quota of its own
    connection = sandboxes.connect("google_ads", organization)
    today = today_utc()
    backfill_request(connection=connection, days=90, today=today)
    credential = get_connector_class("google_ads").quota_credential(connection.account_id)
    assert credential is not None

    first = run_sync(connection)
    assert first.status in SyncRun.LOADED, first.error_message
    assert first.window_start == today - timedelta(days=59)
    assert any("daily API budget is spent by this installation's count" in note for note in first.notes)
    # The third slice was never asked; every gRPC call the sandbox answered was counted, once.
    assert quota_spent(credential=credential) == len(app.calls) >= DISCOVERY + 2 * ACCOUNTS

    # A day later the count no longer holds the calls of the day before (the rolling 24 hours).
    for row in ApiQuotaSpend.objects.all():
        ApiQuotaSpend.objects.filter(pk=row.pk).update(hour=row.hour - timedelta(hours=25))
    assert quota_spent(credential=credential) == 0

    second = run_sync(connection)
    assert second.status in SyncRun.LOADED, second.error_message
    assert (second.window_start, second.window_end) == (
        today - timedelta(days=89),
        today - timedelta(days=60),
    )
    loaded = keys(connection)
    assert len(loaded) == len(set(loaded))
    assert {day for _, _, day in loaded} >= {today - timedelta(days=n) for n in (0, 59, 60, 89)}


def test_a_backfill_that_fits_reads_every_slice_in_one_run(
    sandboxes: Sandboxes, organization: Organization
) -> None:
    app = sandboxes.app("google_ads", GoogleAdsSandbox)
    connection = sandboxes.connect("google_ads", organization)
    today = today_utc()
    backfill_request(connection=connection, days=90, today=today)
    run = run_sync(connection)
    assert run.status in SyncRun.LOADED, run.error_message
    assert (run.window_start, run.window_end) == (today - timedelta(days=89), today)
    assert len(run.state["backfill"]["slices_done"]) == 3 and not run.state["backfill"]["stopped"]
    assert set(keys(connection)) == served_keys(app, today - timedelta(days=89), today)
    connection.refresh_from_db()
    assert connection.backfill_start is None

"""Whole Google Ads syncs through the chain (Celery in-process) against the gRPC sandbox, through a
manager account: exactly the served rows, to the micro; idempotent re-runs; faults mid-run;
restated conversions corrected in place; revoked authorization."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connectors.models import Connection
from etl.models import AdPerformanceDaily, QuarantinedRecord, SyncRun
from etl.pipeline import sync_start
from etl.services import retention_start, today_utc
from sandbox.google_ads import GoogleAdsSandbox, expected_daily_rows
from tenancy.models import Organization
from tests.connectors.google_ads.support import (
    CANCELLED_CLIENT,
    DACH_CLIENT,
    STANDALONE,
    STREAM_PATH,
    US_CLIENT,
)
from tests.sandboxes import Sandboxes, run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

STREAM = "campaign_performance"


@pytest.fixture
def manager_connection(sandboxes: Sandboxes, organization: Organization) -> Connection:
    """The demo's manager connection: two enabled clients (USD, EUR) and a cancelled one."""
    return sandboxes.connect("google_ads", organization)


@pytest.fixture
def standalone_connection(sandboxes: Sandboxes, organization: Organization) -> Connection:
    return sandboxes.connect("google_ads", organization, account_id=STANDALONE)


def warehouse(connection: Connection) -> set[tuple[Any, ...]]:
    return {
        (
            r.account_id,
            r.campaign_id,
            r.date,
            r.currency,
            r.impressions,
            r.clicks,
            Decimal(r.spend),
            Decimal(r.conversions or 0),
            Decimal(r.conversion_value or 0),
        )
        for r in AdPerformanceDaily.objects.filter(connection=connection)
    }


def served(app: GoogleAdsSandbox, start: date, end: date, *customer_ids: str) -> set[tuple[Any, ...]]:
    return {
        (
            customer_id,
            r["campaign_id"],
            r["date"],
            r["currency"],
            r["impressions"],
            r["clicks"],
            r["cost"],
            r["conversions"],
            r["conversion_value"],
        )
        for customer_id in customer_ids
        for r in expected_daily_rows(customer_id, start, end, today=app.today_for(customer_id))
    }


def spend_by_currency(rows: set[tuple[Any, ...]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row[3]] = totals.get(row[3], Decimal(0)) + row[6]
    return totals


def test_a_manager_sync_loads_exactly_the_served_rows_to_the_micro(
    manager_connection: Connection, google_ads_app: GoogleAdsSandbox
) -> None:
    run = run_sync(manager_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.is_backfill and run.window_end == today_utc()
    expected = served(google_ads_app, run.window_start, run.window_end, US_CLIENT, DACH_CLIENT)
    loaded = warehouse(manager_connection)
    assert loaded == expected and len(expected) > 300
    assert spend_by_currency(loaded) == spend_by_currency(expected)  # never summed across currencies
    assert set(spend_by_currency(loaded)) == {"USD", "EUR"}
    assert run.rows[STREAM]["inserted"] == len(expected) == AdPerformanceDaily.objects.count()
    row = AdPerformanceDaily.objects.filter(connection=manager_connection, account_id=DACH_CLIENT).first()
    assert row is not None and row.currency == "EUR" and row.account_name == "Northwind – DACH"
    assert row.campaign_name and row.campaign_status in {"ENABLED", "PAUSED", "REMOVED"}
    assert [c["id"] for c in run.state["skipped_clients"]] == [CANCELLED_CLIENT]
    assert not AdPerformanceDaily.objects.filter(account_id=CANCELLED_CLIENT).exists()
    manager_connection.refresh_from_db()
    assert manager_connection.status == Connection.Status.ACTIVE


def test_a_second_sync_changes_nothing(manager_connection: Connection) -> None:
    run_sync(manager_connection)
    before, count = warehouse(manager_connection), AdPerformanceDaily.objects.count()
    second = run_sync(manager_connection)
    assert second.status == SyncRun.Status.SUCCEEDED and not second.is_backfill
    assert second.window_start == today_utc() - timedelta(days=13)  # the 14-day restatement window
    assert AdPerformanceDaily.objects.count() == count and warehouse(manager_connection) == before
    stats = second.rows[STREAM]
    assert stats["inserted"] == 0 and stats["updated"] == 0 and stats["deleted"] == 0
    assert stats["unchanged"] == stats["loaded"] > 0


def test_restated_conversions_are_updated_in_place(
    manager_connection: Connection, google_ads_app: GoogleAdsSandbox
) -> None:
    run_sync(manager_connection)
    count = AdPerformanceDaily.objects.count()
    before = warehouse(manager_connection)
    real_clock = google_ads_app.clock
    google_ads_app.clock = lambda: real_clock() + 86_400  # a day later, yesterday has more conversions
    second = run_sync(manager_connection)
    assert second.status == SyncRun.Status.SUCCEEDED, second.error_message
    stats = second.rows[STREAM]
    assert stats["updated"] > 0 and stats["deleted"] == 0
    # Rows are updated in place, never duplicated. Between 00:00 UTC and midnight in the accounts'
    # own time zones, the day later also starts a new account day inside the window: its rows are new.
    assert AdPerformanceDaily.objects.count() == count + stats["inserted"]
    after = warehouse(manager_connection)
    start, end = second.window_start, second.window_end
    # The re-read window matches the platform now; the days before it are as the first sync left them.
    assert {r for r in after if start <= r[2] <= end} == served(
        google_ads_app, start, end, US_CLIENT, DACH_CLIENT
    )
    assert {r for r in after if r[2] < start} == {r for r in before if r[2] < start}


def test_throttling_a_server_error_and_an_expired_token_mid_run_lose_nothing(
    manager_connection: Connection, google_ads_app: GoogleAdsSandbox
) -> None:
    google_ads_app.faults.add("rate_limit", times=2, path=STREAM_PATH, retry_delay_seconds=0.05)
    google_ads_app.faults.add("server_error", times=1, after=3, path=STREAM_PATH, after_batches=1)
    google_ads_app.faults.add("expire_token", times=1, after=4, path=STREAM_PATH, after_batches=2)
    run = run_sync(manager_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    expected = served(google_ads_app, run.window_start, run.window_end, US_CLIENT, DACH_CLIENT)
    assert warehouse(manager_connection) == expected
    assert run.rows[STREAM]["duplicates"] == 0
    assert google_ads_app.faults.pending() == []
    assert google_ads_app.counters["tokens_issued"] == 2  # the run's token, and one after it expired


def test_a_revoked_authorization_marks_the_connection_and_does_not_retry(
    manager_connection: Connection, google_ads_app: GoogleAdsSandbox
) -> None:
    google_ads_app.faults.add("revoke_refresh", times=1)
    run = run_sync(manager_connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "AuthError"
    assert "Reconnect" in run.error_message
    manager_connection.refresh_from_db()
    assert manager_connection.status == Connection.Status.NEEDS_REAUTH
    assert google_ads_app.state()["requests"].get("token", 0) <= 1
    assert sync_start(connection_id=manager_connection.pk) is None


def test_an_account_the_user_cannot_open_fails_with_what_to_fix(
    standalone_connection: Connection,
) -> None:
    Connection.objects.filter(pk=standalone_connection.pk).update(account_id=US_CLIENT)
    standalone_connection.refresh_from_db()
    run = run_sync(standalone_connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "PermanentError"
    assert "login_customer_id" in run.error_message
    standalone_connection.refresh_from_db()
    assert standalone_connection.status == Connection.Status.FAILING


def test_malformed_rows_are_quarantined_and_the_rest_loads(
    standalone_connection: Connection, google_ads_app: GoogleAdsSandbox
) -> None:
    google_ads_app.faults.add("malformed", times=1, after=1, path=STREAM_PATH)
    run = run_sync(standalone_connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    quarantined = QuarantinedRecord.objects.filter(sync_run=run)
    assert quarantined.count() == 1 and quarantined[0].reason == "date: missing (segments.date)"
    expected = served(google_ads_app, run.window_start, run.window_end, STANDALONE)
    assert len(warehouse(standalone_connection)) == len(expected) - 1
    assert any("quarantined" in note for note in run.notes)


def test_a_per_connection_restatement_window_is_capped_by_retention(
    standalone_connection: Connection,
) -> None:
    run_sync(standalone_connection)
    Connection.objects.filter(pk=standalone_connection.pk).update(restatement_days=90)
    standalone_connection.refresh_from_db()
    second = run_sync(standalone_connection)
    assert second.status == SyncRun.Status.SUCCEEDED
    assert second.window_start == retention_start() and second.rows[STREAM]["inserted"] == 0

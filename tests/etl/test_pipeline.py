"""Whole syncs through the chain (Celery in-process) against the LinkedIn sandbox."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from connectors.models import Connection
from etl.models import AdPerformanceDaily, QuarantinedRecord, RawPage, SyncRun
from etl.pipeline import sync_start
from etl.services import sync_run_create_if_idle, today_utc
from sandbox.linkedin_ads import LinkedInAdsSandbox, expected_daily_rows
from tests.sandboxes import run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


def warehouse(connection: Connection) -> set[tuple[Any, ...]]:
    return {
        (r.campaign_id, r.date, r.impressions, r.clicks, Decimal(r.spend), Decimal(r.conversions or 0))
        for r in AdPerformanceDaily.objects.filter(connection=connection)
    }


def served(account_id: str, start: Any, end: Any) -> set[tuple[Any, ...]]:
    return {
        (r["campaign_id"], r["date"], r["impressions"], r["clicks"], r["cost"], Decimal(r["conversions"]))
        for r in expected_daily_rows(account_id, start, end)
    }


def test_first_sync_backfills_the_retention_window_exactly(linkedin_connection: Connection) -> None:
    run = run_sync(linkedin_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.step == SyncRun.Step.DONE and run.is_backfill
    assert run.window_end == today_utc() and run.window_start == today_utc() - timedelta(days=29)
    assert warehouse(linkedin_connection) == served("508000001", run.window_start, run.window_end)
    row = AdPerformanceDaily.objects.filter(connection=linkedin_connection).first()
    assert row is not None and row.currency == "USD" and row.campaign_name and row.account_name
    assert row.organization_id == linkedin_connection.organization_id and row.sync_run_id == run.pk
    assert set(run.timings) == {"refresh", "extract", "normalize", "load", "prune"}
    assert run.rows["ad_analytics"]["inserted"] == len(warehouse(linkedin_connection))
    assert not RawPage.objects.filter(sync_run=run).exists()  # staging cleared after load
    linkedin_connection.refresh_from_db()
    assert linkedin_connection.last_success_at is not None
    assert linkedin_connection.status == Connection.Status.ACTIVE


def test_second_sync_changes_nothing(linkedin_connection: Connection) -> None:
    run_sync(linkedin_connection)
    before = warehouse(linkedin_connection)
    count = AdPerformanceDaily.objects.count()
    second = run_sync(linkedin_connection)
    assert second.status == SyncRun.Status.SUCCEEDED and not second.is_backfill
    assert AdPerformanceDaily.objects.count() == count and warehouse(linkedin_connection) == before
    stats = second.rows["ad_analytics"]
    assert stats["inserted"] == 0 and stats["updated"] == 0 and stats["deleted"] == 0
    assert stats["unchanged"] == stats["loaded"] > 0


def test_throttling_a_500_and_an_expired_token_mid_run_lose_nothing(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox
) -> None:
    linkedin_app.faults.add("rate_limit", times=2, path="/rest/adAnalytics")
    linkedin_app.faults.add("server_error", times=1, path="/rest/adAccounts")
    linkedin_app.faults.add("expire_token", times=1, after=2, path="/rest/")
    run = run_sync(linkedin_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert warehouse(linkedin_connection) == served("508000001", run.window_start, run.window_end)
    assert linkedin_app.faults.pending() == []


def test_revoked_authorization_marks_the_connection_and_does_not_retry(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox
) -> None:
    linkedin_app.faults.add("revoke_refresh", times=1)
    run = run_sync(linkedin_connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "AuthError"
    assert "Reconnect" in run.error_message
    linkedin_connection.refresh_from_db()
    assert linkedin_connection.status == Connection.Status.NEEDS_REAUTH
    assert linkedin_app.state()["requests"].get("token", 0) <= 1
    assert sync_start(connection_id=linkedin_connection.pk) is None  # no sync until reconnected


def test_malformed_records_are_quarantined_and_the_rest_loads(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox
) -> None:
    linkedin_app.faults.add("malformed", times=1, path="/rest/adAnalytics")
    run = run_sync(linkedin_connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    quarantined = QuarantinedRecord.objects.filter(sync_run=run)
    assert quarantined.count() == 1 and quarantined[0].reason
    assert run.rows["ad_analytics"]["quarantined"] == 1
    assert (
        len(warehouse(linkedin_connection)) == len(served("508000001", run.window_start, run.window_end)) - 1
    )
    assert any("quarantined" in note for note in run.notes)


def test_one_run_in_flight_per_connection(linkedin_connection: Connection) -> None:
    first = sync_run_create_if_idle(connection_id=linkedin_connection.pk)
    assert first is not None
    assert sync_run_create_if_idle(connection_id=linkedin_connection.pk) is None
    assert sync_start(connection_id=linkedin_connection.pk) is None
    assert SyncRun.objects.filter(connection=linkedin_connection).count() == 1


def test_a_crash_during_load_leaves_the_warehouse_as_it_was(
    linkedin_connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import etl.services

    def crash(**kwargs: Any) -> None:
        raise RuntimeError("worker lost in the middle of the load")

    monkeypatch.setattr(etl.services, "connection_mark_succeeded", crash)
    failed = run_sync(linkedin_connection)
    assert failed.status == SyncRun.Status.FAILED
    assert AdPerformanceDaily.objects.count() == 0  # the merge was rolled back with the rest
    monkeypatch.undo()
    again = run_sync(linkedin_connection)
    assert again.status == SyncRun.Status.SUCCEEDED
    assert warehouse(linkedin_connection) == served("508000001", again.window_start, again.window_end)


def test_rows_the_platform_no_longer_reports_are_removed_within_the_window(
    linkedin_connection: Connection,
) -> None:
    first = run_sync(linkedin_connection)
    template = AdPerformanceDaily.objects.filter(connection=linkedin_connection).first()
    assert template is not None
    template.pk = None
    template.campaign_id = "999999999"  # restated away by the platform
    template.save()
    second = run_sync(linkedin_connection)
    assert second.rows["ad_analytics"]["deleted"] == 1
    assert warehouse(linkedin_connection) == served("508000001", first.window_start, first.window_end)


def test_a_throttle_outlasting_the_client_retries_is_retried_by_the_step(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox, settings: Any
) -> None:
    settings.HTTP_MAX_ATTEMPTS = 2
    linkedin_app.faults.add("rate_limit", times=3, path="/rest/adAnalytics")  # two inline tries, then Celery
    run = run_sync(linkedin_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert warehouse(linkedin_connection) == served("508000001", run.window_start, run.window_end)
    assert linkedin_app.faults.pending() == []


def test_a_dropped_database_connection_during_load_is_retried(
    linkedin_connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    import etl.services

    real_load_rows = etl.services.load_rows
    calls = {"n": 0}

    def drop_once(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("terminating connection due to administrator command")
        return real_load_rows(**kwargs)

    monkeypatch.setattr(etl.services, "load_rows", drop_once)
    run = run_sync(linkedin_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert calls["n"] == 2
    assert warehouse(linkedin_connection) == served("508000001", run.window_start, run.window_end)


def test_a_failed_clean_up_after_the_load_keeps_the_run_a_success(
    linkedin_connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import etl.services

    def broken_prune(**kwargs: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(etl.services, "prune_warehouse", broken_prune)
    run = run_sync(linkedin_connection)
    assert run.status == SyncRun.Status.SUCCEEDED and run.step == SyncRun.Step.DONE
    assert any("Clean-up after the load did not finish" in note for note in run.notes)
    assert warehouse(linkedin_connection) == served("508000001", run.window_start, run.window_end)

"""Whole syncs through the chain (Celery in-process) against the Demandbase sandbox."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from connectors.demandbase.connector import Connector
from connectors.demandbase.export import ExportTiming
from connectors.models import Connection
from etl.models import AbmAccount, AbmEngagementDaily, QuarantinedRecord, SyncRun
from etl.pipeline import sync_start
from etl.services import today_utc
from sandbox.demandbase import (
    DemandbaseSandbox,
)
from tenancy.models import Organization
from tests.connectors.demandbase.truth import account_truth, engagement_truth, intent_truth
from tests.sandboxes import run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


@pytest.fixture(autouse=True)
def fast_export_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Connector, "export_timing", ExportTiming(0.01, 0.05, 10.0))


def accounts(connection: Connection) -> dict[str, tuple[Any, ...]]:
    return {
        r.account_id: (
            r.domain,
            r.name,
            r.journey_stage,
            r.engagement_minutes_7d,
            r.engagement_points_30d,
            r.intent_score,
            r.intent_keyword_count,
        )
        for r in AbmAccount.objects.filter(connection=connection)
    }


def intent(connection: Connection) -> dict[tuple[str, date], tuple[Any, ...]]:
    return {
        (r.account_id, r.date): (r.domain, r.people_researching, r.intent_strength, r.intent_keywords)
        for r in AbmEngagementDaily.objects.filter(connection=connection, intent_strength__isnull=False)
    }


def engagement(connection: Connection) -> dict[tuple[str, date], tuple[Any, ...]]:
    return {
        (r.account_id, r.date): (
            r.engagement_minutes,
            r.engagement_points,
            r.web_minutes,
            r.email_minutes,
            r.ad_minutes,
            r.page_views,
        )
        for r in AbmEngagementDaily.objects.filter(connection=connection, engagement_minutes__isnull=False)
    }


def served_intent(run: SyncRun) -> dict[tuple[str, date], tuple[Any, ...]]:
    return intent_truth(run.window_start, run.window_end, today=today_utc())


def served_engagement(run: SyncRun) -> dict[tuple[str, date], tuple[Any, ...]]:
    return engagement_truth(run.window_start, run.window_end, as_of=today_utc())


def test_first_sync_loads_exactly_what_was_served(
    demandbase_connection: Connection, demandbase_app: DemandbaseSandbox
) -> None:
    run = run_sync(demandbase_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.is_backfill and run.window_start == today_utc() - timedelta(days=29)
    assert accounts(demandbase_connection) == account_truth(today_utc())
    assert intent(demandbase_connection) == served_intent(run)
    assert engagement(demandbase_connection) == served_engagement(run) != {}
    assert run.rows["accounts"]["inserted"] == 300
    days = set(served_intent(run)) | set(served_engagement(run))
    assert len(served_intent(run)) > 100 and len(days) > len(served_intent(run))
    # Engagement days come first; intent adds the days without engagement and fills the others.
    assert run.rows["engagement"]["inserted"] == len(served_engagement(run))
    assert run.rows["engagement"]["inserted"] + run.rows["intent"]["inserted"] == len(days)
    assert len(days) == AbmEngagementDaily.objects.count()
    jobs = {job["entityType"]: job for job in demandbase_app.state()["jobs"]}
    assert run.state["export_job_id"] == jobs["account"]["jobId"]
    assert run.state["activity_export"]["export_job_id"] == jobs["activity"]["jobId"]
    demandbase_connection.refresh_from_db()
    assert demandbase_connection.status == Connection.Status.ACTIVE
    assert demandbase_connection.token_expires_at is not None


def test_second_sync_changes_nothing(
    demandbase_connection: Connection, demandbase_app: DemandbaseSandbox
) -> None:
    run_sync(demandbase_connection)
    before = (
        accounts(demandbase_connection),
        intent(demandbase_connection),
        engagement(demandbase_connection),
    )
    second = run_sync(demandbase_connection)
    assert second.status == SyncRun.Status.SUCCEEDED and not second.is_backfill
    after = (
        accounts(demandbase_connection),
        intent(demandbase_connection),
        engagement(demandbase_connection),
    )
    assert after == before and before[2]
    for stream in ("accounts", "engagement", "intent"):
        stats = second.rows[stream]
        assert stats["inserted"] == 0 and stats["updated"] == 0 and stats["deleted"] == 0
        assert stats["unchanged"] == stats["loaded"] > 0
    jobs = demandbase_app.state()["jobs"]
    # One account and one activity job per sync, each named by its sync.
    assert sorted(job["entityType"] for job in jobs) == ["account", "account", "activity", "activity"]
    assert len({job["jobName"] for job in jobs}) == 4


def test_throttling_a_500_and_an_expired_token_mid_run_lose_nothing(
    demandbase_connection: Connection, demandbase_app: DemandbaseSandbox
) -> None:
    demandbase_app.faults.add("throttle", times=2, path="/data/intent/")
    demandbase_app.faults.add("server_error", times=1, path="/data/export/v1/job/")
    demandbase_app.faults.add("expire_token", times=1, after=4, path="/data/")
    run = run_sync(demandbase_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert accounts(demandbase_connection) == account_truth(today_utc())
    assert intent(demandbase_connection) == served_intent(run)
    assert demandbase_app.faults.pending() == []
    assert demandbase_app.state()["counters"]["tokens_issued"] == 2


def test_a_job_creation_timeout_does_not_create_a_second_job(
    demandbase_connection: Connection, demandbase_app: DemandbaseSandbox, settings: Any
) -> None:
    settings.HTTP_READ_TIMEOUT_SECONDS = 0.5
    demandbase_app.faults.add("slow_job_response", seconds=1.5)
    run = run_sync(demandbase_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert accounts(demandbase_connection) == account_truth(today_utc())
    state = demandbase_app.state()  # one account job (the slow answer's), one activity job
    assert state["counters"]["jobs_created"] == 2 and state["requests"]["create_job"] == 2


def test_a_retried_extract_step_reuses_the_saved_job(
    demandbase_connection: Connection, demandbase_app: DemandbaseSandbox, settings: Any
) -> None:
    settings.HTTP_MAX_ATTEMPTS = 2
    # The intent query fails past the inline retries after the export is done: the step is retried.
    demandbase_app.faults.add("server_error", times=2, path="/data/intent/")
    run = run_sync(demandbase_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert accounts(demandbase_connection) == account_truth(today_utc())
    assert intent(demandbase_connection) == served_intent(run)
    assert engagement(demandbase_connection) == served_engagement(run)
    state = demandbase_app.state()  # both jobs' files read twice, neither job created again
    assert state["counters"]["jobs_created"] == 2 and state["requests"]["download"] == 4


def test_revoked_key_set_marks_the_connection_and_does_not_retry(
    demandbase_connection: Connection, demandbase_app: DemandbaseSandbox
) -> None:
    demandbase_app.faults.add("revoke_keyset", times=1)
    run = run_sync(demandbase_connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "AuthError"
    assert "key set" in run.error_message
    demandbase_connection.refresh_from_db()
    assert demandbase_connection.status == Connection.Status.NEEDS_REAUTH
    assert demandbase_app.state()["requests"].get("token", 0) <= 1
    assert sync_start(connection_id=demandbase_connection.pk) is None


def test_a_key_set_revoked_during_extract_marks_the_connection(
    demandbase_connection: Connection, demandbase_app: DemandbaseSandbox
) -> None:
    demandbase_app.faults.add("revoke_keyset", times=1, path="/data/intent/")
    run = run_sync(demandbase_connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "AuthError"
    demandbase_connection.refresh_from_db()
    assert demandbase_connection.status == Connection.Status.NEEDS_REAUTH


def test_malformed_records_are_quarantined_and_the_rest_loads(
    demandbase_connection: Connection, demandbase_app: DemandbaseSandbox
) -> None:
    demandbase_app.faults.add("malformed", variant="missing_id", index=10, path="/downloads/")
    demandbase_app.faults.add("malformed", variant="non_numeric_people", index=0, path="/data/intent/")
    run = run_sync(demandbase_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.rows["accounts"]["quarantined"] == 1 and run.rows["intent"]["quarantined"] == 1
    reasons = set(QuarantinedRecord.objects.filter(sync_run=run).values_list("reason", flat=True))
    assert reasons == {"account_id: missing (Account.id)", "people_researching: 'many' is not a valid int"}
    truth = account_truth(today_utc())
    loaded = accounts(demandbase_connection)
    assert len(loaded) == 299 and all(truth[key] == value for key, value in loaded.items())
    # The broken intent row is left out of its account's period; every other period is exact.
    expected, found = served_intent(run), intent(demandbase_connection)
    assert len([key for key in expected if found.get(key) != expected[key]]) <= 1
    assert any("quarantined" in note for note in run.notes)


def test_a_tenant_without_intent_access_loads_its_accounts_and_says_what_to_fix(
    organization: Organization, demandbase_app: DemandbaseSandbox
) -> None:
    from connectors.services import connection_create
    from sandbox.demandbase import EXPORT_ONLY_CLIENT_ID, EXPORT_ONLY_CLIENT_SECRET

    connection = connection_create(
        organization=organization,
        platform="demandbase",
        account_id="northwind-export-only",
        credentials={"client_id": EXPORT_ONLY_CLIENT_ID, "client_secret": EXPORT_ONLY_CLIENT_SECRET},
        check=True,
    )
    assert connection.name == "Demandbase northwind-export-only"
    run = run_sync(connection)
    assert run.status == SyncRun.Status.PARTIAL and set(run.failed_streams) == {"intent"}
    assert "403-100" in run.failed_streams["intent"] and "Intent APIs" in run.failed_streams["intent"]
    assert any(note.startswith("Demandbase: intent could not be read (") for note in run.notes)
    assert AbmAccount.objects.filter(connection=connection).count() == run.rows["accounts"]["inserted"] > 0
    # The daily engagement, a stream of its own, loads; the intent columns stay empty.
    daily = AbmEngagementDaily.objects.filter(connection=connection)
    assert daily.filter(engagement_minutes__isnull=False).count() == run.rows["engagement"]["inserted"] > 0
    assert not daily.filter(intent_strength__isnull=False).exists()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE

"""Whole Mailchimp syncs through the chain (Celery in-process) against the sandbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from connectors.mailchimp.connector import Connector
from connectors.models import Connection
from connectors.services import connection_create
from etl.models import EmailCampaign, QuarantinedRecord, RawPage, SyncRun
from etl.pipeline import sync_start
from etl.services import today_utc
from sandbox.core import SandboxServer
from sandbox.mailchimp import (
    DEMO_ACCESS_TOKEN,
    MailchimpSandbox,
    expected_campaign_rows,
)
from tenancy.models import Organization
from tests.sandboxes import Clock, run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

ACCOUNT = "40118001"
REPORTS = "/us19/3.0/reports"
DAY = 86_400


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Connector, "page_size", 3)


COUNTS = ("emails_sent", "opens", "unique_opens", "clicks", "unique_clicks", "bounces", "unsubscribes")


def warehouse(connection: Connection) -> dict[str, tuple[Any, ...]]:
    return {
        row.campaign_id: (
            row.send_time,
            *(getattr(row, name) for name in COUNTS),
            round(float(row.open_rate or 0), 6),
            round(float(row.click_rate or 0), 6),
        )
        for row in EmailCampaign.objects.filter(connection=connection)
    }


def served(app: MailchimpSandbox, run: SyncRun) -> dict[str, tuple[Any, ...]]:
    return {
        row["campaign_id"]: (
            row["send_time"],
            *(row[name] for name in COUNTS),
            round(row["open_rate"], 6),
            round(row["click_rate"], 6),
        )
        for row in expected_campaign_rows(ACCOUNT, run.window_start, run.window_end, now=app.moment())
    }


def test_first_sync_loads_exactly_what_was_served(
    mailchimp_connection: Connection, mailchimp_app: MailchimpSandbox
) -> None:
    run = run_sync(mailchimp_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.step == SyncRun.Step.DONE and run.is_backfill
    assert run.window_end == today_utc() and run.window_start == today_utc() - timedelta(days=29)
    expected = served(mailchimp_app, run)
    assert warehouse(mailchimp_connection) == expected and len(expected) > 5
    row = EmailCampaign.objects.filter(connection=mailchimp_connection).first()
    assert row is not None and row.campaign_title and row.list_name and row.subject and row.campaign_type
    assert row.platform == "mailchimp" and row.sync_run_id == run.pk
    assert run.rows["campaigns"]["inserted"] == len(expected)
    assert not RawPage.objects.filter(sync_run=run).exists()
    assert run.state["dc"] == "us19"  # the data centre is remembered for a retried step
    mailchimp_connection.refresh_from_db()
    assert (
        mailchimp_connection.status == Connection.Status.ACTIVE
        and mailchimp_connection.last_success_at is not None
    )


def test_second_sync_on_the_same_day_changes_nothing(
    mailchimp_connection: Connection, mailchimp_app: MailchimpSandbox
) -> None:
    run_sync(mailchimp_connection)
    before = warehouse(mailchimp_connection)
    second = run_sync(mailchimp_connection)
    assert second.status == SyncRun.Status.SUCCEEDED and not second.is_backfill
    assert warehouse(mailchimp_connection) == before
    stats = second.rows["campaigns"]
    assert stats["inserted"] == 0 and stats["updated"] == 0
    assert stats["unchanged"] == stats["loaded"] == len(before)


def test_a_day_later_the_reports_are_read_again(
    mailchimp_connection: Connection, mailchimp_app: MailchimpSandbox, mailchimp_clock: Clock
) -> None:
    first = run_sync(mailchimp_connection)
    before = warehouse(mailchimp_connection)
    mailchimp_clock.now += DAY  # opens and clicks keep coming in after a send
    second = run_sync(mailchimp_connection)
    assert second.status == SyncRun.Status.SUCCEEDED
    assert warehouse(mailchimp_connection) == served(mailchimp_app, first)
    assert second.rows["campaigns"]["updated"] > 0
    grown = [
        cid
        for cid, row in warehouse(mailchimp_connection).items()
        if cid in before and row[3] > before[cid][3]
    ]
    assert grown


@pytest.mark.usefixtures("small_pages")
def test_throttling_and_a_5xx_mid_run_lose_nothing(
    mailchimp_connection: Connection, mailchimp_app: MailchimpSandbox
) -> None:
    mailchimp_app.faults.add("rate_limit", times=2, after=1, path=REPORTS)
    mailchimp_app.faults.add("bare_throttle", times=1, after=2, path=REPORTS)
    mailchimp_app.faults.add("server_error", times=1, after=3, path=REPORTS)
    mailchimp_app.faults.add("server_error", times=1, path="/oauth2/metadata", status=503)
    run = run_sync(mailchimp_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert warehouse(mailchimp_connection) == served(mailchimp_app, run)
    assert mailchimp_app.faults.pending() == []


@pytest.mark.usefixtures("small_pages")
def test_a_token_revoked_mid_run_marks_the_connection_and_is_not_retried(
    mailchimp_connection: Connection, mailchimp_app: MailchimpSandbox
) -> None:
    mailchimp_app.faults.add("invalid_token", times=1, after=2, path=REPORTS)
    run = run_sync(mailchimp_connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "AuthError"
    assert "Reconnect" in run.error_message
    mailchimp_connection.refresh_from_db()
    assert mailchimp_connection.status == Connection.Status.NEEDS_REAUTH
    assert mailchimp_app.state()["requests"]["reports"] == 3  # two pages, one refusal, no retry storm
    assert not EmailCampaign.objects.filter(connection=mailchimp_connection).exists()
    assert sync_start(connection_id=mailchimp_connection.pk) is None  # no sync until reconnected


def test_a_revoked_authorization_marks_the_connection(
    mailchimp_connection: Connection, mailchimp_app: MailchimpSandbox
) -> None:
    mailchimp_app.faults.add("invalid_token", times=1, path="/oauth2/metadata")
    run = run_sync(mailchimp_connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "AuthError"
    assert "invalid_token" in run.error_message
    mailchimp_connection.refresh_from_db()
    assert mailchimp_connection.status == Connection.Status.NEEDS_REAUTH
    assert mailchimp_app.state()["requests"] == {"metadata": 1}


def test_a_permission_problem_fails_the_run_without_reauthorization(
    mailchimp_connection: Connection, mailchimp_app: MailchimpSandbox
) -> None:
    mailchimp_app.faults.add("forbidden", times=10, path=REPORTS)
    run = run_sync(mailchimp_connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "PermanentError"
    mailchimp_connection.refresh_from_db()
    assert mailchimp_connection.status == Connection.Status.FAILING
    assert mailchimp_app.state()["requests"]["reports"] == 1


def test_malformed_reports_are_quarantined_and_the_rest_loads(
    mailchimp_connection: Connection, mailchimp_app: MailchimpSandbox
) -> None:
    mailchimp_app.faults.add("malformed", times=1, path=REPORTS, variant="non_numeric_bounces", index=1)
    run = run_sync(mailchimp_connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    quarantined = QuarantinedRecord.objects.filter(sync_run=run)
    assert quarantined.count() == 1 and quarantined[0].reason == "bounces: 'n/a' is not a valid int"
    assert run.rows["campaigns"]["quarantined"] == 1
    expected = served(mailchimp_app, run)
    assert len(warehouse(mailchimp_connection)) == len(expected) - 1
    assert all(expected[cid] == row for cid, row in warehouse(mailchimp_connection).items())
    assert any("quarantined" in note for note in run.notes)


def test_registering_with_a_check_names_the_connection(
    organization: Organization, mailchimp_sandbox: SandboxServer
) -> None:
    connection = connection_create(
        organization=organization,
        platform="mailchimp",
        account_id=ACCOUNT,
        credentials={"access_token": DEMO_ACCESS_TOKEN},
    )
    assert connection.name == "Northwind Traders" and connection.token_expires_at is None

"""Whole Mailchimp syncs through the chain (Celery in-process) against the sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from connectors.mailchimp.connector import Connector
from connectors.mailchimp.sandbox import (
    DEMO_ACCESS_TOKEN,
    MailchimpSandbox,
    create_app,
    expected_campaign_rows,
)
from connectors.models import Connection
from connectors.sandbox import SandboxServer
from connectors.services import connection_create
from etl.models import EmailCampaign, QuarantinedRecord, RawPage, SyncRun
from etl.pipeline import sync_start
from etl.services import today_utc
from tenancy.models import Organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

ACCOUNT = "40118001"
REPORTS = "/us19/3.0/reports"
DAY = 86_400


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mailchimp_sandbox(settings: Any, clock: Clock) -> Iterator[SandboxServer]:
    with SandboxServer(create_app(clock=clock)) as server:
        for key, value in server.env().items():
            setattr(settings, key, value)
        yield server


@pytest.fixture
def app(mailchimp_sandbox: SandboxServer) -> MailchimpSandbox:
    sandbox = mailchimp_sandbox.app
    assert isinstance(sandbox, MailchimpSandbox)
    return sandbox


@pytest.fixture
def connection(organization: Organization, mailchimp_sandbox: SandboxServer) -> Connection:
    return connection_create(
        organization=organization,
        platform="mailchimp",
        account_id=ACCOUNT,
        credentials={"access_token": DEMO_ACCESS_TOKEN},
        check=False,
    )


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Connector, "page_size", 3)


def run_sync(connection: Connection) -> SyncRun:
    run = sync_start(connection_id=connection.pk)
    assert run is not None
    run.refresh_from_db()
    return run


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


def test_first_sync_loads_exactly_what_was_served(connection: Connection, app: MailchimpSandbox) -> None:
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.step == SyncRun.Step.DONE and run.is_backfill
    assert run.window_end == today_utc() and run.window_start == today_utc() - timedelta(days=29)
    expected = served(app, run)
    assert warehouse(connection) == expected and len(expected) > 5
    row = EmailCampaign.objects.filter(connection=connection).first()
    assert row is not None and row.campaign_title and row.list_name and row.subject and row.campaign_type
    assert row.platform == "mailchimp" and row.sync_run_id == run.pk
    assert run.rows["campaigns"]["inserted"] == len(expected)
    assert not RawPage.objects.filter(sync_run=run).exists()
    assert run.state["dc"] == "us19"  # the data centre is remembered for a retried step
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE and connection.last_success_at is not None


def test_second_sync_on_the_same_day_changes_nothing(connection: Connection, app: MailchimpSandbox) -> None:
    run_sync(connection)
    before = warehouse(connection)
    second = run_sync(connection)
    assert second.status == SyncRun.Status.SUCCEEDED and not second.is_backfill
    assert warehouse(connection) == before
    stats = second.rows["campaigns"]
    assert stats["inserted"] == 0 and stats["updated"] == 0
    assert stats["unchanged"] == stats["loaded"] == len(before)


def test_a_day_later_the_reports_are_read_again(
    connection: Connection, app: MailchimpSandbox, clock: Clock
) -> None:
    first = run_sync(connection)
    before = warehouse(connection)
    clock.now += DAY  # opens and clicks keep coming in after a send
    second = run_sync(connection)
    assert second.status == SyncRun.Status.SUCCEEDED
    assert warehouse(connection) == served(app, first)
    assert second.rows["campaigns"]["updated"] > 0
    grown = [cid for cid, row in warehouse(connection).items() if cid in before and row[3] > before[cid][3]]
    assert grown


@pytest.mark.usefixtures("small_pages")
def test_throttling_and_a_5xx_mid_run_lose_nothing(connection: Connection, app: MailchimpSandbox) -> None:
    app.faults.add("rate_limit", times=2, after=1, path=REPORTS)
    app.faults.add("bare_throttle", times=1, after=2, path=REPORTS)
    app.faults.add("server_error", times=1, after=3, path=REPORTS)
    app.faults.add("server_error", times=1, path="/oauth2/metadata", status=503)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert warehouse(connection) == served(app, run)
    assert app.faults.pending() == []


@pytest.mark.usefixtures("small_pages")
def test_a_token_revoked_mid_run_marks_the_connection_and_is_not_retried(
    connection: Connection, app: MailchimpSandbox
) -> None:
    app.faults.add("invalid_token", times=1, after=2, path=REPORTS)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "AuthError"
    assert "Reconnect" in run.error_message
    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert app.state()["requests"]["reports"] == 3  # two pages, one refusal, no retry storm
    assert not EmailCampaign.objects.filter(connection=connection).exists()
    assert sync_start(connection_id=connection.pk) is None  # no sync until reconnected


def test_a_revoked_authorization_marks_the_connection(connection: Connection, app: MailchimpSandbox) -> None:
    app.faults.add("invalid_token", times=1, path="/oauth2/metadata")
    run = run_sync(connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "AuthError"
    assert "invalid_token" in run.error_message
    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert app.state()["requests"] == {"metadata": 1}


def test_a_permission_problem_fails_the_run_without_reauthorization(
    connection: Connection, app: MailchimpSandbox
) -> None:
    app.faults.add("forbidden", times=10, path=REPORTS)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "PermanentError"
    connection.refresh_from_db()
    assert connection.status == Connection.Status.FAILING
    assert app.state()["requests"]["reports"] == 1


def test_malformed_reports_are_quarantined_and_the_rest_loads(
    connection: Connection, app: MailchimpSandbox
) -> None:
    app.faults.add("malformed", times=1, path=REPORTS, variant="non_numeric_bounces", index=1)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    quarantined = QuarantinedRecord.objects.filter(sync_run=run)
    assert quarantined.count() == 1 and quarantined[0].reason == "bounces: 'n/a' is not a valid int"
    assert run.rows["campaigns"]["quarantined"] == 1
    expected = served(app, run)
    assert len(warehouse(connection)) == len(expected) - 1
    assert all(expected[cid] == row for cid, row in warehouse(connection).items())
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

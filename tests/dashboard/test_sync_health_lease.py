"""Sync health and a run's lease: a run in flight in plain words, cancelled runs, Sync now on a held
or dead run, and Cancel.

Times are relative to ``timezone.now()``, so the tests hold on any day.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.models import Connection
from dashboard.selectors.sync import live_run, overview_connections, sync_health_get, time_ago
from etl.lease import clock, process_started_at, queued_timeout, this_host
from etl.models import SyncRun
from etl.services import sync_run_cancel
from tenancy.models import Membership, Organization
from tests.dashboard import PASSWORD, make_connection, make_org, make_user

# Nothing here is specific to PostgreSQL: `make test` runs it on the embedded default (SQLite) too.
pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

SYNC_HEALTH = reverse("dashboard:sync_health")
CONNECTION_NAME = "Northwind – DACH"


def logged_in(
    username: str, organization: Organization, *, admin: bool = False, csrf: bool = False
) -> Client:
    user = make_user(username, organization=organization)
    if admin:
        Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=username, password=PASSWORD)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def org() -> Organization:
    return make_org("Northwind")


@pytest.fixture
def conn(org: Organization) -> Connection:
    return make_connection(org, platform="linkedin_ads", account_id="508000001", name=CONNECTION_NAME)


def run_in_flight(
    connection: Connection,
    *,
    status: str = SyncRun.Status.RUNNING,
    step: str = SyncRun.Step.EXTRACT,
    heartbeat_ago: float = 12,
    lease_left: float | None = 288,
    **fields: Any,
) -> SyncRun:
    """A run in flight with a lease: by default owned by this very process, beating 12 s ago."""
    now = timezone.now()
    heartbeat = now - timedelta(seconds=heartbeat_ago)
    values: dict[str, Any] = {
        "owner_host": this_host(),
        "owner_pid": os.getpid(),
        "owner_started_at": process_started_at(os.getpid()),
        "owner_task_id": "5b0c2f1e-task",
        "lease_token": "a" * 32,
        "heartbeat_at": heartbeat,
        "lease_expires_at": None if lease_left is None else now + timedelta(seconds=lease_left),
        "started_at": now - timedelta(minutes=2),
        **fields,
    }
    return SyncRun.objects.create(
        connection=connection,
        status=status,
        step=step,
        window_start=date.today() - timedelta(days=29),
        window_end=date.today(),
        **values,
    )


def page(client: Client, url: str = SYNC_HEALTH) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    """The words of a page, as a reader sees them: tags removed, white space collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def cancel_url(run: SyncRun) -> str:
    return reverse("dashboard:sync_run_cancel", args=[run.pk])


def sync_now_url(connection: Connection) -> str:
    return reverse("dashboard:connection_sync_now", args=[connection.pk])


def exited_process_id() -> int:
    """The id of a process of this host that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --------------------------------------------------------------------------------------------
# A run in flight, in plain words
# --------------------------------------------------------------------------------------------


class TestRunInFlight:
    def test_page_shows_its_step_owner_and_heartbeat(self, org: Organization, conn: Connection) -> None:
        run = run_in_flight(conn)

        html = page(logged_in("ann", org))

        assert "Extracting…" in html
        assert f"Run by process {os.getpid()} on {this_host()}" in html
        assert re.search(r"last heartbeat 1[2-9] s ago", text(html))  # a few seconds may pass meanwhile
        assert 'class="badge badge--run-running">Running<' in html
        assert f'data-live-run="{run.pk}"' in html
        assert "No sign of life" not in html
        assert "Waiting until" not in html

    def test_queued_run_waits_for_a_worker(self, org: Organization, conn: Connection) -> None:
        run_in_flight(
            conn,
            status=SyncRun.Status.QUEUED,
            step=SyncRun.Step.REFRESH,
            owner_host="",
            owner_pid=None,
            owner_started_at=None,
            owner_task_id="",
            heartbeat_ago=180,
            lease_left=queued_timeout().total_seconds() - 180,
        )

        html = page(logged_in("ann", org))

        assert "Refreshing token…" in html
        assert "Waiting for a worker · last heartbeat 3 min ago" in text(html)
        assert "No sign of life" not in html

    def test_a_deliberate_wait_is_shown_as_waiting_not_as_a_problem(
        self, org: Organization, conn: Connection
    ) -> None:
        until = timezone.now() + timedelta(minutes=5)
        # A step handed to a Celery retry: owned by nobody until then (etl.lease.lease_wait_for_retry).
        run_in_flight(
            conn,
            owner_host="",
            owner_pid=None,
            owner_started_at=None,
            owner_task_id="",
            heartbeat_ago=3,
            lease_left=(until - timezone.now() + queued_timeout()).total_seconds(),
            waiting_until=until,
            waiting_reason=f"Waiting until {clock(until)}: LinkedIn Ads asked us to slow down (429).",
        )

        html = page(logged_in("ann", org))

        expected = f"Waiting until {clock(until)}: LinkedIn Ads asked us to slow down (429)."
        assert html.count(expected) == 2  # the connection's row and the run's row
        assert "Waiting until" not in html.replace(expected, "")  # said once, not twice
        assert 'class="badge badge--run-waiting">Waiting<' in html
        assert "No sign of life" not in html
        [item] = overview_connections(organization=org)
        assert item.problem == ""

    def test_a_wait_inside_a_step_keeps_its_owner(self, org: Organization, conn: Connection) -> None:
        until = timezone.now() + timedelta(seconds=90)
        run = run_in_flight(
            conn,
            heartbeat_ago=1,
            lease_left=390,
            waiting_until=until,
            waiting_reason="LinkedIn Ads asked us to slow down; waiting 90 s",
        )

        live = live_run(run)

        assert live is not None
        assert live.is_waiting and not live.is_stale
        assert (
            live.waiting == f"Waiting until {clock(until)}: LinkedIn Ads asked us to slow down; waiting 90 s"
        )
        assert live.owner == f"process {os.getpid()} on {this_host()}"
        assert live.summary.startswith(
            f"run {run.pk}, extracting, waiting until {clock(until)}, last heartbeat"
        )
        assert live.warning == ""

    def test_a_lapsed_lease_shows_the_warning(self, org: Organization, conn: Connection) -> None:
        run = run_in_flight(
            conn,
            owner_host="worker-9.internal",
            owner_pid=4242,
            owner_started_at=1.0,
            heartbeat_ago=20 * 60,
            lease_left=-15 * 60,
        )
        assert run.heartbeat_at is not None

        html = page(logged_in("ann", org))

        warning = (
            f"No sign of life since {clock(run.heartbeat_at)}: the next sync (or Sync now) takes it over."
        )
        assert warning in html
        assert "stopped renewing its lease" in html
        assert "Run by process 4242 on worker-9.internal" in html
        assert "20 min ago" in html

    def test_an_owner_process_that_is_gone_shows_the_warning_at_once(
        self, org: Organization, conn: Connection
    ) -> None:
        pid = exited_process_id()
        run_in_flight(conn, owner_pid=pid, owner_started_at=None, heartbeat_ago=5, lease_left=295)

        html = page(logged_in("ann", org))

        assert "No sign of life since" in html
        assert "The process running this sync stopped at" in html
        assert f"Run by process {pid} on {this_host()}" in html

    def test_a_waiting_run_whose_retry_never_started_is_stale_not_waiting(
        self, org: Organization, conn: Connection
    ) -> None:
        until = timezone.now() - timedelta(hours=2)
        run = run_in_flight(
            conn,
            owner_host="",
            owner_pid=None,
            owner_started_at=None,
            heartbeat_ago=3 * 3600,
            lease_left=-1,
            waiting_until=until,
            waiting_reason="LinkedIn Ads asked us to slow down.",
        )

        live = live_run(run)

        assert live is not None and live.is_stale and not live.is_waiting
        assert live.waiting == ""
        assert live.warning.startswith("No sign of life since")
        assert "never started" in live.stale_detail

    def test_page_queries_do_not_depend_on_runs_in_flight(self, org: Organization, conn: Connection) -> None:
        from django.db import connection as db_connection
        from django.test.utils import CaptureQueriesContext

        client = logged_in("ann", org)
        with CaptureQueriesContext(db_connection) as before:
            page(client)
        run_in_flight(conn)
        other = make_connection(org, platform="mailchimp", account_id="u1")
        run_in_flight(other, owner_pid=4242, owner_host="elsewhere", heartbeat_ago=3600, lease_left=-60)
        with CaptureQueriesContext(db_connection) as after:
            page(client)
        assert len(after.captured_queries) == len(before.captured_queries)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "just now"),
        (12, "12 s ago"),
        (59, "59 s ago"),
        (180, "3 min ago"),
        (7200, "2 h ago"),
        (7500, "2 h 5 min ago"),
        (86400, "1 day ago"),
        (3 * 86400, "3 days ago"),
    ],
)
def test_time_ago(seconds: int, text: str) -> None:
    now = timezone.now()
    assert time_ago(now - timedelta(seconds=seconds), now) == text


# --------------------------------------------------------------------------------------------
# Cancelled runs
# --------------------------------------------------------------------------------------------


class TestCancelledRuns:
    def test_shown_as_cancelled_with_the_reason_not_as_a_problem(
        self, org: Organization, conn: Connection
    ) -> None:
        run = run_in_flight(conn)
        reason = "Cancelled by boss at 09:14 UTC during extract."
        sync_run_cancel(sync_run_id=run.pk, reason=reason)

        html = page(logged_in("ann", org))

        assert html.count('class="badge badge--run-cancelled">Cancelled<') == 2  # connection and history
        assert "badge--run-failed" not in html and "badge--run-succeeded" not in html
        assert "cancelled while extracting" in html
        assert f'<div class="run-note">{reason}</div>' in html
        assert f'<div class="problem">{reason}</div>' not in html
        assert "rows loaded" not in html
        health = sync_health_get(organization=org)
        [item] = health.connections
        assert item.problem == "" and item.last_run_note == reason and item.live is None
        assert item.last_run_rows is None
        [row] = health.runs
        assert row.problem == "" and row.note == reason and row.step_note == "while extracting"

    def test_a_failed_run_is_still_a_problem(self, org: Organization, conn: Connection) -> None:
        run = run_in_flight(conn)
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.FAILED, finished_at=timezone.now(), error_message="LinkedIn did not answer."
        )
        health = sync_health_get(organization=org)
        assert health.connections[0].problem == "LinkedIn did not answer."
        assert health.connections[0].last_run_note == ""
        assert health.runs[0].problem == "LinkedIn did not answer." and health.runs[0].note == ""


# --------------------------------------------------------------------------------------------
# Sync now
# --------------------------------------------------------------------------------------------


class TestSyncNow:
    def test_on_a_held_connection_says_who_holds_it(self, org: Organization, conn: Connection) -> None:
        run = run_in_flight(conn)

        response = logged_in("ann", org).post(sync_now_url(conn), {"next": SYNC_HEALTH}, follow=True)

        html = response.content.decode()
        assert re.search(
            rf"A LinkedIn Ads sync of {CONNECTION_NAME} is already running "
            rf"\(run {run.pk}, extracting, last heartbeat 1[2-9] s ago\); it was not started twice\.",
            html,
        ), html
        assert SyncRun.objects.filter(connection=conn).count() == 1

    def test_on_a_run_waiting_on_purpose_says_until_when(self, org: Organization, conn: Connection) -> None:
        until = timezone.now() + timedelta(minutes=4)
        run = run_in_flight(
            conn, heartbeat_ago=2, lease_left=600, waiting_until=until, waiting_reason="Slow down"
        )

        response = logged_in("ann", org).post(sync_now_url(conn), {"next": SYNC_HEALTH}, follow=True)

        assert f"(run {run.pk}, extracting, waiting until {clock(until)}, last heartbeat" in (
            response.content.decode()
        )
        assert SyncRun.objects.filter(connection=conn).count() == 1

    def test_on_a_stale_run_takes_it_over_and_says_so(self, org: Organization, conn: Connection) -> None:
        stale = run_in_flight(
            conn,
            owner_host="worker-9.internal",
            owner_pid=4242,
            heartbeat_ago=20 * 60,
            lease_left=-15 * 60,
        )
        assert stale.heartbeat_at is not None

        response = logged_in("ann", org).post(sync_now_url(conn), {"next": SYNC_HEALTH}, follow=True)

        stale.refresh_from_db()
        assert stale.status == SyncRun.Status.FAILED and stale.error_class == "Abandoned"
        new = SyncRun.objects.filter(connection=conn).exclude(pk=stale.pk).get()
        assert new.status in SyncRun.IN_FLIGHT
        html = response.content.decode()
        expected = (
            f"The previous LinkedIn Ads sync of {CONNECTION_NAME} had stopped (the process running this sync "
            f"stopped renewing its lease at {clock(stale.heartbeat_at)} during extract (no heartbeat for 20 min)); "
            "a new sync started."
        )
        assert expected in html, html
        assert "message--warning" in html
        # The old run is in the history as taken over, in words.
        assert "a new sync took over." in html

    def test_an_idle_connection_starts_as_before(self, org: Organization, conn: Connection) -> None:
        finished = run_in_flight(conn)
        SyncRun.objects.filter(pk=finished.pk).update(
            status=SyncRun.Status.SUCCEEDED, step=SyncRun.Step.DONE, finished_at=timezone.now()
        )

        response = logged_in("ann", org).post(sync_now_url(conn), {"next": SYNC_HEALTH}, follow=True)

        assert (
            f"Sync started for {CONNECTION_NAME} (LinkedIn Ads, account {conn.account_id})."
            in response.content.decode()
        )
        assert SyncRun.objects.filter(connection=conn).count() == 2


# --------------------------------------------------------------------------------------------
# Cancel
# --------------------------------------------------------------------------------------------


class TestCancel:
    def test_admins_see_the_button_members_do_not(self, org: Organization, conn: Connection) -> None:
        run = run_in_flight(conn)
        admin_html = page(logged_in("boss", org, admin=True))
        member_html = page(logged_in("ann", org))
        form = f'<form method="post" action="{cancel_url(run)}"'
        assert admin_html.count(form) == 2  # the connection's row and the run's row
        assert "csrfmiddlewaretoken" in admin_html
        assert form not in member_html and cancel_url(run) not in member_html

    def test_no_button_on_a_finished_run(self, org: Organization, conn: Connection) -> None:
        run = run_in_flight(conn)
        SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.SUCCEEDED, step=SyncRun.Step.DONE)
        assert cancel_url(run) not in page(logged_in("boss", org, admin=True))

    def test_admin_cancels_a_run_in_flight(self, org: Organization, conn: Connection) -> None:
        run = run_in_flight(conn)
        client = logged_in("boss", org, admin=True)

        before = timezone.now()
        response = client.post(cancel_url(run), {"next": f"{SYNC_HEALTH}?connection={conn.pk}"})
        after = timezone.now()

        assert response.status_code == 302
        assert response["Location"] == f"{SYNC_HEALTH}?connection={conn.pk}"
        run.refresh_from_db()
        assert run.status == SyncRun.Status.CANCELLED
        assert run.error_class == "Cancelled"
        assert run.error_message in {
            f"Cancelled by boss at {clock(moment)} during extract." for moment in (before, after)
        }
        assert run.finished_at is not None
        assert [
            f"Run {run.pk} (LinkedIn Ads sync of {CONNECTION_NAME}) was cancelled; nothing of it was loaded."
        ] == (messages_of(client.get(SYNC_HEALTH)))
        html = page(client)
        assert run.error_message in html and "badge--run-cancelled" in html

    def test_defaults_back_to_sync_health_and_never_elsewhere(
        self, org: Organization, conn: Connection
    ) -> None:
        run = run_in_flight(conn)
        response = logged_in("boss", org, admin=True).post(cancel_url(run), {"next": "https://evil.example/"})
        assert response.status_code == 302
        assert response["Location"] == SYNC_HEALTH

    def test_members_are_refused(self, org: Organization, conn: Connection) -> None:
        run = run_in_flight(conn)
        response = logged_in("ann", org).post(cancel_url(run))
        assert response.status_code == 403
        run.refresh_from_db()
        assert run.status == SyncRun.Status.RUNNING

    def test_another_organizations_run_is_not_found(self, org: Organization, conn: Connection) -> None:
        theirs = run_in_flight(make_connection(make_org("Contoso"), account_id="99"))
        response = logged_in("boss", org, admin=True).post(cancel_url(theirs))
        assert response.status_code == 404
        theirs.refresh_from_db()
        assert theirs.status == SyncRun.Status.RUNNING

    def test_an_unknown_run_is_not_found(self, org: Organization) -> None:
        response = logged_in("boss", org, admin=True).post(
            reverse("dashboard:sync_run_cancel", args=[999999])
        )
        assert response.status_code == 404

    def test_a_run_no_longer_in_flight_gives_a_message(self, org: Organization, conn: Connection) -> None:
        run = run_in_flight(conn)
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.SUCCEEDED, step=SyncRun.Step.DONE, finished_at=timezone.now()
        )
        client = logged_in("boss", org, admin=True)

        response = client.post(cancel_url(run), follow=True)

        assert response.status_code == 200
        assert response.redirect_chain == [(SYNC_HEALTH, 302)]
        assert (
            f"Run {run.pk} (LinkedIn Ads sync of {CONNECTION_NAME}) had already ended (succeeded); "
            "there was nothing to cancel." in response.content.decode()
        )
        run.refresh_from_db()
        assert run.status == SyncRun.Status.SUCCEEDED

    def test_post_only_with_csrf(self, org: Organization, conn: Connection) -> None:
        run = run_in_flight(conn)
        assert logged_in("boss", org, admin=True).get(cancel_url(run)).status_code == 405
        assert logged_in("root", org, admin=True, csrf=True).post(cancel_url(run)).status_code == 403
        run.refresh_from_db()
        assert run.status == SyncRun.Status.RUNNING

    def test_login_required(self, conn: Connection) -> None:
        run = run_in_flight(conn)
        response = Client().post(cancel_url(run))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_sync_health_lists_the_api_versions_and_warns_before_a_sunset(settings: Any) -> None:
    from django.test import Client
    from django.urls import reverse

    from tests.dashboard import PASSWORD, make_connection, make_org, make_user

    organization = make_org("Versions")
    make_connection(organization, platform="linkedin_ads", account_id="508000001")
    client = Client()
    client.login(username=make_user("versions", organization=organization).username, password=PASSWORD)
    page = client.get(reverse("dashboard:sync_health")).content.decode()
    assert 'id="api-versions"' in page and 'data-platform="google_ads"' in page and "data-api-version-warning" not in page
    # A LinkedIn version served until the first of next month, whatever today is: within 60 days.
    today = timezone.now().date()
    first_of_next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    version = f"{first_of_next_month.year - 1}{first_of_next_month.month:02d}"
    settings.LINKEDIN_ADS_API_VERSION = version
    page = client.get(reverse("dashboard:sync_health")).content.decode()
    assert "data-api-version-warning" in page and f"LinkedIn Ads stops serving API version {version}" in page

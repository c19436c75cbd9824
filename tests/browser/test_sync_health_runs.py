"""Sync health in a real browser while runs are in flight: one working, one waiting on purpose,
one whose process is gone, and an administrator cancelling the working one.

The screenshot is saved as test-artifacts/browser/15-sync-health-runs-in-flight.png.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from django.utils import timezone

from connectors.models import Connection
from connectors.services import connection_create
from etl.models import SyncRun
from etl.services import sync_run_create_if_idle
from sandbox.core import SandboxServer
from sandbox.linkedin_ads import DEMO_REFRESH_TOKEN
from tenancy.models import Organization
from tests.browser.test_dashboard import PASSWORD, USERNAME, marketer, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["marketer"]  # the fixture, used by name


def connect(organization: Organization, account_id: str, name: str) -> Connection:
    return connection_create(
        organization=organization,
        platform="linkedin_ads",
        account_id=account_id,
        credentials={"refresh_token": DEMO_REFRESH_TOKEN},
        options={},
        name=name,
        check=False,
    )


def extracting(connection: Connection, **lease: Any) -> SyncRun:
    run = sync_run_create_if_idle(connection_id=connection.pk)
    assert run is not None
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING, step=SyncRun.Step.EXTRACT, **lease)
    return run


def gone_process() -> tuple[int, float]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    started = psutil.Process(proc.pid).create_time()
    proc.wait()
    return proc.pid, started


def test_runs_in_flight_read_in_plain_words_and_an_admin_cancels_one(
    page: Any, live_server: Any, linkedin_sandbox: SandboxServer, marketer: Organization, artifacts: Path
) -> None:
    now = timezone.now()
    working = extracting(connect(marketer, "508000001", "Demand Gen"))  # owned by this live process
    waiting = extracting(
        connect(marketer, "508000002", "DACH"),
        owner_pid=None,
        owner_host="",
        heartbeat_at=now - timedelta(minutes=2),
        waiting_until=now + timedelta(hours=2),
        waiting_reason="LinkedIn Ads asked us to slow down (429 TOO_MANY_REQUESTS)",
        lease_expires_at=now + timedelta(hours=3),
    )
    pid, started = gone_process()
    stale = extracting(
        connect(marketer, "508000003", "Nordics"),
        owner_host=socket.gethostname(),
        owner_pid=pid,
        owner_started_at=started,
        heartbeat_at=now - timedelta(minutes=3),
    )

    page.goto(live_server.url + "/sync/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("#connections-table")

    def row(run: SyncRun) -> Any:
        return page.locator(f"#connections-table tr[data-connection='{run.connection_id}']")

    assert f"Run by process {os.getpid()} on {socket.gethostname()}" in row(working).inner_text()
    assert "Extracting" in row(working).inner_text()
    waiting_text = row(waiting).inner_text()
    assert "Waiting until" in waiting_text and "asked us to slow down" in waiting_text
    assert "No sign of life" not in waiting_text
    stale_text = row(stale).inner_text()
    assert "No sign of life since" in stale_text and "takes it over" in stale_text
    shot(page, artifacts, "15-sync-health-runs-in-flight")

    row(working).locator(f"button[aria-label='Cancel run {working.pk}']").click()
    page.wait_for_selector(".message--success:has-text('was cancelled')")
    working.refresh_from_db()
    assert working.status == SyncRun.Status.CANCELLED
    assert working.error_message.startswith(f"Cancelled by {USERNAME} at ")
    assert "Cancelled" in row(working).inner_text()
    shot(page, artifacts, "16-sync-health-cancelled")

"""Through a real worker and beat on Redis: Sync health sees beat's ticks and the worker, and warns
once beat is gone; a platform throttled for hours does not hold back another platform's sync."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.models import Connection
from dashboard.selectors.liveness import liveness_get
from dashboard.selectors.sync import sync_health_get
from etl.models import BeatHeartbeat, SyncRun, WorkerHeartbeat
from etl.queues import declared_queues
from sandbox.google_ads import GoogleAdsSandbox
from tests.dashboard import PASSWORD, make_user
from tests.integration.conftest import BROKER_URL, CeleryProcesses, wait_for
from tests.sandboxes import Sandboxes

pytestmark = pytest.mark.worker

SYNC_HEALTH = reverse("dashboard:sync_health")


@pytest.fixture
def with_the_broker(settings: Any) -> None:
    """This process reads Sync health as the web does beside those workers: with the Redis broker."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = BROKER_URL
    settings.SCHEDULER_SILENT_SECONDS = 5


def next_run_warning(connection: Connection) -> str:
    health = sync_health_get(organization=connection.organization)
    (item,) = health.connections
    return item.schedule_warning


def test_sync_health_sees_beat_and_the_worker_then_warns_when_beat_dies(
    celery_processes: CeleryProcesses, linkedin_connection: Connection, with_the_broker: None
) -> None:
    started = timezone.now()
    celery_processes.env["WORKER_HEARTBEAT_SECONDS"] = "1"
    celery_processes.start_worker()
    beat = celery_processes.start_beat()
    wait_for(
        lambda: BeatHeartbeat.objects.filter(ticked_at__gt=started + timedelta(seconds=2)).exists(),
        timeout=60,
        what="beat's ticks",
        logs=celery_processes,
    )
    worker = WorkerHeartbeat.objects.get()
    assert worker.hostname.startswith("test-worker@") and worker.concurrency == 1
    assert sorted(worker.queues) == sorted(declared_queues())

    live = liveness_get()
    assert live.scheduler_alive and live.scheduler_status.startswith("Last tick ")
    assert [w.hostname for w in live.workers if w.alive] == [worker.hostname]
    assert {q.name: (q.waiting, q.consumers) for q in live.queues} == {
        name: (0, [worker.hostname]) for name in declared_queues()
    }
    assert next_run_warning(linkedin_connection) == ""
    client = Client()
    user = make_user("ana", organization=linkedin_connection.organization)
    assert client.login(username=user.username, password=PASSWORD)
    page = client.get(SYNC_HEALTH).content.decode()
    assert 'data-scheduler-status="alive"' in page and "data-schedule-warning" not in page

    # beat dies without a word (no clean shutdown to record): its silence is what tells.
    os.killpg(beat.pid, signal.SIGKILL)
    beat.wait(timeout=10)
    died = time.monotonic()
    warning = wait_for(
        lambda: next_run_warning(linkedin_connection), timeout=30, what="the warning", logs=celery_processes
    )
    assert time.monotonic() - died < 15  # SCHEDULER_SILENT_SECONDS (5 here; 60 by default) and a tick
    assert warning == (
        "No scheduler is running: this run will not happen. Start beat with `celery -A sales_dashboard beat`."
    )
    page = client.get(SYNC_HEALTH).content.decode()
    assert 'data-scheduler-status="silent"' in page and "this run will not happen" in page
    assert liveness_get().workers[0].alive  # the worker is still there: only the scheduler is missing


def test_a_google_ads_connection_throttled_for_hours_does_not_delay_a_linkedin_sync(
    celery_processes: CeleryProcesses,
    linkedin_connection: Connection,
    sandboxes: Sandboxes,
) -> None:
    google_ads = sandboxes.app("google_ads", GoogleAdsSandbox)
    google_connection = sandboxes.connect("google_ads", linkedin_connection.organization)
    # Every Ads API call is refused (RESOURCE_EXHAUSTED, retry in a minute), all afternoon long.
    google_ads.faults.add("rate_limit", times=100_000, retry_delay_seconds=60)
    celery_processes.env.update(sandboxes.serve("google_ads").env())
    # One worker process for every queue: a step sleeping through the platform's wait would hold it.
    celery_processes.start_worker(concurrency=1)

    celery_processes.client.send_task(
        "dashboard.sync_platform_data", kwargs={"platform": "google_ads"}, queue="sync"
    )
    waiting = wait_for(
        lambda: SyncRun.objects.filter(connection=google_connection, waiting_until__isnull=False).first(),
        timeout=60,
        what="the Google Ads run to wait for its quota",
        logs=celery_processes,
    )
    assert "Google Ads API quota exhausted" in waiting.waiting_reason

    queued_at = time.monotonic()
    celery_processes.client.send_task(
        "dashboard.sync_platform_data", kwargs={"platform": "linkedin_ads"}, queue="sync"
    )
    linkedin_run = wait_for(
        lambda: SyncRun.objects.filter(connection=linkedin_connection, step=SyncRun.Step.DONE).first(),
        timeout=60,
        what="the LinkedIn sync",
        logs=celery_processes,
    )
    took = time.monotonic() - queued_at
    assert linkedin_run.status == SyncRun.Status.SUCCEEDED, linkedin_run.error_message
    assert linkedin_run.rows_loaded > 0
    # Promptly: well inside the minute the Google Ads quota still has to go (and its retries after).
    assert took < 30, f"the LinkedIn sync took {took:.0f} s"
    google_run = SyncRun.objects.get(pk=waiting.pk)
    assert google_run.status in SyncRun.IN_FLIGHT and google_run.waiting_until is not None
    assert google_run.waiting_until > timezone.now()  # still throttled while LinkedIn finished
    worker_log = celery_processes.log("worker")
    assert "Retry in" in worker_log  # the wait went back to the broker as a Celery retry

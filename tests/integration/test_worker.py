"""Syncs through a real Celery worker and beat, over the real Redis broker and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from connectors.models import Connection
from dashboard.cache_warm import dashboard_viewed
from etl.models import AdPerformanceDaily, SyncRun
from sandbox.linkedin_ads import LinkedInAdsSandbox, expected_daily_rows
from tests.integration.conftest import BROKER_URL, CeleryProcesses, wait_for

pytestmark = pytest.mark.worker

# The cache the workers use (base settings with REDIS_URL = the broker's database).
WORKER_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": BROKER_URL,
        "KEY_PREFIX": "sales_dashboard",
    }
}


def warehouse(connection: Connection) -> list[tuple[Any, ...]]:
    return sorted(
        (r.campaign_id, r.date, r.impressions, r.clicks, Decimal(r.spend))
        for r in AdPerformanceDaily.objects.filter(connection=connection)
    )


def served(run: SyncRun) -> list[tuple[Any, ...]]:
    rows = expected_daily_rows(run.connection.account_id, run.window_start, run.window_end)
    return sorted((r["campaign_id"], r["date"], r["impressions"], r["clicks"], r["cost"]) for r in rows)


def finished_run(connection: Connection) -> SyncRun | None:
    run = SyncRun.objects.filter(connection=connection).order_by("-pk").select_related("connection").first()
    if run and (run.status == SyncRun.Status.FAILED or run.step == SyncRun.Step.DONE):
        return run
    return None


def test_beat_schedules_a_sync_that_the_worker_runs_end_to_end(
    celery_processes: CeleryProcesses, linkedin_connection: Connection
) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="test: sync linkedin now",
        task="dashboard.sync_platform_data",
        interval=every_second,
        kwargs=json.dumps({"platform": "linkedin_ads"}),
        one_off=True,
    )
    # A member has the organization's dashboards open lately (noted in the workers' shared cache).
    with override_settings(CACHES=WORKER_CACHES):
        dashboard_viewed(organization_id=linkedin_connection.organization_id)
    celery_processes.start_worker()
    celery_processes.start_beat()

    run = wait_for(
        lambda: finished_run(linkedin_connection), timeout=90, what="the sync", logs=celery_processes
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.trigger == "schedule" and len(set(run.task_ids)) == 5
    worker_log = celery_processes.log("worker")
    assert all(task_id in worker_log for task_id in run.task_ids)
    assert warehouse(linkedin_connection) == served(run)
    assert len(warehouse(linkedin_connection)) > 0
    assert "sync.load" in celery_processes.log("worker")
    assert "dashboard.sync_platform_data" in celery_processes.log("beat")
    # After the sync, the organization's default dashboard views are computed by the worker.
    wait_for(
        lambda: re.search(r"dashboard\.cache_warm\[[^]]+\] succeeded", celery_processes.log("worker")),
        timeout=60,
        what="the dashboard warm-up",
        logs=celery_processes,
    )


def test_a_worker_killed_during_extract_is_redelivered_and_loads_exactly_once(
    celery_processes: CeleryProcesses, linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox
) -> None:
    linkedin_app.faults.add("delay", times=1, path="/rest/adAnalytics", seconds=4)
    celery_processes.start_worker()
    celery_processes.client.send_task(
        "dashboard.sync_platform_data", kwargs={"platform": "linkedin_ads"}, queue="sync"
    )

    wait_for(
        lambda: (
            SyncRun.objects.filter(connection=linkedin_connection, step=SyncRun.Step.EXTRACT).exists()
            and linkedin_app.requests.get("ad_analytics", 0) >= 1
        ),
        timeout=60,
        what="the extract step to start",
        logs=celery_processes,
    )
    for child in celery_processes.children():
        os.kill(child, signal.SIGKILL)  # the pool process running the extract dies mid-request

    run = wait_for(
        lambda: finished_run(linkedin_connection),
        timeout=90,
        what="the redelivered sync",
        logs=celery_processes,
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert linkedin_app.requests.get("ad_analytics", 0) >= 2  # the extract ran again
    assert SyncRun.objects.filter(connection=linkedin_connection).count() == 1
    rows = warehouse(linkedin_connection)
    assert rows == served(run) and len(rows) == len(set(rows))
    assert "WorkerLostError" in celery_processes.log("worker") or "exited" in celery_processes.log("worker")

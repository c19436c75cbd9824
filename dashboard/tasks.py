"""Celery tasks: thin interfaces over plain functions. They take ids and return ids.

The five steps of one sync share ``SyncStepTask`` (retries for transient errors and rate limits,
failures recorded on the SyncRun). The entry tasks are what beat and the command run.

A sync reports through its SyncRun, so the steps and the sync entry tasks keep no result in the
result backend (nobody reads one; Flower still sees each task through the workers' events). The
maintenance tasks keep theirs: ``start_background_syncs --cleanup`` waits for it.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from etl.task_base import SyncStepTask

STEP: dict[str, Any] = {"base": SyncStepTask, "bind": True, "queue": "sync", "ignore_result": True}


@shared_task(name="sync.refresh_token", **STEP)
def refresh_token_task(self: SyncStepTask, sync_run_id: int) -> int:
    from etl.services import sync_run_refresh

    sync_run_refresh(sync_run_id=sync_run_id)
    return sync_run_id


@shared_task(name="sync.extract", **STEP)
def extract_task(self: SyncStepTask, sync_run_id: int) -> int:
    from etl.services import sync_run_extract

    sync_run_extract(sync_run_id=sync_run_id)
    return sync_run_id


@shared_task(name="sync.normalize", **STEP)
def normalize_task(self: SyncStepTask, sync_run_id: int) -> int:
    from etl.services import sync_run_normalize

    sync_run_normalize(sync_run_id=sync_run_id)
    return sync_run_id


@shared_task(name="sync.load", **STEP)
def load_task(self: SyncStepTask, sync_run_id: int) -> int:
    from etl.services import sync_run_load

    sync_run_load(sync_run_id=sync_run_id)
    return sync_run_id


@shared_task(name="sync.prune", **{**STEP, "queue": "maintenance"})
def prune_task(self: SyncStepTask, sync_run_id: int) -> int:
    from dashboard.services import dashboard_cache_warm_schedule
    from etl.services import sync_run_prune

    organization_id = sync_run_prune(sync_run_id=sync_run_id)
    dashboard_cache_warm_schedule(organization_id=organization_id, sync_run_id=sync_run_id)
    return sync_run_id


@shared_task(
    name="dashboard.cache_warm",
    acks_late=True,
    ignore_result=True,
    queue="maintenance",
    soft_time_limit=5 * 60,
    time_limit=6 * 60,
)
def cache_warm_task(organization_id: int) -> None:
    from dashboard.cache_warm import dashboard_cache_warm

    dashboard_cache_warm(organization_id=organization_id)


@shared_task(name="dashboard.sync_all_platform_data", acks_late=True, ignore_result=True)
def sync_all_platform_data(organization_slug: str | None = None) -> list[int]:
    from dashboard.services import syncs_start

    return [run.pk for run in syncs_start(organization_slug=organization_slug, trigger="schedule").started]


@shared_task(name="dashboard.sync_platform_data", acks_late=True, ignore_result=True)
def sync_platform_data(platform: str, organization_slug: str | None = None) -> list[int]:
    from dashboard.services import syncs_start

    batch = syncs_start(platform=platform, organization_slug=organization_slug, trigger="schedule")
    return [run.pk for run in batch.started]


@shared_task(name="dashboard.cleanup_old_data", acks_late=True, queue="maintenance")
def cleanup_old_data() -> dict[str, int]:
    from etl.services import cleanup_old_data as cleanup

    return cleanup()


@shared_task(name="dashboard.refresh_expired_tokens", acks_late=True, queue="maintenance")
def refresh_expired_tokens() -> dict[str, int]:
    from dashboard.services import tokens_refresh_expiring

    return tokens_refresh_expiring(within_seconds=settings.TOKEN_REFRESH_AHEAD_SECONDS)

"""The steps of a sync as Celery tasks: thin interfaces over ``etl.services``, taking and returning the
run's id. They share ``SyncStepTask`` (retries for transient errors and rate limits, failures recorded
on the SyncRun). A sync reports through its SyncRun, so the steps keep no result in the result
backend (nobody reads one; Flower still sees each task through the workers' events).

The task names (``sync.*``) are what workers route and beat rows name: they stay as they are.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

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
    from etl.services import sync_run_prune
    from etl.signals import sync_finished

    organization_id = sync_run_prune(sync_run_id=sync_run_id)
    sync_finished.send(sender=SyncStepTask, organization_id=organization_id, sync_run_id=sync_run_id)
    return sync_run_id

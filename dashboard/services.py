"""Orchestration: starting syncs (guarded), refreshing tokens, installing the schedule."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from celery import chain
from django.db import transaction

from connectors.errors import AuthError, ConnectorError
from connectors.registry import get_connector_class
from connectors.selectors import connection_list_syncable, connection_list_tokens_expiring
from connectors.services import connection_refresh_token
from dashboard.schedules import periodic_schedules
from etl.models import SyncRun
from etl.services import sync_run_add_task_ids, sync_run_create_if_idle, sync_run_fail

logger = logging.getLogger(__name__)


def sync_chain(*, sync_run_id: int) -> chain:
    from dashboard.tasks import extract_task, load_task, normalize_task, prune_task, refresh_token_task

    return chain(
        refresh_token_task.si(sync_run_id),
        extract_task.si(sync_run_id),
        normalize_task.si(sync_run_id),
        load_task.si(sync_run_id),
        prune_task.si(sync_run_id),
    )


def sync_start(*, connection_id: int, trigger: str = "manual") -> SyncRun | None:
    """Queue one sync of a connection; None if one is already in flight (or it cannot sync)."""
    with transaction.atomic():
        run = sync_run_create_if_idle(connection_id=connection_id, trigger=trigger)
        if run is None:
            return None
        steps = sync_chain(sync_run_id=run.pk)
        # Each step gets its id now, so the run can name its tasks before they are sent.
        task_ids = [str(task.freeze().id) for task in steps.tasks]
        sync_run_add_task_ids(sync_run_id=run.pk, task_ids=task_ids)
        run.task_ids = task_ids
        transaction.on_commit(lambda: _enqueue(run.pk, steps))
    return run


def _enqueue(sync_run_id: int, steps: chain) -> None:
    """Send the chain. In-process mode runs it here: a failed step has already recorded itself on
    the run, so the exception is not raised again. If the broker cannot be reached, the run fails
    with that reason instead of staying queued."""
    try:
        steps.apply_async()
    except Exception as exc:
        run = SyncRun.objects.filter(pk=sync_run_id).only("status").first()
        if run is not None and run.status != SyncRun.Status.FAILED:
            sync_run_fail(sync_run_id=sync_run_id, exc=exc)
        logger.warning("sync.enqueue_failed", extra={"sync_run_id": sync_run_id, "error": type(exc).__name__})


@dataclass
class SyncBatch:
    started: list[SyncRun] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # connection ids already in flight or not syncable


def syncs_start(
    *, platform: str | None = None, organization_slug: str | None = None, trigger: str = "manual"
) -> SyncBatch:
    if platform:
        get_connector_class(platform)  # raises UnknownPlatform with the list of known ones
    batch = SyncBatch()
    for connection in connection_list_syncable(platform=platform, organization_slug=organization_slug):
        run = sync_start(connection_id=connection.pk, trigger=trigger)
        if run is None:
            batch.skipped.append(connection.pk)
        else:
            batch.started.append(run)
    return batch


def tokens_refresh_expiring(*, within_seconds: int) -> dict[str, int]:
    """Refresh every access token that expires within the horizon; returns counts by outcome."""
    outcome = {"refreshed": 0, "needs_reauth": 0, "failed": 0}
    for connection in connection_list_tokens_expiring(within_seconds=within_seconds):
        try:
            if connection_refresh_token(connection=connection, margin_seconds=within_seconds):
                outcome["refreshed"] += 1
        except ConnectorError as exc:
            outcome["needs_reauth" if isinstance(exc, AuthError) else "failed"] += 1
            logger.warning(
                "token.refresh_failed", extra={"connection_id": connection.pk, "error": type(exc).__name__}
            )
    return outcome


def periodic_tasks_install() -> int:
    """Write the declared schedule into django-celery-beat's tables; running it again changes nothing.

    Rows are matched by name; an operator's later edit of a row's timing or an enabled flag in the
    admin is overwritten only for the fields declared here (task, crontab, arguments).
    """
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    count = 0
    for schedule in periodic_schedules():
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=schedule.minute,
            hour=schedule.hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        PeriodicTask.objects.update_or_create(
            name=schedule.name,
            defaults={
                "task": schedule.task,
                "crontab": crontab,
                "interval": None,
                "kwargs": json.dumps(schedule.kwargs),
                "description": schedule.description,
            },
        )
        count += 1
    return count

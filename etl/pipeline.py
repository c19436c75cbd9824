"""Starting syncs: a run is created under the database guard, then its chain of steps is sent.

``sync_start`` is the one way a sync begins (the dashboard's Sync now and connect, the command, the
beat entry tasks through ``syncs_start``): a SyncRun row for the connection when none is in flight,
then ``refresh → extract → normalize → load → prune`` as Celery tasks (``etl.tasks``) that take the
run's id. The walk of that id stays here, in ``etl.services`` and in ``connectors``.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from celery import chain
from django.db import transaction

from connectors.registry import get_connector_class
from connectors.selectors import connection_list_syncable
from etl.models import SyncRun
from etl.queues import sync_queue
from etl.services import (
    sync_run_add_task_ids,
    sync_run_create_if_idle,
    sync_run_fail,
    sync_runs_take_over_stale,
)

logger = logging.getLogger(__name__)


def sync_chain(*, sync_run_id: int, platform: str) -> chain:
    """The steps of one run; all but the prune go to the platform's own queue (etl.queues)."""
    from etl.tasks import extract_task, load_task, normalize_task, prune_task, refresh_token_task

    queue = sync_queue(platform)
    return chain(
        refresh_token_task.si(sync_run_id).set(queue=queue),
        extract_task.si(sync_run_id).set(queue=queue),
        normalize_task.si(sync_run_id).set(queue=queue),
        load_task.si(sync_run_id).set(queue=queue),
        prune_task.si(sync_run_id),
    )


def sync_start(*, connection_id: int, trigger: str = "manual") -> SyncRun | None:
    """Queue one sync of a connection; None if one is already in flight (or it cannot sync)."""
    with transaction.atomic():
        run = sync_run_create_if_idle(connection_id=connection_id, trigger=trigger)
        if run is None:
            return None
        steps = sync_chain(sync_run_id=run.pk, platform=run.connection.platform)
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


# How many connections are looked at together when a batch checks which ones already have a sync.
START_BATCH_SIZE = 100


def syncs_start(
    *, platform: str | None = None, organization_slug: str | None = None, trigger: str = "manual"
) -> SyncBatch:
    """Queue one sync of every syncable connection (of a platform, of an organization).

    Schedules overlap (00:00 fires every schedule) and a manual run may start at the same moment,
    so several batches often walk the same connections together. Each batch therefore asks, for
    every hundred connections at once, which already have a sync in flight, and skips those
    without trying; the database guard in ``sync_start`` still decides every start it does try.
    Each batch also begins at a random hundred (and wraps around), so batches running together
    mostly start different connections instead of waiting on each other's guard, connection by
    connection.
    """
    if platform:
        get_connector_class(platform)  # raises UnknownPlatform with the list of known ones
    batch = SyncBatch()
    sync_runs_take_over_stale()  # so that a dead run does not count as in flight below
    connection_ids = list(
        connection_list_syncable(platform=platform, organization_slug=organization_slug).values_list(
            "pk", flat=True
        )
    )
    chunks = [
        connection_ids[i : i + START_BATCH_SIZE] for i in range(0, len(connection_ids), START_BATCH_SIZE)
    ]
    first = random.randrange(len(chunks)) if chunks else 0
    for chunk in chunks[first:] + chunks[:first]:
        in_flight = _connections_in_flight(chunk)
        for connection_id in chunk:
            run = (
                None
                if connection_id in in_flight
                else sync_start(connection_id=connection_id, trigger=trigger)
            )
            if run is None:
                batch.skipped.append(connection_id)
            else:
                batch.started.append(run)
    return batch


def _connections_in_flight(connection_ids: list[int]) -> set[int]:
    runs = SyncRun.objects.filter(connection_id__in=connection_ids, status__in=SyncRun.IN_FLIGHT)
    return set(runs.values_list("connection_id", flat=True))

"""The pipeline's steps, as plain functions on a SyncRun id.

Each step is idempotent (it clears what an earlier attempt of the same step left), records what
it did and how long it took on the run, and raises only on failure; the Celery tasks that call
them are thin. ``sync_run_fail`` turns any exception into a failed run with a readable reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Sum
from django.utils import timezone

from connectors import jsonio
from connectors.base import StreamSpec, Window
from connectors.errors import AuthError, ConnectorError, PermanentError
from connectors.models import Connection
from connectors.registry import get_connector_class
from connectors.services import (
    connection_mark_failing,
    connection_mark_needs_reauth,
    connection_mark_succeeded,
    connection_refresh_token,
    connector_for,
)
from etl.background_writer import staging_writes
from etl.csv_chunks import csv_chunks
from etl.key_ledger import KeyLedger
from etl.load import SystemValues, WindowScope, load_rows
from etl.models import NormalizedChunk, QuarantinedRecord, RawPage, SyncRun
from etl.normalize import collector_paused, normalize_pages
from etl.schema import DATASETS, Dataset, get_dataset
from etl.selectors import raw_page_batches
from etl.staging import stage_row, staged_rows_delete
from sales_dashboard.cache_versions import dashboard_cache_bump
from sales_dashboard.logging import redact

logger = logging.getLogger(__name__)

FAILURES_BEFORE_FAILING = 3
STAGED_PAGE_MAX_RECORDS = 10_000


def today_utc() -> date:
    return timezone.now().date()


def retention_start(today: date | None = None) -> date:
    """The oldest day kept: today and the RETENTION_DAYS - 1 days before it."""
    return (today or today_utc()) - timedelta(days=settings.RETENTION_DAYS - 1)


def sync_window_for(connection: Connection, *, today: date | None = None) -> tuple[Window, bool]:
    """The first sync backfills the retention window; later ones re-read the restatement window,
    reaching further back when the last success is older than that."""
    today = today or today_utc()
    oldest = retention_start(today)
    if connection.last_success_at is None:
        return Window(oldest, today), True
    connector_cls = get_connector_class(connection.platform)
    days = connection.restatement_days or connector_cls.restatement_days()
    if connector_cls.max_restatement_days:
        days = min(days, connector_cls.max_restatement_days)
    start = today - timedelta(days=max(1, days) - 1)
    start = min(start, connection.last_success_at.date() - timedelta(days=1))
    return Window(max(oldest, start), today), False


def sync_runs_expire_stale(*, connection_id: int | None = None) -> int:
    """Fail runs stuck in flight for longer than SYNC_RUN_STALE_AFTER_MINUTES (their chain was lost)."""
    cutoff = timezone.now() - timedelta(minutes=settings.SYNC_RUN_STALE_AFTER_MINUTES)
    qs = SyncRun.objects.filter(status__in=SyncRun.IN_FLIGHT, created_at__lt=cutoff)
    if connection_id is not None:
        qs = qs.filter(connection_id=connection_id)
    return qs.update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error_class="Abandoned",
        error_message="The sync stopped making progress (a worker or the broker was lost); it will run again.",
    )


def sync_run_create_if_idle(*, connection_id: int, trigger: str = "manual") -> SyncRun | None:
    """Create a queued run, unless one is already in flight for this connection (the DB guard)."""
    sync_runs_expire_stale(connection_id=connection_id)
    connection = Connection.objects.get(pk=connection_id)
    if connection.status not in (Connection.Status.ACTIVE, Connection.Status.FAILING):
        return None
    window, backfill = sync_window_for(connection)
    try:
        with transaction.atomic():
            return SyncRun.objects.create(
                connection=connection,
                trigger=trigger,
                window_start=window.start,
                window_end=window.end,
                is_backfill=backfill,
            )
    except IntegrityError:
        return None


# The step a run moves on to when one finishes: its last write names the next step, so the next
# step starts without writing (a run is "at" a step from the moment the previous one is done).
NEXT_STEP = {
    SyncRun.Step.REFRESH: SyncRun.Step.EXTRACT,
    SyncRun.Step.EXTRACT: SyncRun.Step.NORMALIZE,
    SyncRun.Step.NORMALIZE: SyncRun.Step.LOAD,
    SyncRun.Step.LOAD: SyncRun.Step.PRUNE,
    SyncRun.Step.PRUNE: SyncRun.Step.DONE,
}


@contextmanager
def _step(run_id: int, step: str) -> Iterator[SyncRun]:
    run = SyncRun.objects.select_related("connection").get(pk=run_id)
    updates: dict[str, Any] = {}
    if run.step != step:  # a step run again, or out of its usual order
        updates["step"] = step
    if run.status == SyncRun.Status.QUEUED:
        updates.update(status=SyncRun.Status.RUNNING, started_at=timezone.now())
    if updates:
        SyncRun.objects.filter(pk=run_id).update(**updates)
        for key, value in updates.items():
            setattr(run, key, value)
    started = time.monotonic()
    yield run
    run.timings = {**run.timings, step: round(time.monotonic() - started, 3)}
    run.step = NEXT_STEP[SyncRun.Step(step)]
    SyncRun.objects.filter(pk=run_id).update(timings=run.timings, rows=run.rows, notes=run.notes, step=run.step)


def _stream_rows(run: SyncRun, stream: str) -> dict[str, Any]:
    return run.rows.setdefault(stream, {})


def sync_run_refresh(*, sync_run_id: int) -> None:
    with _step(sync_run_id, SyncRun.Step.REFRESH) as run:
        connection_refresh_token(connection=run.connection)


def sync_run_extract(*, sync_run_id: int) -> None:
    with _step(sync_run_id, SyncRun.Step.EXTRACT) as run:
        staged_rows_delete(RawPage, sync_run_id=run.pk)
        connector = connector_for(
            run.connection,
            state=run.state,
            on_state=lambda state: _save_state(run.pk, state),
            sync_key=f"sync-{run.pk}",
        )
        window = Window(run.window_start, run.window_end)
        with staging_writes() as writer, collector_paused():
            for stream in connector.streams:
                count = seq = 0
                for page in connector.extract(stream, window):
                    # A very large response is staged in parts, so normalize never holds more than a batch.
                    for start in range(0, max(1, len(page)), STAGED_PAGE_MAX_RECORDS):
                        part = page[start : start + STAGED_PAGE_MAX_RECORDS]
                        writer.submit(
                            partial(_raw_page_create, run.pk, stream.name, seq, len(part), jsonio.dumps(part))
                        )
                        seq += 1
                    count += len(page)
                    progress = {**run.rows, stream.name: {"extracted": count}}
                    writer.submit(partial(SyncRun.objects.filter(pk=run.pk).update, rows=progress))
                    del page
                run.rows[stream.name] = {"extracted": count}
        run.notes.extend(note for note in connector.state.get("notes", []) if note not in run.notes)


def _raw_page_create(sync_run_id: int, stream: str, seq: int, count: int, records: str) -> None:
    """Stage one page, already serialized as JSON text."""
    stage_row(
        RawPage,
        sync_run_id=sync_run_id,
        stream=stream,
        seq=seq,
        record_count=count,
        records=records,
        created_at=timezone.now(),
    )


def _save_state(sync_run_id: int, state: dict[str, Any]) -> None:
    SyncRun.objects.filter(pk=sync_run_id).update(state=state)


def sync_run_normalize(*, sync_run_id: int) -> None:
    """Staged pages → canonical CSV chunks, batch by batch so memory stays flat as a sync grows."""
    with _step(sync_run_id, SyncRun.Step.NORMALIZE) as run:
        staged_rows_delete(NormalizedChunk, sync_run_id=run.pk)
        staged_rows_delete(QuarantinedRecord, sync_run_id=run.pk)
        connector_cls = get_connector_class(run.connection.platform)
        for stream in connector_cls.streams:
            _normalize_stream(run, stream)


def _normalize_stream(run: SyncRun, stream: StreamSpec) -> None:
    dataset = get_dataset(stream.dataset)
    ledger = KeyLedger()
    seq = normalized = quarantined = duplicates = 0
    batches = raw_page_batches(sync_run_id=run.pk, stream=stream.name, rows=settings.NORMALIZE_BATCH_ROWS)
    with staging_writes() as writer:
        for pages in batches:
            result = normalize_pages(pages, stream.mapping, dataset)
            frame, seen_before = ledger.drop_seen(result.frame, dataset.key)
            if result.quarantined:
                held = [
                    QuarantinedRecord(
                        sync_run=run,
                        connection=run.connection,
                        stream=stream.name,
                        reason=reason,
                        record=record,
                    )
                    for record, reason in result.quarantined
                ]
                writer.submit(partial(QuarantinedRecord.objects.bulk_create, held, batch_size=1000))
            for text, count in csv_chunks(frame, settings.LOAD_CHUNK_ROWS):
                writer.submit(
                    partial(
                        stage_row,
                        NormalizedChunk,
                        sync_run_id=run.pk,
                        dataset=dataset.name,
                        seq=seq,
                        row_count=count,
                        csv=text,
                    )
                )
                seq += 1
            normalized += len(frame)
            quarantined += len(result.quarantined)
            duplicates += result.duplicates + seen_before
            del pages, result, frame
    _stream_rows(run, stream.name).update(
        normalized=normalized, quarantined=quarantined, duplicates=duplicates
    )
    if quarantined:
        run.notes.append(f"{quarantined} {stream.name} record(s) could not be read and were quarantined")


def sync_run_load(*, sync_run_id: int) -> None:
    """Merge every dataset of the run and mark it succeeded, all in one transaction."""
    with _step(sync_run_id, SyncRun.Step.LOAD) as run, transaction.atomic():
        connector_cls = get_connector_class(run.connection.platform)
        system = SystemValues(
            organization_id=run.connection.organization_id,
            connection_id=run.connection_id,
            platform=run.connection.platform,
            sync_run_id=run.pk,
            synced_at=timezone.now(),
        )
        for stream in connector_cls.streams:
            dataset = get_dataset(stream.dataset)
            chunks = NormalizedChunk.objects.filter(sync_run=run, dataset=dataset.name).order_by("seq")
            staged = chunks.aggregate(rows=Sum("row_count"))["rows"] or 0
            scope = WindowScope(run.window_start, run.window_end) if dataset.window_column else None
            if staged == 0 and scope is not None:
                scope = None
                run.notes.append(
                    f"{connector_cls.display_name} reported no {stream.name} rows for the window; "
                    "existing rows were kept"
                )
            result = load_rows(
                dataset=dataset,
                chunks=chunks.values_list("csv", flat=True).iterator(chunk_size=1),
                system=system,
                window=scope,
            )
            _stream_rows(run, stream.name).update(
                loaded=result.staged,
                inserted=result.inserted,
                updated=result.updated,
                unchanged=result.unchanged,
                deleted=result.deleted,
            )
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now(), rows=run.rows
        )
        connection_mark_succeeded(connection=run.connection)
        organization_id = run.connection.organization_id
        transaction.on_commit(lambda: dashboard_cache_bump(organization_id))


def sync_run_prune(*, sync_run_id: int) -> int:
    """Clear the run's staging and the connection's rows past retention; returns the run's organization."""
    with _step(sync_run_id, SyncRun.Step.PRUNE) as run:
        staged_rows_delete(RawPage, sync_run_id=run.pk)
        staged_rows_delete(NormalizedChunk, sync_run_id=run.pk)
        connector_cls = get_connector_class(run.connection.platform)
        removed = prune_warehouse(
            connection_id=run.connection_id,
            datasets=[get_dataset(stream.dataset) for stream in connector_cls.streams],
        )
        if removed:
            run.notes.append(f"{removed} row(s) older than {settings.RETENTION_DAYS} days were removed")
    return run.connection.organization_id


def _delete_in_batches(table: str, where: str, params: list[Any]) -> int:
    """Delete in short transactions so a large prune never holds long locks on a fact table.

    Each batch is one statement, committed on its own (autocommit): no long transaction, and no
    BEGIN and COMMIT round trips around it.
    """
    from django.db import connection as db

    total = 0
    batch = settings.PRUNE_BATCH_SIZE
    while True:
        with db.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} LIMIT %s)",
                [*params, batch],
            )
            deleted = cursor.rowcount
        total += deleted
        if deleted < batch:
            return total


def prune_warehouse(
    *, connection_id: int | None = None, today: date | None = None, datasets: Iterable[Dataset] | None = None
) -> int:
    """Remove warehouse rows older than the retention window (the boundary day stays).

    ``datasets`` limits the prune to those tables (a sync prunes the tables its streams feed).
    """
    from django.db import connection as db

    cutoff = db.ops.adapt_datefield_value(retention_start(today))
    total = 0
    for dataset in DATASETS.values() if datasets is None else datasets:
        if not dataset.prune_column:
            continue
        where = f"{dataset.prune_column} < %s"
        params: list[Any] = [cutoff]
        if connection_id is not None:
            where, params = f"connection_id = %s AND {where}", [connection_id, cutoff]
        total += _delete_in_batches(dataset.table, where, params)
    return total


def prune_history(*, today: date | None = None) -> dict[str, int]:
    """Remove finished runs (with their staging and quarantine) older than the retention window."""
    cutoff = timezone.now() - timedelta(days=settings.RETENTION_DAYS)
    staging_cutoff = timezone.now() - timedelta(days=1)
    finished = SyncRun.objects.exclude(status__in=SyncRun.IN_FLIGHT)
    pages = RawPage.objects.filter(sync_run__in=finished, created_at__lt=staging_cutoff).delete()[0]
    chunks = NormalizedChunk.objects.filter(
        sync_run__in=finished.filter(created_at__lt=staging_cutoff)
    ).delete()[0]
    runs = finished.filter(created_at__lt=cutoff).delete()[0]
    return {"staged_pages": pages, "staged_chunks": chunks, "runs_and_related": runs}


def cleanup_old_data(*, today: date | None = None) -> dict[str, int]:
    sync_runs_expire_stale()
    return {"warehouse_rows": prune_warehouse(today=today), **prune_history(today=today)}


def readable_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectorError):
        return exc.message
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, SoftTimeLimitExceeded):
        return "The step ran longer than its time limit and was stopped; it will run again next time."
    if isinstance(exc, OperationalError | InterfaceError):
        return (
            "The database connection was lost during the sync; nothing was half-written, "
            "and the next sync loads the data."
        )
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact(f"Unexpected error ({type(exc).__name__}): {first_line}")[:500]


def sync_run_fail(*, sync_run_id: int, exc: BaseException) -> None:
    """Mark the run failed with a reason a marketer can read; flag the connection when needed."""
    run = SyncRun.objects.select_related("connection").filter(pk=sync_run_id).first()
    if run is None:
        return
    message = readable_error(exc)
    if run.status == SyncRun.Status.SUCCEEDED:
        # Only the clean-up after a committed load failed: the data is in, the run stays a success.
        notes = [*run.notes, f"Clean-up after the load did not finish: {message}"]
        SyncRun.objects.filter(pk=sync_run_id).update(step=SyncRun.Step.DONE, notes=notes)
        return
    SyncRun.objects.filter(pk=sync_run_id).update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error_class=type(exc).__name__,
        error_message=message,
    )
    if isinstance(exc, AuthError):
        connection_mark_needs_reauth(connection=run.connection, reason=message)
    elif isinstance(exc, PermanentError) or _recent_failures(run.connection_id) >= FAILURES_BEFORE_FAILING:
        connection_mark_failing(connection=run.connection, reason=message)
    logger.warning(
        "sync.failed",
        extra={"sync_run_id": sync_run_id, "connection_id": run.connection_id, "error": type(exc).__name__},
    )


def _recent_failures(connection_id: int) -> int:
    statuses = SyncRun.objects.filter(connection_id=connection_id).exclude(status__in=SyncRun.IN_FLIGHT)
    count = 0
    for status in statuses.order_by("-created_at").values_list("status", flat=True)[:FAILURES_BEFORE_FAILING]:
        if status != SyncRun.Status.FAILED:
            break
        count += 1
    return count


def sync_run_add_task_ids(*, sync_run_id: int, task_ids: list[str]) -> None:
    SyncRun.objects.filter(pk=sync_run_id).update(task_ids=task_ids)

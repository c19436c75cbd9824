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
from connectors.base import BaseConnector, StreamSpec, Window
from connectors.errors import AuthError, ConnectorError, PermanentError, RateLimited
from connectors.models import Connection
from connectors.redaction import redact
from connectors.registry import get_connector_class
from connectors.services import (
    connection_mark_failing,
    connection_mark_needs_reauth,
    connection_mark_partial,
    connection_mark_succeeded,
    connection_refresh_token,
    connector_for,
)
from etl.backfill import (
    SlicesRead,
    backfill_check_quota,
    backfill_record_loaded,
    backfill_remaining,
    backfill_slices,
    stopped_by,
)
from etl.background_writer import staging_writes
from etl.csv_chunks import csv_chunks
from etl.data_version import data_version_bump
from etl.history import history_fold, history_prune
from etl.key_ledger import KeyLedger
from etl.lease import Lease, LeaseLost, initial_lease, lease_claim, stale_reason
from etl.load import ColumnScope, SystemValues, WindowScope, load_rows
from etl.models import NormalizedChunk, QuarantinedRecord, RawPage, SyncRun
from etl.normalize import collector_paused, normalize_pages
from etl.restatement_log import LOG_TABLE, logged_shape, restatement_log_expired
from etl.schema import DATASETS, Dataset, get_dataset
from etl.selectors import raw_page_batches
from etl.staging import stage_row, staged_rows_delete

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
    reaching further back when the last success is older than that. While a backfill is unfinished
    (etl.backfill), a sync reads its days not loaded yet instead."""
    today = today or today_utc()
    oldest = retention_start(today)
    remaining = backfill_remaining(connection, oldest=oldest)
    if remaining is not None:
        return remaining, True
    if connection.last_success_at is None:
        return Window(oldest, today), True
    connector_cls = get_connector_class(connection.platform)
    days = connection.restatement_days or connector_cls.restatement_days()
    if connector_cls.max_restatement_days:
        days = min(days, connector_cls.max_restatement_days)
    start = today - timedelta(days=max(1, days) - 1)
    start = min(start, connection.last_success_at.date() - timedelta(days=1))
    return Window(max(oldest, start), today), False


def sync_runs_take_over_stale(
    *, connection_id: int | None = None, successor: str = "a new sync took over"
) -> list[int]:
    """Close the runs in flight whose lease has lapsed or whose owner process is gone (etl/lease.py).

    Each is closed as failed with the reason in words ("The process running this sync stopped at
    09:12 UTC during extract; a new sync took over.") and its staging is cleared. A run is closed
    only if its lease did not change since it was read, so a heartbeat that arrives meanwhile wins,
    and of two triggers racing for the same stale run exactly one closes it.
    """
    runs = SyncRun.objects.filter(status__in=SyncRun.IN_FLIGHT)
    if connection_id is not None:
        runs = runs.filter(connection_id=connection_id)
    now = timezone.now()
    closed = []
    for run in runs:
        reason = stale_reason(run, now=now)
        if reason is not None and _close_in_flight(
            run,
            status=SyncRun.Status.FAILED,
            error_class="Abandoned",
            message=f"{reason}; {successor}.",
            unless_renewed=True,
        ):
            closed.append(run.pk)
    return closed


def _close_in_flight(
    run: SyncRun, *, status: str, error_class: str, message: str, unless_renewed: bool
) -> bool:
    """End a run in flight (whoever owns it) and clear its staging; False if it already ended."""
    runs = SyncRun.objects.filter(pk=run.pk, status__in=SyncRun.IN_FLIGHT)
    if unless_renewed:
        runs = runs.filter(
            lease_token=run.lease_token, heartbeat_at=run.heartbeat_at, lease_expires_at=run.lease_expires_at
        )
    closed = runs.update(
        status=status,
        finished_at=timezone.now(),
        error_class=error_class,
        error_message=message,
        waiting_until=None,
        waiting_reason="",
    )
    if not closed:
        return False
    staged_rows_delete(RawPage, sync_run_id=run.pk)
    staged_rows_delete(NormalizedChunk, sync_run_id=run.pk)
    logger.warning(
        "sync.closed",
        extra={"sync_run_id": run.pk, "connection_id": run.connection_id, "status": status, "step": run.step},
    )
    return True


class SyncRunNotFound(Exception):
    pass


class SyncRunNotInFlight(Exception):
    pass


def sync_run_cancel(*, sync_run_id: int, reason: str) -> SyncRun:
    """Cancel a run in flight: it ends as cancelled, its staging is cleared, and a worker still
    running one of its steps stops at its next heartbeat without loading anything."""
    run = SyncRun.objects.select_related("connection").filter(pk=sync_run_id).first()
    if run is None:
        raise SyncRunNotFound(f"There is no sync run {sync_run_id}.")
    if not _close_in_flight(
        run, status=SyncRun.Status.CANCELLED, error_class="Cancelled", message=reason, unless_renewed=False
    ):
        run.refresh_from_db()
        raise SyncRunNotInFlight(f"Sync run {sync_run_id} is not in flight: it already ended ({run.status}).")
    run.refresh_from_db()
    return run


def sync_run_create_if_idle(*, connection_id: int, trigger: str = "manual") -> SyncRun | None:
    """Create a queued run, unless one is already in flight for this connection (the DB guard).

    A stale run in flight (see ``etl.lease``) is closed first, so the new run starts at once.
    """
    sync_runs_take_over_stale(connection_id=connection_id)
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
                **initial_lease(timezone.now()),
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
def _step(run_id: int, step: str) -> Iterator[tuple[SyncRun, Lease]]:
    """Claim the run for this step, let it work under its lease, then hand the run to the next step.

    ``LeaseLost`` when the run does not exist, is no longer in flight (taken over, cancelled), or
    was claimed by another delivery of this step meanwhile: the step then does nothing more.
    """
    run = SyncRun.objects.select_related("connection").filter(pk=run_id).first()
    if run is None:
        raise LeaseLost(f"There is no sync run {run_id} (it was removed); its {step} step did not run")
    updates: dict[str, Any] = {}
    if run.step != step:  # a step run again, or out of its usual order
        updates["step"] = step
    if run.status == SyncRun.Status.QUEUED:
        updates.update(status=SyncRun.Status.RUNNING, started_at=timezone.now())
    lease = lease_claim(run_id, **updates)
    for key, value in updates.items():
        setattr(run, key, value)
    started = time.monotonic()
    try:
        with lease.reporting():
            yield run, lease
        run.timings = {**run.timings, step: round(time.monotonic() - started, 3)}
        run.step = NEXT_STEP[SyncRun.Step(step)]
        done = {"timings": run.timings, "rows": run.rows, "notes": run.notes, "step": run.step}
        if run.status in SyncRun.LOADED:  # the load committed: the run is out of flight
            SyncRun.objects.filter(pk=run_id).update(**done, waiting_until=None, waiting_reason="")
        else:
            lease.hand_off(**done)
    except LeaseLost:
        _clear_staging_of_ended_run(run_id)
        raise


def _clear_staging_of_ended_run(run_id: int) -> None:
    """What a step wrote after its run was closed under it (taken over, cancelled) is removed.

    A run still in flight was claimed by another delivery of the step: its staging is that one's.
    """
    if not SyncRun.objects.filter(pk=run_id, status__in=SyncRun.IN_FLIGHT).exists():
        staged_rows_delete(RawPage, sync_run_id=run_id)
        staged_rows_delete(NormalizedChunk, sync_run_id=run_id)


@contextmanager
def _prune_step(run_id: int) -> Iterator[SyncRun]:
    """The clean-up after a committed load: the run has succeeded, so there is no lease to hold."""
    run = SyncRun.objects.select_related("connection").filter(pk=run_id).first()
    if run is None or run.status not in SyncRun.LOADED:
        state = "does not exist" if run is None else f"is {run.status}"
        raise LeaseLost(f"Sync run {run_id} {state}; its prune step did not run")
    started = time.monotonic()
    yield run
    run.timings = {**run.timings, SyncRun.Step.PRUNE.value: round(time.monotonic() - started, 3)}
    SyncRun.objects.filter(pk=run_id).update(timings=run.timings, notes=run.notes, step=SyncRun.Step.DONE)


def _stream_rows(run: SyncRun, stream: str) -> dict[str, Any]:
    return run.rows.setdefault(stream, {})


def sync_run_refresh(*, sync_run_id: int) -> None:
    with _step(sync_run_id, SyncRun.Step.REFRESH) as (run, _lease):
        connection_refresh_token(connection=run.connection)


def sync_run_extract(*, sync_run_id: int) -> None:
    """Read every stream of the run's window into staging. A backfill reads its window in slices,
    the newest first (etl.backfill): a quota that runs out after the first slice ends the reading,
    and the run goes on with the slices read, its window narrowed to them."""
    with _step(sync_run_id, SyncRun.Step.EXTRACT) as (run, lease):
        staged_rows_delete(RawPage, sync_run_id=run.pk)
        connector = connector_for(
            run.connection,
            state=run.state,
            on_state=lambda state: _save_state(run.pk, state),
            sync_key=f"sync-{run.pk}",
        )
        window = Window(run.window_start, run.window_end)
        parts = backfill_slices(window, connector.backfill_slice_days) if run.is_backfill else [window]
        failures: dict[str, PermanentError] = {}
        counts = {stream.name: 0 for stream in connector.streams}
        seqs = {stream.name: 0 for stream in connector.streams}
        done: list[Window] = []
        stopped: RateLimited | None = None
        marks: tuple[dict[str, int], dict[str, int]] = (dict(counts), dict(seqs))
        with staging_writes() as writer, collector_paused():
            for part in parts:
                marks = (dict(counts), dict(seqs))
                try:
                    if run.is_backfill:
                        backfill_check_quota(
                            run.connection, type(connector), part, connector.state, first=not done
                        )
                    for stream in connector.streams:
                        if stream.name not in failures:
                            _extract_stream(run, lease, writer, connector, stream, part, counts, seqs, failures)
                except RateLimited as exc:
                    if not done:
                        raise  # nothing read yet: the step waits for the quota (or fails) as a whole
                    stopped = exc
                    break
                done.append(part)
        if stopped is not None:  # the slice cut short is dropped; the slices before it stay
            counts, seqs = marks
            for name, first_dropped in seqs.items():
                RawPage.objects.filter(sync_run_id=run.pk, stream=name, seq__gte=first_dropped).delete()
        for stream in connector.streams:
            if stream.name not in failures:
                run.rows[stream.name] = {"extracted": counts[stream.name]}
        if run.is_backfill and connector.backfill_slice_days:
            reason, resumes_at = stopped_by(stopped, connector.display_name) if stopped else ("", None)
            read = SlicesRead(window, done, reason, resumes_at)
            connector.save_state(backfill=read.as_state())
            if stopped is not None:
                run.window_start = read.window.start
                SyncRun.objects.filter(pk=run.pk).update(window_start=run.window_start)
                run.notes.append(read.note(connector.display_name))
        if failures and len(failures) == len(connector.streams):
            raise next(iter(failures.values()))  # nothing could be read: the run fails as a whole
        for name, error in failures.items():
            RawPage.objects.filter(sync_run_id=run.pk, stream=name).delete()
            run.notes.append(
                f"{connector.display_name}: {name} could not be read ({error.message}); its data was left "
                "as it was, and the next sync tries it again"
            )
        run.notes.extend(note for note in connector.state.get("notes", []) if note not in run.notes)


def _extract_stream(
    run: SyncRun,
    lease: Lease,
    writer: Any,
    connector: BaseConnector,
    stream: StreamSpec,
    window: Window,
    counts: dict[str, int],
    seqs: dict[str, int],
    failures: dict[str, PermanentError],
) -> None:
    """Stage one stream's pages for one window; a PermanentError fails this stream alone."""
    try:
        for page in connector.extract(stream, window):
            # A very large response is staged in parts, so normalize never holds more than a batch.
            for start in range(0, max(1, len(page)), STAGED_PAGE_MAX_RECORDS):
                part = page[start : start + STAGED_PAGE_MAX_RECORDS]
                seq = seqs[stream.name]
                writer.submit(partial(_raw_page_create, run.pk, stream.name, seq, len(part), jsonio.dumps(part)))
                seqs[stream.name] = seq + 1
            counts[stream.name] += len(page)
            progress = {**run.rows, stream.name: {"extracted": counts[stream.name]}}
            writer.submit(partial(SyncRun.objects.filter(pk=run.pk).update, rows=progress))
            lease.beat()
            del page
    except PermanentError as exc:  # this stream alone: an unlicensed product, a permission
        failures[stream.name] = exc
        run.rows[stream.name] = {"extracted": counts[stream.name], "failed": exc.message}


def _streams_read(run: SyncRun, streams: Iterable[StreamSpec]) -> list[StreamSpec]:
    """The run's streams that were read: a stream that failed alone is not normalized, loaded or
    pruned, so its rows stay as they were."""
    failed = run.failed_streams
    return [stream for stream in streams if stream.name not in failed]


def _datasets_read(run: SyncRun, streams: Iterable[StreamSpec]) -> list[Dataset]:
    """The datasets whose every stream was read: a dataset that a failed stream also feeds keeps its
    old rows until that stream is read again."""
    failed = {stream.dataset for stream in streams if stream.name in run.failed_streams}
    read = dict.fromkeys(stream.dataset for stream in _streams_read(run, streams) if stream.dataset not in failed)
    return [get_dataset(name) for name in read]


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
    with _step(sync_run_id, SyncRun.Step.NORMALIZE) as (run, lease):
        staged_rows_delete(NormalizedChunk, sync_run_id=run.pk)
        staged_rows_delete(QuarantinedRecord, sync_run_id=run.pk)
        connector_cls = get_connector_class(run.connection.platform)
        for stream in _streams_read(run, connector_cls.streams):
            _normalize_stream(run, stream, lease)


def _normalize_stream(run: SyncRun, stream: StreamSpec, lease: Lease) -> None:
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
                        stream=stream.name,
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
            lease.beat()
    _stream_rows(run, stream.name).update(
        normalized=normalized, quarantined=quarantined, duplicates=duplicates
    )
    if quarantined:
        run.notes.append(f"{quarantined} {stream.name} record(s) could not be read and were quarantined")


def sync_run_load(*, sync_run_id: int) -> None:
    """Merge every dataset of the run and mark it succeeded, all in one transaction.

    The run is marked succeeded only if this step still holds its lease when it commits: a load
    whose run was taken over or cancelled meanwhile rolls back, whatever it had written.
    """
    with _step(sync_run_id, SyncRun.Step.LOAD) as (run, lease), lease.transaction(), transaction.atomic():
        connector_cls = get_connector_class(run.connection.platform)
        system = SystemValues(
            organization_id=run.connection.organization_id,
            connection_id=run.connection_id,
            platform=run.connection.platform,
            sync_run_id=run.pk,
            synced_at=timezone.now(),
        )
        for stream in _streams_read(run, connector_cls.streams):
            dataset = get_dataset(stream.dataset)
            chunks = NormalizedChunk.objects.filter(sync_run=run, stream=stream.name).order_by("seq")
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
                chunks=_beating(chunks.values_list("csv", flat=True).iterator(chunk_size=1), lease),
                system=system,
                window=scope,
                scope=ColumnScope(stream.columns, stream.shared) if stream.columns else None,
            )
            _stream_rows(run, stream.name).update(
                loaded=result.staged,
                inserted=result.inserted,
                updated=result.updated,
                unchanged=result.unchanged,
                deleted=result.deleted,
            )
        outcome = SyncRun.Status.PARTIAL if run.failed_streams else SyncRun.Status.SUCCEEDED
        loaded = SyncRun.objects.filter(pk=run.pk, lease_token=lease.token, status=SyncRun.Status.RUNNING).update(
            status=outcome, finished_at=timezone.now(), rows=run.rows
        )
        if not loaded:
            raise LeaseLost(f"Sync run {run.pk} was taken over or cancelled during its load; nothing was loaded")
        run.status = outcome
        if outcome == SyncRun.Status.PARTIAL:
            # The failed streams were not read for this window: the next sync's window still reaches
            # back to the last complete sync, so their gap is read once they can be read again.
            connection_mark_partial(connection=run.connection)
        else:
            connection_mark_succeeded(connection=run.connection)
        backfill_record_loaded(run)  # how far a backfill got, in the same transaction as its rows
        organization_id = run.connection.organization_id
        transaction.on_commit(lambda: data_version_bump(organization_id))


def sync_run_prune(*, sync_run_id: int) -> int:
    """Compare the platform's totals with the loaded window (etl/reconciliation.py), then clear the
    run's staging and the connection's rows past retention; returns the run's organization."""
    from etl.reconciliation import sync_run_reconcile

    with _prune_step(sync_run_id) as run:
        if not run.reconciliation_status:  # a retried clean-up does not ask the platform again
            sync_run_reconcile(run)
        staged_rows_delete(RawPage, sync_run_id=run.pk)
        staged_rows_delete(NormalizedChunk, sync_run_id=run.pk)
        connector_cls = get_connector_class(run.connection.platform)
        removed = prune_warehouse(connection_id=run.connection_id, datasets=_datasets_read(run, connector_cls.streams))
        if removed:
            run.notes.append(f"{removed} row(s) older than {settings.RETENTION_DAYS} days were removed")
    return run.connection.organization_id


def _beating(chunks: Iterator[str], lease: Lease) -> Iterator[str]:
    for chunk in chunks:
        lease.beat()
        yield chunk


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

    The days of a daily table are first folded into its history (etl/history.py), each day's fold
    and the removal of its raw rows in one transaction. ``datasets`` limits the prune to those
    tables (a sync prunes the tables its streams feed).
    """
    from django.db import connection as db

    oldest = retention_start(today)
    cutoff = db.ops.adapt_datefield_value(oldest)
    total = 0
    chosen = list(DATASETS.values() if datasets is None else datasets)
    for dataset in chosen:
        if not dataset.prune_column:
            continue
        total += history_fold(dataset.name, retention_start=oldest, connection_id=connection_id)
        where = f"{dataset.prune_column} < %s"
        params: list[Any] = [cutoff]
        if connection_id is not None:
            where, params = f"connection_id = %s AND {where}", [connection_id, cutoff]
        total += _delete_in_batches(dataset.table, where, params)
    # The restatement log is kept as long as the rows it describes.
    logged = [dataset.name for dataset in chosen if logged_shape(dataset) is not None]
    if logged:
        _delete_in_batches(LOG_TABLE, *restatement_log_expired(logged, connection_id=connection_id, cutoff=cutoff))
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
    sync_runs_take_over_stale(successor="the next sync runs it again")
    return {
        "warehouse_rows": prune_warehouse(today=today),
        "history_rows": history_prune(today=today or today_utc()),
        **prune_history(today=today),
    }


def readable_error(exc: BaseException) -> str:
    """The error in words a marketer can read; a platform's words in it are redacted (as in logs)."""
    if isinstance(exc, ConnectorError):
        return redact(exc.message)
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
    if run.status in SyncRun.ENDED_UNSUCCESSFULLY:
        return  # already closed (taken over, cancelled): its reason stays
    if run.status in SyncRun.LOADED:
        # Only the clean-up after a committed load failed: the data is in, the run stays a success.
        notes = [*run.notes, f"Clean-up after the load did not finish: {message}"]
        SyncRun.objects.filter(pk=sync_run_id).update(step=SyncRun.Step.DONE, notes=notes)
        return
    failed = SyncRun.objects.filter(pk=sync_run_id, status__in=SyncRun.IN_FLIGHT).update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error_class=type(exc).__name__,
        error_message=message,
        waiting_until=None,
        waiting_reason="",
    )
    if not failed:
        return
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

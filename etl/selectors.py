"""Reads on sync runs and their staged pages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from etl.models import RawPage, SyncRun


def sync_run_list(*, ids: Iterable[int]) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(pk__in=list(ids)).select_related("connection").order_by("pk")


def sync_run_is_finished(run: SyncRun) -> bool:
    return run.status in SyncRun.ENDED_UNSUCCESSFULLY or run.step == SyncRun.Step.DONE


def sync_run_in_flight_for(*, connection_id: int) -> SyncRun | None:
    """The run that holds the connection now (at most one: the database guard), if any."""
    return (
        SyncRun.objects.filter(connection_id=connection_id, status__in=SyncRun.IN_FLIGHT)
        .select_related("connection")
        .first()
    )


def sync_run_latest_per_connection(*, connection_ids: Iterable[int]) -> dict[int, SyncRun]:
    latest: dict[int, SyncRun] = {}
    for run in SyncRun.objects.filter(connection_id__in=list(connection_ids)).order_by(
        "connection_id", "-created_at"
    ):
        latest.setdefault(run.connection_id, run)
    return latest


def raw_page_batches(*, sync_run_id: int, stream: str, rows: int) -> Iterator[list[str]]:
    """The staged pages of one stream (JSON text), in batches of about ``rows`` records, latest
    pages first.

    Pages are read one at a time (never the whole sync at once). Within a batch the pages keep
    their order, so "the later record wins" holds inside a batch; batches come newest first, so a
    key already seen in an earlier batch is the later read.
    """
    pages = (
        RawPage.objects.filter(sync_run_id=sync_run_id, stream=stream)
        .order_by("-seq")
        .values_list("records", "record_count")
    )
    batch: list[str] = []
    size = 0
    for text, count in pages.iterator(chunk_size=1):
        batch.append(text)
        size += count
        if size >= rows:
            yield batch[::-1]
            batch, size = [], 0
    if batch:
        yield batch[::-1]


def sync_run_owned_by_this_process() -> QuerySet[SyncRun]:
    """The runs in flight whose lease this process holds (in-process tasks: the ones it is running)."""
    from etl.lease import Owner

    me = Owner.this_process()
    return SyncRun.objects.filter(
        status__in=SyncRun.IN_FLIGHT, owner_host=me.host, owner_pid=me.pid
    ).select_related("connection")

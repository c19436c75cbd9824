"""Reads on sync runs."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from etl.models import SyncRun


def sync_run_list(*, ids: Iterable[int]) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(pk__in=list(ids)).select_related("connection").order_by("pk")


def sync_run_is_finished(run: SyncRun) -> bool:
    return run.status == SyncRun.Status.FAILED or run.step == SyncRun.Step.DONE


def sync_run_latest_per_connection(*, connection_ids: Iterable[int]) -> dict[int, SyncRun]:
    latest: dict[int, SyncRun] = {}
    for run in SyncRun.objects.filter(connection_id__in=list(connection_ids)).order_by("connection_id", "-created_at"):
        latest.setdefault(run.connection_id, run)
    return latest

"""A load whose run is taken over or cancelled while it writes commits nothing (PostgreSQL).

The cancel comes from another connection while the load holds its locks, as another process's
would: SQLite allows one writer at a time, so this can only happen on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connections

from connectors.models import Connection
from etl.models import AdPerformanceDaily, NormalizedChunk, SyncRun
from etl.pipeline import sync_start
from etl.services import sync_run_cancel
from etl.signals import load_holding_locks

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def cancelled_while_loading(reason: str) -> Iterator[list[str]]:
    """Cancel the run from another connection once its load holds its locks; yields the load paths seen."""
    paths: list[str] = []

    def cancel(sync_run_id: int, path: str, **_: Any) -> None:
        paths.append(path)

        def from_another_connection() -> None:
            try:
                sync_run_cancel(sync_run_id=sync_run_id, reason=reason)
            finally:
                connections.close_all()

        thread = threading.Thread(target=from_another_connection)
        thread.start()
        thread.join()

    load_holding_locks.connect(cancel, weak=False)
    try:
        yield paths
    finally:
        load_holding_locks.disconnect(cancel)


def test_a_load_whose_run_was_cancelled_meanwhile_rolls_back(linkedin_connection: Connection) -> None:
    with cancelled_while_loading("Cancelled during the load.") as paths:
        run = sync_start(connection_id=linkedin_connection.pk)

    assert run is not None and paths == ["copy"]  # the first load's path, holding its rows
    run.refresh_from_db()
    assert run.status == SyncRun.Status.CANCELLED and run.error_message == "Cancelled during the load."
    assert not AdPerformanceDaily.objects.exists()  # the copied rows were rolled back
    assert not NormalizedChunk.objects.filter(sync_run=run).exists()
    linkedin_connection.refresh_from_db()
    assert linkedin_connection.last_success_at is None


def test_the_merge_of_a_later_load_is_fenced_too(linkedin_connection: Connection) -> None:
    first = sync_start(connection_id=linkedin_connection.pk)
    assert first is not None
    AdPerformanceDaily.objects.update(impressions=0)  # so that the second load has rows to replace
    before = sorted(AdPerformanceDaily.objects.values_list("campaign_id", "date", "impressions", "sync_run_id"))
    assert before

    with cancelled_while_loading("Cancelled during the merge.") as paths:
        second = sync_start(connection_id=linkedin_connection.pk)

    assert second is not None and paths == ["merge"]
    second.refresh_from_db()
    assert second.status == SyncRun.Status.CANCELLED
    after = sorted(AdPerformanceDaily.objects.values_list("campaign_id", "date", "impressions", "sync_run_id"))
    assert after == before  # the replaced rows were rolled back

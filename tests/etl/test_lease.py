"""A run's lease: who owns a run in flight, when it counts as dead, and who may take it over.

Whole syncs run in-process against the LinkedIn sandbox; a second trigger comes from another
thread with its own database connection, as a second process would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import psutil
import pytest
from django.db import connections
from django.utils import timezone

from connectors.models import Connection
from etl.lease import owner_is_gone, stale_reason
from etl.models import AdPerformanceDaily, RawPage, SyncRun
from etl.pipeline import sync_start
from etl.services import sync_run_cancel, sync_run_create_if_idle
from sandbox.linkedin_ads import LinkedInAdsSandbox
from tests.linkedin_rows import served, warehouse

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

ANALYTICS = "/rest/adAnalytics"


def dead_process() -> tuple[int, float]:
    """The id and start time of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    started = psutil.Process(proc.pid).create_time()
    proc.wait()
    return proc.pid, started


def in_flight(connection: Connection, **lease: Any) -> SyncRun:
    """A run of the connection in the middle of its extract, with the given lease."""
    run = sync_run_create_if_idle(connection_id=connection.pk)
    assert run is not None
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING, step=SyncRun.Step.EXTRACT, **lease)
    run.refresh_from_db()
    return run


def this_process(**fields: Any) -> dict[str, Any]:
    pid = os.getpid()
    return {
        "owner_host": socket.gethostname(),
        "owner_pid": pid,
        "owner_started_at": psutil.Process(pid).create_time(),
        **fields,
    }


def in_another_thread(work: Any) -> threading.Thread:
    """Run ``work`` on a thread of its own (its own database connection), as another process would."""

    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_run_started_in_process_is_owned_by_this_process(linkedin_connection: Connection) -> None:
    before = timezone.now()
    run = sync_run_create_if_idle(connection_id=linkedin_connection.pk)
    assert run is not None
    assert (run.owner_host, run.owner_pid) == (socket.gethostname(), os.getpid())
    assert run.heartbeat_at is not None and run.heartbeat_at >= before
    assert run.lease_expires_at is not None and run.lease_expires_at > timezone.now()
    assert stale_reason(run) is None


def test_a_run_whose_owner_process_died_is_taken_over_at_once(linkedin_connection: Connection) -> None:
    pid, started = dead_process()
    now = timezone.now()
    dead = in_flight(
        linkedin_connection,
        owner_host=socket.gethostname(),
        owner_pid=pid,
        owner_started_at=started,
        heartbeat_at=now,
        lease_expires_at=now + timedelta(hours=1),  # its lease has not lapsed: its owner is gone
    )
    RawPage.objects.create(sync_run=dead, stream="ad_analytics", seq=0, record_count=1, records="[{}]")

    new = sync_start(connection_id=linkedin_connection.pk)

    assert new is not None and new.pk != dead.pk
    new.refresh_from_db()
    dead.refresh_from_db()
    assert new.status == SyncRun.Status.SUCCEEDED, new.error_message
    assert dead.status == SyncRun.Status.FAILED and dead.error_class == "Abandoned"
    assert dead.error_message.startswith("The process running this sync stopped at ")
    assert dead.error_message.endswith("during extract; a new sync took over.")
    assert not RawPage.objects.filter(sync_run=dead).exists()  # its staging was cleared
    assert warehouse(linkedin_connection) == served(new)


def test_a_reused_process_id_is_not_taken_for_the_owner(linkedin_connection: Connection) -> None:
    run = in_flight(linkedin_connection, **this_process())
    assert not owner_is_gone(run)
    run.owner_started_at = (run.owner_started_at or 0) - 3600  # the owner started an hour before this process
    assert owner_is_gone(run)
    run.owner_host = "another-host"  # another host's processes cannot be looked at: trust the heartbeat
    assert not owner_is_gone(run)


def test_a_live_owner_with_a_fresh_heartbeat_keeps_its_run(linkedin_connection: Connection) -> None:
    now = timezone.now()
    live = in_flight(linkedin_connection, **this_process(heartbeat_at=now, lease_expires_at=now + timedelta(minutes=5)))
    assert sync_start(connection_id=linkedin_connection.pk) is None
    live.refresh_from_db()
    assert live.status == SyncRun.Status.RUNNING
    assert SyncRun.objects.filter(connection=linkedin_connection).count() == 1


def test_a_lapsed_heartbeat_is_stale_even_when_its_process_lives(linkedin_connection: Connection) -> None:
    now = timezone.now()
    hung = in_flight(
        linkedin_connection,
        **this_process(heartbeat_at=now - timedelta(minutes=10), lease_expires_at=now - timedelta(minutes=5)),
    )
    assert sync_run_create_if_idle(connection_id=linkedin_connection.pk) is not None
    hung.refresh_from_db()
    assert hung.status == SyncRun.Status.FAILED
    assert "stopped renewing its lease at" in hung.error_message and "no heartbeat for 10 min" in hung.error_message


def test_a_run_waiting_on_purpose_for_hours_is_not_stale(linkedin_connection: Connection) -> None:
    now = timezone.now()
    until = now + timedelta(hours=3)
    waiting = in_flight(  # handed to a Celery retry: no process owns it until the retry starts
        linkedin_connection,
        owner_pid=None,
        owner_host="",
        heartbeat_at=now - timedelta(hours=1),
        waiting_until=until,
        waiting_reason="Waiting until 14:05 UTC: Google Ads API quota exhausted",
        lease_expires_at=until + timedelta(minutes=60),
    )
    assert stale_reason(waiting) is None
    assert sync_run_create_if_idle(connection_id=linkedin_connection.pk) is None
    # Once the wait is long over and no step picked the run up again, it is dead.
    SyncRun.objects.filter(pk=waiting.pk).update(
        waiting_until=now - timedelta(hours=2), lease_expires_at=now - timedelta(hours=1)
    )
    waiting.refresh_from_db()
    assert (stale_reason(waiting) or "").startswith("The retry due at ")


def test_a_step_that_no_worker_picked_up_is_stale_after_the_queue_timeout(
    linkedin_connection: Connection,
) -> None:
    now = timezone.now()
    lost = in_flight(
        linkedin_connection,
        owner_pid=None,
        owner_host="",
        heartbeat_at=now - timedelta(hours=2),
        lease_expires_at=now - timedelta(hours=1),
    )
    reason = stale_reason(lost) or ""
    assert "waited for a worker since" in reason and "its queued task was lost" in reason


def test_two_triggers_racing_for_a_stale_run_start_exactly_one(linkedin_connection: Connection) -> None:
    for _ in range(3):
        pid, started = dead_process()
        stale = in_flight(
            linkedin_connection,
            owner_host=socket.gethostname(),
            owner_pid=pid,
            owner_started_at=started,
            heartbeat_at=timezone.now(),
        )
        barrier = threading.Barrier(2)
        started_runs: list[SyncRun | None] = []

        def trigger(barrier: threading.Barrier = barrier, started_runs: list[SyncRun | None] = started_runs) -> None:
            barrier.wait()
            started_runs.append(sync_run_create_if_idle(connection_id=linkedin_connection.pk))

        for thread in [in_another_thread(trigger), in_another_thread(trigger)]:
            thread.join()

        assert len(started_runs) == 2 and sum(run is not None for run in started_runs) == 1
        stale.refresh_from_db()
        assert stale.status == SyncRun.Status.FAILED
        assert SyncRun.objects.filter(connection=linkedin_connection, status__in=SyncRun.IN_FLIGHT).count() == 1
        SyncRun.objects.filter(connection=linkedin_connection, status__in=SyncRun.IN_FLIGHT).update(
            status=SyncRun.Status.FAILED
        )


def test_a_run_busy_for_many_lease_periods_is_never_taken_over(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox, settings: Any
) -> None:
    """A 1-second lease and a slow sandbox stand for hours of work and a lease of minutes."""
    settings.SYNC_RUN_LEASE_SECONDS = 1
    settings.HTTP_MAX_ATTEMPTS = 8
    settings.HTTP_BACKOFF_BASE_SECONDS = settings.HTTP_BACKOFF_MAX_SECONDS = 1.0
    linkedin_app.faults.add("rate_limit", times=6, path=ANALYTICS)  # 6 backoffs of 0.5-1 s inline: 3 s or more
    done = threading.Event()
    attempts: list[tuple[Any, SyncRun | None]] = []  # (when answered, the run it started or None)

    def keep_triggering() -> None:
        while not done.is_set() and not SyncRun.objects.filter(connection=linkedin_connection).exists():
            time.sleep(0.01)  # the sync under test starts first
        while not done.is_set():
            result = sync_run_create_if_idle(connection_id=linkedin_connection.pk)
            attempts.append((timezone.now(), result))  # when it answered (SQLite may make it wait)
            time.sleep(0.1)

    started = timezone.now()
    trigger = in_another_thread(keep_triggering)
    try:
        run = sync_start(connection_id=linkedin_connection.pk)
    finally:
        done.set()
        trigger.join()

    assert run is not None
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message  # a take-over would have failed its load
    assert run.finished_at is not None
    assert (run.finished_at - started).total_seconds() > 2.5, "the sync must outlast the lease several times"
    during = [(moment, result) for moment, result in attempts if moment < run.finished_at]
    late = [moment for moment, _ in during if (moment - started).total_seconds() > 1.5]
    assert len(late) > 3, "triggers must keep arriving after the first lease period"
    assert all(result is None for _, result in during)
    # A trigger that came after the run ended may have started the next sync; none ran beside it.
    later = SyncRun.objects.filter(connection=linkedin_connection).exclude(pk=run.pk)
    assert all(other.created_at >= run.finished_at for other in later)
    assert linkedin_app.faults.pending() == []
    assert warehouse(linkedin_connection) == served(run)


def test_a_step_whose_run_was_cancelled_stops_and_loads_nothing(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox, settings: Any
) -> None:
    settings.SYNC_RUN_LEASE_SECONDS = 1
    linkedin_app.faults.add("hold", path=ANALYTICS, seconds=30)

    def cancel_while_held() -> None:
        assert linkedin_app.holds.wait_until_held(timeout=30)
        live = SyncRun.objects.get(connection=linkedin_connection, status__in=SyncRun.IN_FLIGHT)
        sync_run_cancel(sync_run_id=live.pk, reason="Cancelled by the test during extract.")
        linkedin_app.release_held()

    canceller = in_another_thread(cancel_while_held)
    run = sync_start(connection_id=linkedin_connection.pk)
    canceller.join()

    assert run is not None
    run.refresh_from_db()
    assert run.status == SyncRun.Status.CANCELLED and run.error_message == "Cancelled by the test during extract."
    assert run.step == SyncRun.Step.EXTRACT  # no later step ran
    assert not AdPerformanceDaily.objects.exists()
    assert not RawPage.objects.filter(sync_run=run).exists()
    # The next sync runs normally.
    again = sync_start(connection_id=linkedin_connection.pk)
    assert again is not None
    again.refresh_from_db()
    assert again.status == SyncRun.Status.SUCCEEDED and warehouse(linkedin_connection) == served(again)


def test_a_wait_announced_inside_a_step_stays_on_the_run_while_its_heartbeats_go_on(
    linkedin_connection: Connection,
) -> None:
    from etl.lease import lease_claim

    run = in_flight(linkedin_connection)
    lease = lease_claim(run.pk)
    until = timezone.now() + timedelta(minutes=10)
    lease.waiting(until, "Demandbase is still preparing the accounts export")
    lease.renew()  # a heartbeat during the wait
    run.refresh_from_db()
    assert run.waiting_until == until and run.waiting_reason.startswith("Demandbase is still preparing")
    assert run.lease_expires_at is not None and run.lease_expires_at > until
    lease.waiting(timezone.now() - timedelta(seconds=1), "a wait that is over")
    lease.renew()
    run.refresh_from_db()
    assert run.waiting_until is None and run.waiting_reason == ""

"""The lease scenarios: a run in flight holds a lease its working step renews; a run whose heartbeat
lapsed, or whose owner process is gone, is stale and the next trigger takes over at once; a run
that waits on purpose says until when and is not stale meanwhile.

Each action waits on a condition read from the run's row (its owner, its heartbeat, its wait) or
from the sandbox, not on a guessed sleep, and fails with what it was waiting for when the
condition never comes.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chaos_faults import REACH_TIMEOUT, owner_process, wait_until_held
from chaos_run import Chaos, all_runs_finished
from harness import wait_until

LEASE_SETTING = "SYNC_RUN_LEASE_SECONDS"


def lease_seconds(chaos: Chaos) -> float:
    from django.conf import settings

    return float(chaos.scenario.env.get(LEASE_SETTING, settings.SYNC_RUN_LEASE_SECONDS))


def lease_of(run_id: int) -> dict[str, Any]:
    """The run's lease columns as they are now."""
    from etl.models import SyncRun

    return dict(
        SyncRun.objects.filter(pk=run_id)
        .values("status", "owner_pid", "heartbeat_at", "lease_expires_at", "waiting_until", "waiting_reason")
        .get()
    )


def age(moment: datetime | None) -> float | None:
    from django.utils import timezone

    return None if moment is None else (timezone.now() - moment).total_seconds()


def first_run_id(chaos: Chaos) -> int:
    return int(wait_until(lambda: next((run.pk for run in chaos.runs()), None), timeout=30, what="a run"))


def heartbeat_older_than(run_id: int, seconds: float) -> bool:
    heartbeat_age = age(lease_of(run_id)["heartbeat_at"])
    return heartbeat_age is not None and heartbeat_age > seconds


def waiting_on_purpose(run_id: int) -> bool:
    """The run's ``waiting_until`` is still ahead."""
    until_age = age(lease_of(run_id)["waiting_until"])
    return until_age is not None and until_age < 0


def waiting_past_its_heartbeat(run_id: int, seconds: float) -> bool:
    """The run waits on purpose and its heartbeat is older than the lease: a check of the
    heartbeat alone would take it for dead."""
    return waiting_on_purpose(run_id) and heartbeat_older_than(run_id, seconds)


# --------------------------------------------------------------------------- heartbeat-stops


def stop_owner_until_taken_over(chaos: Chaos) -> None:
    """SIGSTOP the process that owns the run while its data request is held; once its heartbeat is
    older than the lease, trigger again: the stale run is closed and a new run completes. Then the
    stopped process resumes and gets its answer, and must find it has nothing left to do."""
    wait_until_held(chaos)
    run_id = first_run_id(chaos)
    owner = owner_process(chaos)
    chaos.stop_process(owner)
    lease = lease_seconds(chaos)
    wait_until(
        lambda: heartbeat_older_than(run_id, lease),
        timeout=REACH_TIMEOUT,
        what=f"the run's heartbeat to be older than the lease ({lease:g} s)",
    )
    chaos.facts["owner stopped"] = f"pool process {owner} of run {run_id}, its heartbeat let lapse"
    chaos.trigger()
    wait_until(
        lambda: all_runs_finished(chaos.connection_id, 2),
        timeout=180,
        what="the second trigger to close the stale run and a new run to finish",
    )
    chaos.facts["after the takeover"] = runs_summary(chaos)
    chaos.resume_processes()
    chaos.app.release_held()
    wait_until(chaos.worker.idle, timeout=180, what="the resumed process to finish its step")
    chaos.facts["the resumed extract"] = task_ending(chaos, chaos.runs()[0].task_ids[1]) or "no end logged"


def task_ending(chaos: Chaos, task_id: str) -> str | None:
    """How the worker log says a task ended (succeeded, ignored, retry, raised), if it did."""
    found = re.search(rf"\[{re.escape(task_id)}\] (succeeded|ignored|retry|raised)", chaos.worker.log())
    return found.group(1) if found else None


def resumed_step_stopped(chaos: Chaos) -> str | None:
    """The resumed process got its answer and ended its step without going on (LeaseLost)."""
    ending = chaos.facts.get("the resumed extract")
    if ending == "ignored":
        return None
    return f"the resumed extract step ended {ending!r}, expected 'ignored' (it lost its run)"


def runs_summary(chaos: Chaos) -> str:
    return ", ".join(f"run {r.pk} {r.status}/{r.step} {r.error_class}".rstrip() for r in chaos.runs())


# --------------------------------------------------------------------------- long-wait-under-lease (Celery)


RETRY_LOGGED = re.compile(r"sync\.extract\[[^]]+\] retry: (Retry in [\d.]+s)")


def trigger_during_celery_wait(chaos: Chaos) -> None:
    """While the extract step waits for its Celery retry (longer than the lease), with a heartbeat
    older than the lease, send a second trigger: it must leave the waiting run alone."""
    retry = wait_until(
        lambda: RETRY_LOGGED.search(chaos.worker.log()),
        timeout=REACH_TIMEOUT,
        what="the extract step's Celery retry after the throttle",
    )
    chaos.facts["celery retry"] = retry.group(1)
    run_id = first_run_id(chaos)
    lease = lease_seconds(chaos)
    wait_until(
        lambda: waiting_past_its_heartbeat(run_id, lease),
        timeout=REACH_TIMEOUT,
        what=f"the run to wait on purpose (waiting_until ahead), its heartbeat older than {lease:g} s",
    )
    trigger_while_waiting(chaos, run_id, still_waiting=lambda: waiting_on_purpose(run_id))


def trigger_while_waiting(chaos: Chaos, run_id: int, *, still_waiting: Callable[[], bool]) -> None:
    """Send one more trigger, wait until the worker has run it, and note what it left behind."""
    chaos.trigger()
    wait_until(
        lambda: chaos.triggers_consumed() >= len(chaos.trigger_ids),
        timeout=60,
        what="the second trigger to run",
    )
    lease_now = lease_of(run_id)
    chaos.facts["runs right after the second trigger"] = len(chaos.runs())
    chaos.facts["still waiting when the second trigger ran"] = still_waiting()
    chaos.facts["heartbeat age then"] = f"{age(lease_now['heartbeat_at']) or 0:.1f} s"
    if lease_now["waiting_reason"]:
        chaos.facts["waiting reason"] = lease_now["waiting_reason"]


# --------------------------------------------------------------------------- long-inline-wait-under-lease


INLINE_WAIT_SECONDS = 12  # a throttle's own delay, short enough to be waited inside the step
INLINE_WAIT_METHOD = "SearchStream"


def trigger_during_inline_wait(chaos: Chaos) -> None:
    """Once the extract step has slept on a throttle's delay for longer than the lease, inside the
    step, send a second trigger: the step's beats keep its lease, so it must leave the run alone.

    The wait begins when the sandbox answers the throttle; the step is still in it as long as it
    has not called again. Being past the lease period is a matter of the clock, by design."""
    wait_until(
        lambda: not chaos.app.faults.pending(), timeout=REACH_TIMEOUT, what="the throttle to be answered"
    )
    began, calls = time.monotonic(), chaos.app.requests[INLINE_WAIT_METHOD]
    run_id = first_run_id(chaos)
    lease = lease_seconds(chaos)

    def in_the_wait() -> bool:
        return chaos.app.requests[INLINE_WAIT_METHOD] == calls

    wait_until(
        lambda: time.monotonic() - began > lease + 1 or not in_the_wait(),
        timeout=REACH_TIMEOUT,
        what=f"the extract step to be more than {lease:g} s into its wait",
    )
    chaos.facts["throttle wait"] = (
        f"{INLINE_WAIT_SECONDS} s inside the step, trigger sent after {lease + 1:g} s"
    )
    trigger_while_waiting(chaos, run_id, still_waiting=in_the_wait)


def no_takeover_during_the_wait(chaos: Chaos) -> str | None:
    runs, waiting = (
        chaos.facts.get("runs right after the second trigger"),
        chaos.facts.get("still waiting when the second trigger ran"),
    )
    if runs != 1:
        return f"the second trigger, sent during the wait, left {runs} run(s), expected 1"
    if not waiting:
        return "the run's wait was over before the second trigger ran, so the scenario proved nothing"
    return None


# --------------------------------------------------------------------------- stale-takeover-race


def dead_pid() -> int:
    """The id of a process of this host that has exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def plant_stale_run(chaos: Chaos) -> None:
    """A run in flight whose owner process is gone and whose lease expired an hour ago."""
    from django.utils import timezone

    from connectors.models import Connection
    from etl.models import SyncRun
    from etl.services import sync_window_for

    connection = Connection.objects.get(pk=chaos.connection_id)
    window, backfill = sync_window_for(connection)
    long_ago = timezone.now() - timedelta(hours=1)
    owner = dead_pid()
    run = SyncRun.objects.create(
        connection=connection,
        trigger="schedule",
        status=SyncRun.Status.RUNNING,
        step=SyncRun.Step.EXTRACT,
        window_start=window.start,
        window_end=window.end,
        is_backfill=backfill,
        started_at=long_ago,
        owner_host=socket.gethostname(),
        owner_pid=owner,
        owner_task_id="chaos-lost-task",
        heartbeat_at=long_ago,
        lease_expires_at=long_ago,
    )
    chaos.facts["stale run"] = f"run {run.pk}, owner pid {owner} gone, lease expired an hour ago"

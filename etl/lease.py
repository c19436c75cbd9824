"""A run's lease: who runs it, the heartbeat that proves it is alive, and when it counts as dead.

Exactly one run per connection may be in flight (the database guard on ``SyncRun``). A run that
nobody is running any more must not hold that place for hours, and a run that is working, or
waiting on purpose, must never be declared dead. So a run in flight holds a lease:

- **Working.** The step that runs it claims the lease (host, process id and start time, Celery
  task id, a fresh token) and renews it as it works: each page, each batch, each chunk, and while
  it sleeps on a backoff or an export job (``connectors.progress``). Each renewal is one short
  UPDATE of its own. The run is stale once its heartbeat is older than ``SYNC_RUN_LEASE_SECONDS``,
  or at once when its owner is a process on this host that no longer exists.
- **Queued.** A new run, or the next step of a chain, waits in the broker for a worker: stale after
  ``SYNC_RUN_QUEUED_TIMEOUT_MINUTES`` without a worker picking it up (the message was lost). With
  in-process tasks (the embedded default) the process that queues a run runs it at once, so it
  owns the run from the start.
- **Waiting on purpose.** A step handed to a Celery retry with a countdown (a rate limit's reset)
  records until when and why; the run is not stale before that moment (plus the queue allowance).

Every renewal and the end of every step check the token: a step whose run was taken over,
cancelled or claimed by a second delivery of the same step finds its token gone, raises
``LeaseLost`` and stops without writing anything more.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from connectors import progress
from etl.models import SyncRun

logger = logging.getLogger(__name__)

# A process id is the owner's only when the process also started when the owner did (ids are reused).
START_TIME_TOLERANCE_SECONDS = 1.0


class LeaseLost(Exception):
    """The step no longer owns its run: it was taken over, cancelled, finished or claimed again."""


def lease_period() -> timedelta:
    return timedelta(seconds=float(settings.SYNC_RUN_LEASE_SECONDS))


def queued_timeout() -> timedelta:
    return timedelta(minutes=float(settings.SYNC_RUN_QUEUED_TIMEOUT_MINUTES))


def tasks_run_in_process() -> bool:
    """In-process tasks (the embedded default): whoever queues a run runs it, there and then."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


# --------------------------------------------------------------------------- owners


def this_host() -> str:
    return socket.gethostname()


def process_started_at(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


@functools.lru_cache(maxsize=4)
def _this_process(pid: int) -> tuple[str, float | None]:
    """This process's host and start time (looked up once per process: a fork gets its own pid)."""
    return this_host(), process_started_at(pid)


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started_at: float | None
    task_id: str = ""

    @classmethod
    def this_process(cls, task_id: str = "") -> Owner:
        pid = os.getpid()
        host, started_at = _this_process(pid)
        return cls(host=host, pid=pid, started_at=started_at, task_id=task_id)

    def as_fields(self) -> dict[str, Any]:
        return {
            "owner_host": self.host,
            "owner_pid": self.pid,
            "owner_started_at": self.started_at,
            "owner_task_id": self.task_id,
        }


NO_OWNER: dict[str, Any] = {"owner_host": "", "owner_pid": None, "owner_started_at": None, "owner_task_id": ""}


def current_task_id() -> str:
    from celery import current_task

    request = getattr(current_task, "request", None)
    return str(getattr(request, "id", "") or "")


def owner_is_gone(run: SyncRun) -> bool:
    """Whether the run's owner is a process of this host that no longer exists.

    Only this host's processes can be looked at; an owner elsewhere is judged by its heartbeat.
    """
    if not run.owner_pid or run.owner_host != this_host():
        return False
    try:
        process = psutil.Process(run.owner_pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        started = process.create_time()
    except psutil.NoSuchProcess:
        return True
    except (psutil.Error, OSError):
        return False  # cannot tell: trust the heartbeat
    if run.owner_started_at is None:
        return False
    return abs(started - run.owner_started_at) > START_TIME_TOLERANCE_SECONDS


def describe_owner(run: SyncRun) -> str:
    if not run.owner_pid:
        return "no process yet (waiting for a worker)"
    task = f", task {run.owner_task_id}" if run.owner_task_id else ""
    return f"process {run.owner_pid} on {run.owner_host}{task}"


# --------------------------------------------------------------------------- staleness


def clock(moment: datetime) -> str:
    """A moment as a marketer reads it in a status line: ``09:12 UTC`` today, else with the day."""
    moment = moment.astimezone(UTC)
    if moment.date() == timezone.now().astimezone(UTC).date():
        return f"{moment:%H:%M} UTC"
    return f"{moment.day} {moment:%b %H:%M} UTC"


def duration(span: timedelta) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``: how long, as a status line says it."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 3 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def initial_lease(now: datetime) -> dict[str, Any]:
    """The lease a new run is created with."""
    if tasks_run_in_process():
        owner = Owner.this_process().as_fields()
        return {**owner, "heartbeat_at": now, "lease_expires_at": now + lease_period()}
    return {**NO_OWNER, "heartbeat_at": now, "lease_expires_at": now + queued_timeout()}


def stale_reason(run: SyncRun, *, now: datetime | None = None) -> str | None:
    """Why a run in flight is dead, in words a marketer can read; None while it is alive."""
    now = now or timezone.now()
    step = SyncRun.Step(run.step).value
    last = run.heartbeat_at or run.created_at
    if owner_is_gone(run):
        return f"The process running this sync stopped at {clock(last)} during {step}"
    expires = run.lease_expires_at or (run.created_at + queued_timeout())
    if expires > now:
        return None
    if run.owner_pid:
        return (
            f"The process running this sync stopped renewing its lease at {clock(last)} during {step} "
            f"(no heartbeat for {duration(now - last)})"
        )
    if run.waiting_until:
        return f"The retry due at {clock(run.waiting_until)} never started"
    return (
        f"The sync's {step} step waited for a worker since {clock(last)} without starting "
        "(its queued task was lost)"
    )


# --------------------------------------------------------------------------- the lease of a step


class Lease:
    """The claim of one step on its run; a ``connectors.progress`` reporter while the step works."""

    def __init__(self, run_id: int, token: str) -> None:
        self.run_id = run_id
        self.token = token
        period = lease_period().total_seconds()
        # Renew often enough that a few missed beats (a slow query, a long response) never let
        # the lease lapse, and rarely enough that renewals cost nothing beside the work.
        self.beat_interval = min(30.0, max(0.05, period / 10))
        self._last_renewal = time.monotonic()
        self._in_transaction = False
        self._waiting_until: datetime | None = None

    # -- progress.Reporter
    def beat(self) -> None:
        if time.monotonic() - self._last_renewal >= self.beat_interval:
            self.renew()

    def waiting(self, until: datetime, reason: str) -> None:
        """A deliberate wait inside the step: the lease covers it, and Sync health says why."""
        self._waiting_until = until
        now = timezone.now()
        self._update(
            heartbeat_at=now,
            lease_expires_at=max(until, now) + lease_period(),
            waiting_until=until,
            waiting_reason=reason[:500],
        )

    # -- renewals
    def renew(self) -> None:
        """A heartbeat; a wait announced by ``waiting`` and not yet over stays on the run."""
        now = timezone.now()
        if self._waiting_until is not None and self._waiting_until > now:
            self._update(heartbeat_at=now, lease_expires_at=self._waiting_until + lease_period())
            return
        cleared = {"waiting_until": None, "waiting_reason": ""} if self._waiting_until is not None else {}
        self._waiting_until = None
        self._update(heartbeat_at=now, lease_expires_at=now + lease_period(), **cleared)

    def _update(self, **fields: Any) -> None:
        self._last_renewal = time.monotonic()
        if self._in_transaction:
            self._renew_beside_transaction(fields)
            return
        if not self._claimed().update(**fields):
            raise LeaseLost(f"Sync run {self.run_id} is no longer this step's to run")

    def _claimed(self) -> Any:
        return SyncRun.objects.filter(pk=self.run_id, lease_token=self.token, status__in=SyncRun.IN_FLIGHT)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The step holds an open transaction: renew from a connection of its own meanwhile.

        The step's own connection would only write the heartbeat at commit. On PostgreSQL a short
        side connection writes it (skipping the row if the step's transaction has locked it); on
        SQLite, which allows one writer at a time, the heartbeat waits for the commit. Whether the
        lease is still held is checked when the step ends (``finish``), inside its transaction.
        """
        self._in_transaction = True
        try:
            yield
        finally:
            self._in_transaction = False

    def _renew_beside_transaction(self, fields: dict[str, Any]) -> None:
        if connection.vendor != "postgresql":
            return
        table = connection.ops.quote_name(SyncRun._meta.db_table)
        names = list(fields)
        assignments = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in names)
        sql = (
            f"UPDATE {table} SET {assignments} WHERE id = (SELECT id FROM {table} "
            "WHERE id = %s AND lease_token = %s FOR UPDATE SKIP LOCKED)"
        )
        params = [fields[name] for name in names] + [self.run_id, self.token]

        def renew() -> None:
            try:
                with connections["default"].cursor() as cursor:  # this thread's own connection
                    cursor.execute(sql, params)
            except Exception as exc:  # a missed heartbeat is not worth failing a load for
                logger.warning("lease.renew_failed", extra={"sync_run_id": self.run_id, "error": type(exc).__name__})
            finally:
                connections.close_all()

        thread = threading.Thread(target=renew, name="lease-renewal")
        thread.start()
        thread.join()

    # -- the end of the step
    def check(self) -> None:
        """Raise ``LeaseLost`` unless the run is still in flight under this step's token."""
        if not self._claimed().exists():
            raise LeaseLost(f"Sync run {self.run_id} is no longer this step's to run")

    def hand_off(self, **fields: Any) -> None:
        """The step is done: write what it did and hand the run to its next step.

        In-process, this process runs the next step at once and stays the owner; with workers the
        next step waits in the broker, so the run is owned by nobody until a worker claims it.
        """
        now = timezone.now()
        if tasks_run_in_process():
            lease: dict[str, Any] = {"lease_expires_at": now + lease_period()}
        else:
            lease = {**NO_OWNER, "lease_expires_at": now + queued_timeout()}
        self._update(**fields, **lease, heartbeat_at=now, waiting_until=None, waiting_reason="")

    @contextmanager
    def reporting(self) -> Iterator[Lease]:
        """Connectors' beats and waits renew this lease while the step works."""
        with progress.reporting(self):
            yield self


def lease_claim(run_id: int, *, task_id: str = "", **fields: Any) -> Lease:
    """Claim a run in flight for the step about to work on it, writing ``fields`` of the run in the
    same statement (its step, its status); ``LeaseLost`` if the run is not in flight."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = SyncRun.objects.filter(pk=run_id, status__in=SyncRun.IN_FLIGHT).update(
        **fields,
        **Owner.this_process(task_id or current_task_id()).as_fields(),
        lease_token=token,
        heartbeat_at=now,
        lease_expires_at=now + lease_period(),
        waiting_until=None,
        waiting_reason="",
    )
    if not claimed:
        raise LeaseLost(f"Sync run {run_id} is not in flight any more")
    return Lease(run_id, token)


def lease_wait_for_retry(run_id: int, *, until: datetime, reason: str) -> None:
    """The run's step was handed to a Celery retry at ``until``: it waits, owned by nobody, until then."""
    SyncRun.objects.filter(pk=run_id, status__in=SyncRun.IN_FLIGHT).update(
        **NO_OWNER,
        heartbeat_at=timezone.now(),
        lease_expires_at=until + queued_timeout(),
        waiting_until=until,
        waiting_reason=reason[:500],
    )

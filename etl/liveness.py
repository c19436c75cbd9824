"""Signs of life of the scheduler and the workers, kept in the database (every process of every
host sees them; the embedded default's cache is one process's memory), and the tasks waiting in
each queue.

beat records each tick (``etl.beat.LivenessScheduler``); a worker records itself when it is
ready and every ``WORKER_HEARTBEAT_SECONDS`` after (``etl.worker_lifecycle``). A clean shutdown
records when it stopped, so Sync health can say so at once; a killed process just stops ticking.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from etl.models import BeatHeartbeat, WorkerHeartbeat
from etl.queues import declared_queues

logger = logging.getLogger(__name__)

# Rows of workers not seen for this long are removed (a container's hostname changes each start).
FORGET_AFTER = timedelta(days=7)


def _safely(what: str, write: Callable[[], object]) -> None:
    """Run a liveness write; a database hiccup is logged, never raised into beat or the worker."""
    try:
        write()
    except DatabaseError as exc:
        logger.warning("liveness.write_failed", extra={"what": what, "error": type(exc).__name__})
        connection.close()


def beat_tick_record(*, now: datetime | None = None, stopped: bool = False) -> None:
    """beat is alive (or, with ``stopped``, has shut down cleanly) on this host."""
    moment = now or timezone.now()
    hostname = socket.gethostname()

    def write() -> None:
        updated = BeatHeartbeat.objects.filter(hostname=hostname).update(
            pid=os.getpid(), ticked_at=moment, stopped_at=moment if stopped else None
        )
        if not updated:
            BeatHeartbeat.objects.create(
                hostname=hostname,
                pid=os.getpid(),
                started_at=moment,
                ticked_at=moment,
                stopped_at=moment if stopped else None,
            )

    _safely("beat", write)


def beat_started_record(*, now: datetime | None = None) -> None:
    moment = now or timezone.now()
    hostname = socket.gethostname()
    _safely(
        "beat",
        lambda: BeatHeartbeat.objects.update_or_create(
            hostname=hostname,
            defaults={"pid": os.getpid(), "started_at": moment, "ticked_at": moment, "stopped_at": None},
        ),
    )


def worker_seen_record(
    *,
    hostname: str,
    queues: list[str],
    concurrency: int | None,
    now: datetime | None = None,
    started: bool = False,
    stopped: bool = False,
) -> None:
    """A worker is alive (``started`` the first time, ``stopped`` on a clean shutdown)."""
    moment = now or timezone.now()

    def write() -> None:
        values = {
            "pid": os.getpid(),
            "queues": sorted(queues),
            "concurrency": concurrency,
            "seen_at": moment,
            "stopped_at": moment if stopped else None,
        }
        if started:
            values["started_at"] = moment
        updated = WorkerHeartbeat.objects.filter(hostname=hostname).update(**values)
        if not updated:
            WorkerHeartbeat.objects.create(hostname=hostname, **{"started_at": moment, **values})
        if started:
            WorkerHeartbeat.objects.filter(seen_at__lt=moment - FORGET_AFTER).delete()

    _safely("worker", write)


def queue_lengths(*, broker_url: str | None = None) -> dict[str, int | None]:
    """Tasks waiting in each declared queue: ``None`` where the broker cannot say (or cannot be
    reached); empty when tasks run in-process and there is no queue at all.

    Redis answers the length of its lists (each priority's list added up), the embedded broker
    counts its message files. A retry's countdown is held by a worker, not counted here.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER and broker_url is None:
        return {}
    from kombu.transport import virtual

    from sales_dashboard.celery import app

    names = declared_queues()
    try:
        with app.connection_for_read(url=broker_url or settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=1, timeout=2)
            channel = conn.default_channel
            if not isinstance(channel, virtual.Channel):
                return dict.fromkeys(names)
            return {name: int(channel._size(name)) for name in names}
    except Exception as exc:  # any broker trouble means "unknown", never 0
        logger.warning("liveness.queue_lengths_unknown", extra={"error": type(exc).__name__})
        return dict.fromkeys(names)

"""How a worker process treats its resources: Celery signal receivers, connected when the etl app
is ready.

A worker keeps its database connection from one task to the next, as a web process keeps it from
one request to the next: around each task, connections that are broken or older than
``CONN_MAX_AGE`` are closed, and the health check runs again before the next query. (Celery's own
Django support would otherwise open a new connection for every task, which costs more than a
short step itself; ``CELERY_DB_REUSE_MAX`` turns that off.) The pipeline and every connector are
imported once in the worker's main process, before it forks its pool, so no pool process pays for
those imports on its first step; each pool process keeps its staging writer thread (and that
thread's connection) from step to step too. The main process records the worker's heartbeat for
Sync health (``etl.liveness``).
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Task
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from django.conf import settings
from django.db import close_old_connections, connection

from etl.liveness import worker_seen_record


@task_prerun.connect
@task_postrun.connect
def close_stale_database_connections(sender: Task | None = None, **_: Any) -> None:
    """Before and after each task in a worker: drop connections that are broken or past their age."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return  # in-process tasks share the caller's connection and transaction
    close_old_connections()


@worker_process_init.connect
def keep_staging_writer(**_: Any) -> None:
    """A pool process keeps its staging writer's connection from step to step, like its own."""
    from etl.background_writer import keep_between_steps

    keep_between_steps()


@worker_init.connect
def import_pipeline(**_: Any) -> None:
    """Import the steps' code and every connector in the worker's main process, before the fork."""
    import etl.services  # noqa: F401
    from connectors.registry import connector_classes

    connector_classes()


class _Heartbeat:
    """The worker's main process records itself every WORKER_HEARTBEAT_SECONDS, from a thread of
    its own (so a long step in a solo pool does not stop it), until the worker shuts down."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.details: dict[str, Any] = {}

    def start(self, consumer: Any) -> None:
        if self.thread is not None:
            return  # the consumer reconnected: the worker is the same
        controller = getattr(consumer, "controller", None)
        self.details = {
            "hostname": consumer.hostname,
            "queues": sorted(consumer.app.amqp.queues.consume_from),
            "concurrency": getattr(controller, "concurrency", None),
        }
        worker_seen_record(**self.details, started=True)
        connection.close()
        self.thread = threading.Thread(target=self.run, name="liveness-heartbeat", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
            worker_seen_record(**self.details)
            connection.close()  # this thread's own connection; opened again next time

    def shutdown(self) -> None:
        if self.thread is None:
            return
        self.stop.set()
        self.thread.join(timeout=5)
        worker_seen_record(**self.details, stopped=True)


_heartbeat = _Heartbeat()


@worker_ready.connect
def start_heartbeat(sender: Any = None, **_: Any) -> None:
    """Once the worker consumes its queues, Sync health sees it (etl.liveness)."""
    if sender is not None:
        _heartbeat.start(sender)


@worker_shutdown.connect
def stop_heartbeat(**_: Any) -> None:
    _heartbeat.shutdown()

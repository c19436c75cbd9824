"""How a worker process treats its resources: Celery signal receivers, connected when the etl app
is ready.

A worker keeps its database connection from one task to the next, as a web process keeps it from
one request to the next: around each task, connections that are broken or older than
``CONN_MAX_AGE`` are closed, and the health check runs again before the next query. (Celery's own
Django support would otherwise open a new connection for every task, which costs more than a
short step itself; ``CELERY_DB_REUSE_MAX`` turns that off.) The pipeline and every connector are
imported once in the worker's main process, before it forks its pool, so no pool process pays for
those imports on its first step; each pool process keeps its staging writer thread (and that
thread's connection) from step to step too.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init
from django.db import close_old_connections


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

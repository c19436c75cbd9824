"""Celery's own cost of a sync's chain: five tasks that do nothing, with the project's settings.

A worker started with ``-A celery_floor`` (``bench/`` on its path, no Django) runs five no-op tasks
named like the five sync steps, with the same queues, acknowledgement, prefetch, event and result
settings as the project's (``sales_dashboard/settings/components/celery.py``). The fan-out
benchmark sends one such chain per connection to the same number of workers and measures it as it
measures real syncs, so its chain overhead can be read against what Celery itself costs on this
machine: the part no change to the pipeline can remove while a sync is five tasks.

Only the floor's workers import this module; the benchmark sends the chains by task name.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

_django_settings_before = os.environ.get("DJANGO_SETTINGS_MODULE")
from sales_dashboard.settings.components import celery as project_settings  # noqa: E402

if _django_settings_before is None:
    # Importing the project named its Django settings; the floor's workers run without Django.
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)

STEPS = (
    ("sync.refresh_token", "sync.linkedin_ads"),
    ("sync.extract", "sync.linkedin_ads"),
    ("sync.normalize", "sync.linkedin_ads"),
    ("sync.load", "sync.linkedin_ads"),
    ("sync.prune", "maintenance"),
)

app = Celery("celery_floor")
app.config_from_object(project_settings, namespace="CELERY")


def _noop_task(name: str, queue: str) -> Any:
    def noop(sync_run_id: int) -> int:
        return sync_run_id

    noop.__name__ = noop.__qualname__ = name.replace(".", "_")
    return app.task(name=name, queue=queue, ignore_result=True, acks_late=True)(noop)


TASKS = [_noop_task(name, queue) for name, queue in STEPS]

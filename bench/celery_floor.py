"""Celery's own cost of a sync's chain: five tasks that do nothing, with the project's settings.

A worker started with ``-A celery_floor`` (``bench/`` on its path, no Django) runs five no-op tasks
named like the five sync steps, with the same queues, acknowledgement, prefetch, event and result
settings as the project's (``sales_dashboard/settings/components/celery.py``). The fan-out
benchmark sends one such chain per connection to the same number of workers and measures it as it
measures real syncs, so its chain overhead can be read against what Celery itself costs on this
machine: the part no change to the pipeline can remove while a sync is five tasks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from celery import Celery, chain

_django_settings_before = os.environ.get("DJANGO_SETTINGS_MODULE")
from sales_dashboard.settings.components import celery as project_settings  # noqa: E402

if _django_settings_before is None:
    # Importing the project named its Django settings; the floor's workers run without Django.
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)

STEPS = (
    ("sync.refresh_token", "sync"),
    ("sync.extract", "sync"),
    ("sync.normalize", "sync"),
    ("sync.load", "sync"),
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


def send_chains(count: int) -> float:
    """Send ``count`` chains of the five no-op steps; returns when the sending started (epoch s)."""
    sent_at = time.time()
    for index in range(count):
        chain(
            *(app.signature(name, args=(index,), queue=queue, immutable=True) for name, queue in STEPS)
        ).apply_async()
    return sent_at


def wait_for(done: Callable[[], int], expected: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done() >= expected:
            time.sleep(1.0)  # the last events are still on their way
            return True
        time.sleep(0.25)
    return False


def floor_env(base: dict[str, Any]) -> dict[str, str]:
    """A floor worker's environment: the broker settings of ``base``, ``bench/`` on the path, no Django."""
    env = {k: v for k, v in base.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.path.dirname(os.path.abspath(__file__))
    return env

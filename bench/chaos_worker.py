"""The Celery app module of the fault suite's worker: the project's app, with the load hook on.

``celery -A chaos_worker worker`` (with ``bench/`` on ``PYTHONPATH``) runs exactly the project's
tasks and configuration; the only addition is the receiver of ``chaos_hooks``, connected in the
main process before the pool forks, so every pool process has it. It does nothing unless the
environment arms it (``CHAOS_HOOK_DIR``, ``CHAOS_HOOK_ON_LOAD``).
"""

from __future__ import annotations

from chaos_hooks import connect_load_hook

from sales_dashboard.celery import app

connect_load_hook()

__all__ = ["app"]

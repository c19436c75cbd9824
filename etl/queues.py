"""Which Celery queue a sync's steps go to: one queue per platform (``sync.google_ads``...).

A platform in trouble (throttled for hours, slow, down) then fills only its own queue: a worker
takes its messages in turn with the other queues', and a deployment can give a platform workers of
its own (``celery worker -Q sync.google_ads``), so the others' syncs never wait behind it. The
prune step stays on "maintenance". The queues are declared in the settings, one per platform
folder (``CELERY_TASK_QUEUES``).
"""

from __future__ import annotations

from django.conf import settings


def sync_queue(platform: str) -> str:
    """The queue of the steps of a sync of this platform: ``sync.<platform>``."""
    return f"{settings.SYNC_QUEUE_PREFIX}{platform}"


def declared_queues() -> list[str]:
    """Every queue a worker started without -Q consumes, in the settings' order."""
    return [queue.name for queue in settings.CELERY_TASK_QUEUES]

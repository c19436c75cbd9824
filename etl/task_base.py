"""The Celery base class of every sync step.

``SyncStepTask`` owns the step's failure handling, so task bodies stay one line: transient errors
and rate limits are retried with backoff (a platform's own wait wins), and the run records until
when and why it waits, so nobody takes it for dead meanwhile; everything else, and retries
exhausted, marks the SyncRun failed with a readable reason. A step whose run is no longer its own
(taken over, cancelled, removed: ``LeaseLost``) ends quietly and the rest of its chain is dropped.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any

from celery import Task
from celery.exceptions import Ignore
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone

from connectors.errors import RateLimited, TransientError
from etl.lease import LeaseLost, clock, lease_wait_for_retry

logger = logging.getLogger(__name__)


class SyncStepTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    max_retries = 4
    retry_backoff_seconds = 30
    retry_backoff_max_seconds = 900

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except LeaseLost as exc:
            logger.info("sync.step_dropped", extra={"task": self.name, "reason": str(exc)})
            raise Ignore(str(exc)) from None
        except (OperationalError, InterfaceError) as exc:
            # The database dropped the connection (restart, failover, terminated backend) or hit a
            # deadlock: the step's transaction rolled back, so it is safe to run it again on a fresh
            # connection.
            connections.close_all()
            if self.request.called_directly or self.request.retries >= self.max_retries:
                raise
            why = "the database connection was lost"
            raise self.retry_later(exc, args, kwargs, self.countdown(exc), why) from None
        except (TransientError, RateLimited) as exc:
            if self.request.called_directly or self.request.retries >= self.max_retries:
                raise
            countdown = self.countdown(exc)
            # Longer waits (a daily quota) are not queued: the next scheduled sync will try again.
            if countdown > settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] / 2:
                raise
            raise self.retry_later(exc, args, kwargs, countdown, exc.message) from None

    def retry_later(self, exc: Exception, args: Any, kwargs: Any, countdown: float, why: str) -> Exception:
        """Hand the step to a Celery retry; the run says until when it waits, and why."""
        sync_run_id = self.sync_run_id(args, kwargs)
        if sync_run_id is not None and not self.request.is_eager:
            until = timezone.now() + timedelta(seconds=countdown)
            try:
                lease_wait_for_retry(sync_run_id, until=until, reason=f"Waiting until {clock(until)}: {why}")
            except (OperationalError, InterfaceError):
                connections.close_all()  # the run keeps its lease; the retry claims it again
        return self.retry(exc=exc, countdown=countdown)

    @staticmethod
    def sync_run_id(args: Any, kwargs: Any) -> int | None:
        value = kwargs.get("sync_run_id", args[0] if args else None)
        return int(value) if value is not None else None

    def countdown(self, exc: Exception) -> float:
        ceiling = min(self.retry_backoff_max_seconds, self.retry_backoff_seconds * 2**self.request.retries)
        delay = random.uniform(ceiling / 2, ceiling)
        return max(delay, getattr(exc, "retry_after", None) or 0.0)

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        from etl.services import sync_run_fail

        sync_run_id = self.sync_run_id(args, kwargs)
        if sync_run_id is not None:
            sync_run_fail(sync_run_id=sync_run_id, exc=exc)

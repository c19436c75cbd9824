"""The beat scheduler: django-celery-beat's DatabaseScheduler (the schedule lives in the database,
editable in the admin), recording each tick so Sync health can tell whether beat is alive."""

from __future__ import annotations

import time
from typing import Any

from django_celery_beat.schedulers import DatabaseScheduler

from etl.liveness import beat_started_record, beat_tick_record

# At most one write per this many seconds, however often beat wakes up.
TICK_RECORD_SECONDS = 1.0


class LivenessScheduler(DatabaseScheduler):
    _tick_recorded = 0.0

    def setup_schedule(self) -> None:
        super().setup_schedule()
        beat_started_record()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.monotonic()
        if now - self._tick_recorded >= TICK_RECORD_SECONDS:
            beat_tick_record()
            self._tick_recorded = now
        return float(super().tick(*args, **kwargs))

    def close(self) -> None:
        try:
            super().close()
        finally:
            beat_tick_record(stopped=True)

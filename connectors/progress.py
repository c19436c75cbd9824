"""How a connector's long work tells whoever runs it that it is still alive.

A connector calls ``beat()`` as it makes progress (each response, each page) and ``sleep()`` instead
of ``time.sleep`` whenever it waits (a backoff, an export job being prepared, a free slot). Whoever
runs the connector installs a ``Reporter`` around the work with ``reporting()``: the pipeline's
lease renews its heartbeat on each beat and records a long wait with its reason, so a run that is
waiting on purpose is never mistaken for a dead one. With no reporter installed (a shell, a test),
both are plain: ``beat()`` does nothing and ``sleep()`` sleeps.

A reporter may raise from ``beat()`` (the pipeline does when its run was taken over or cancelled):
the exception travels up through the connector and stops the work.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Reporter(Protocol):
    # While sleeping, beat at least this often (seconds).
    beat_interval: float

    def beat(self) -> None: ...

    def waiting(self, until: datetime, reason: str) -> None: ...


_reporter: ContextVar[Reporter | None] = ContextVar("connector_progress_reporter", default=None)

# Waits shorter than this are not worth announcing; they only beat.
ANNOUNCE_WAITS_FROM_SECONDS = 10.0


def beat() -> None:
    """Some progress was made (a response arrived, a page was read)."""
    reporter = _reporter.get()
    if reporter is not None:
        reporter.beat()


def announce_wait(seconds: float, reason: str) -> None:
    """Say why the work is about to wait and until when (only waits long enough to matter)."""
    reporter = _reporter.get()
    if reporter is not None and seconds >= ANNOUNCE_WAITS_FROM_SECONDS:
        reporter.waiting(datetime.now(UTC) + timedelta(seconds=seconds), reason)


def sleep(seconds: float) -> None:
    """Wait ``seconds``, beating meanwhile."""
    reporter = _reporter.get()
    if reporter is None:
        time.sleep(max(0.0, seconds))
        return
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, max(0.01, reporter.beat_interval)))
        reporter.beat()


@contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)

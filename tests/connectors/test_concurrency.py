"""The cross-worker concurrency limit, on the real Redis cache."""

from __future__ import annotations

import threading
import time

import pytest

from connectors.concurrency import ConcurrencyLimit
from connectors.errors import RateLimited


def test_at_most_limit_holders_at_once() -> None:
    active, peak, lock = 0, 0, threading.Lock()

    def work() -> None:
        nonlocal active, peak
        with ConcurrencyLimit("test:peak", 3, wait_seconds=10, poll_seconds=0.01):
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.05)
            with lock:
                active -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3


def test_waiting_too_long_is_rate_limited() -> None:
    with ConcurrencyLimit("test:full", 1), pytest.raises(RateLimited, match="simultaneous"):
        ConcurrencyLimit("test:full", 1, wait_seconds=0.1, poll_seconds=0.02).acquire()
    with ConcurrencyLimit("test:full", 1, wait_seconds=0.1):
        pass  # released again

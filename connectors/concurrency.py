"""A limit on simultaneous requests to one platform account, shared by every worker.

Some platforms cap concurrent connections per account (Mailchimp: 10; Zoho: by edition). Slots
are cache keys taken with an atomic add (SET NX on Redis, in-process with the local-memory cache of
the embedded default) and released on exit; a TTL frees the slot of a process that died holding it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from types import TracebackType

from django.core.cache import cache

from connectors import progress
from connectors.errors import RateLimited


class ConcurrencyLimit:
    def __init__(
        self,
        key: str,
        limit: int,
        *,
        ttl_seconds: int = 300,
        wait_seconds: float = 120.0,
        poll_seconds: float = 0.1,
        sleep: Callable[[float], None] = progress.sleep,
    ) -> None:
        self.key = key
        self.limit = limit
        self.ttl = ttl_seconds
        self.wait = wait_seconds
        self.poll = poll_seconds
        self.sleep = sleep
        self.slot: str | None = None
        self.token = uuid.uuid4().hex

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        while True:
            for index in range(self.limit):
                slot = f"concurrency:{self.key}:{index}"
                if cache.add(slot, self.token, self.ttl):
                    self.slot = slot
                    return
            if time.monotonic() >= deadline:
                raise RateLimited(
                    f"All {self.limit} simultaneous connections allowed for {self.key} are in use"
                )
            self.sleep(self.poll)

    def release(self) -> None:
        if self.slot is not None and cache.get(self.slot) == self.token:
            cache.delete(self.slot)
        self.slot = None

    def __enter__(self) -> ConcurrencyLimit:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

"""Database writes handed to one background thread, so a step parses while PostgreSQL stores.

Extract stages pages and normalize stages chunks: on PostgreSQL most of that cost is the
server's (parsing and storing the values), and it can run on another core while this process
fetches and parses the next page. Writes run in order on the writer's own connection (outside
any transaction of the caller, as the steps' staging writes are); at most ``depth`` are waiting,
so memory stays bounded; the first failure is raised in the caller at the next submit or at the
end. On other databases (SQLite allows one writer at a time), and inside a transaction, writes run
inline.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from django.db import connection, connections

Write = Callable[[], Any]
_DONE = object()


class BackgroundWriter:
    def __init__(self, depth: int = 2) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="staging-writer", daemon=True)
        self._thread.start()

    def submit(self, write: Write) -> None:
        self._raise_if_failed()
        self._queue.put(write)

    def close(self) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        self._raise_if_failed()

    def _run(self) -> None:
        try:
            while (write := self._queue.get()) is not _DONE:
                if self._error is None:
                    try:
                        write()
                    except BaseException as exc:  # handed to the caller
                        self._error = exc
        finally:
            connections.close_all()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error


class InlineWriter:
    def submit(self, write: Write) -> None:
        write()

    def close(self) -> None:
        pass


@contextmanager
def staging_writes() -> Iterator[BackgroundWriter | InlineWriter]:
    # Inside a transaction the caller's rows are not visible to another connection: write inline.
    background = connection.vendor == "postgresql" and not connection.in_atomic_block
    writer: BackgroundWriter | InlineWriter = BackgroundWriter() if background else InlineWriter()
    try:
        yield writer
    except BaseException:
        with suppress(BaseException):  # the caller's own error is the one to report
            writer.close()
        raise
    writer.close()

"""Database writes handed to one background thread, so a step parses while PostgreSQL stores.

Extract stages pages and normalize stages chunks: on PostgreSQL most of that cost is the
server's (parsing and storing the values), and it can run on another core while this process
fetches and parses the next page. Writes run in order on the writer's own connection (outside
any transaction of the caller, as the steps' staging writes are); at most ``depth`` are waiting,
so memory stays bounded; the first failure is raised in the caller at the next submit or at the
end. On other databases (SQLite allows one writer at a time), and inside a transaction, writes run
inline.

A Celery worker process keeps one writer, and its connection, from one step to the next (see
``keep_between_steps``), as it keeps its own connection: opening a connection costs about as much
as a small sync's staging itself. Elsewhere each ``staging_writes`` block has its own thread,
which closes its connection when the block ends.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from django.db import close_old_connections, connection, connections

Write = Callable[[], Any]
_STOP = object()


class BackgroundWriter:
    def __init__(self, depth: int = 2) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="staging-writer", daemon=True)
        self._thread.start()

    def submit(self, write: Write) -> None:
        self._raise_if_failed()
        self._queue.put(write)

    def drain(self) -> None:
        """Wait until every submitted write has run; raise the first failure among them."""
        done = threading.Event()
        self._queue.put(done)
        done.wait()
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._queue.put(_STOP)
            self._thread.join()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not _STOP:
                if isinstance(item, threading.Event):
                    close_old_connections()  # broken or past CONN_MAX_AGE: reconnect next time
                    item.set()
                elif self._error is None:
                    try:
                        item()
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

    def drain(self) -> None:
        pass


_kept: dict[str, Any] = {"enabled": False, "pid": None, "writer": None}


def keep_between_steps() -> None:
    """Keep one writer (and its connection) in this process for every later step."""
    _kept["enabled"] = True


def _kept_writer() -> BackgroundWriter:
    writer = _kept["writer"]
    if writer is None or _kept["pid"] != os.getpid() or not writer.is_alive():
        writer = _kept["writer"] = BackgroundWriter()
        _kept["pid"] = os.getpid()
    return writer


@contextmanager
def staging_writes() -> Iterator[BackgroundWriter | InlineWriter]:
    # Inside a transaction the caller's rows are not visible to another connection: write inline.
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield InlineWriter()
        return
    kept = _kept["enabled"]
    writer = _kept_writer() if kept else BackgroundWriter()
    finish = writer.drain if kept else writer.close
    try:
        yield writer
    except BaseException:
        with suppress(BaseException):  # the caller's own error is the one to report
            finish()
        raise
    finish()

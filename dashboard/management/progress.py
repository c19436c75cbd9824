"""Progress of a command's work: a bar on a terminal, a plain line now and then anywhere else.

A bar redraws itself with carriage returns; written to a log file or a pipe, that is one ever
longer line. Where the stream is not a terminal the same progress is printed as ordinary lines,
at most one every ``interval`` seconds, and one at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from tqdm import tqdm

PLAIN_PROGRESS_SECONDS = 10.0


class Stream(Protocol):
    def write(self, text: str, /) -> object: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


class Progress(Protocol):
    """What the commands use of a progress display (tqdm's names)."""

    n: float | int

    def update(self, n: float | int | None = 1) -> bool | None: ...

    def close(self) -> None: ...


class PlainProgress:
    """The part of tqdm's interface the commands use (``n``, ``update``, ``close``), as lines."""

    def __init__(
        self,
        *,
        total: int,
        desc: str,
        unit: str,
        file: Stream,
        disable: bool = False,
        interval: float = PLAIN_PROGRESS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit, self.file = total, desc, unit, file
        self.disable, self.interval, self.clock = disable, interval, clock
        self.n: float | int = 0
        self._started = clock()
        self._printed_at: float | None = None
        self._printed_n: float | int | None = None
        self._closed = False

    def update(self, n: float | int | None = 1) -> bool | None:
        if self.disable or not n:
            return None
        self.n += n
        now = self.clock()
        if self._printed_at is None or now - self._printed_at >= self.interval:
            self._print(now)
        return None

    def close(self) -> None:
        if self.disable or self._closed:
            return
        self._closed = True
        if self._printed_n != self.n:
            self._print(self.clock())

    def _print(self, now: float) -> None:
        share = f" ({int(100 * self.n // self.total)}%)" if self.total else ""
        self.file.write(
            f"{self.desc}: {self.n:g}/{self.total} {self.unit}s{share}, {now - self._started:.0f} s\n"
        )
        self.file.flush()
        self._printed_at, self._printed_n = now, self.n


def progress(*, total: int, desc: str, unit: str, file: Stream, disable: bool = False) -> Progress:
    """A tqdm bar when ``file`` is a terminal, else :class:`PlainProgress` lines.

    ``file`` may be a command's ``self.stderr``: the bar is drawn on the stream it wraps, since
    Django's wrapper would end each redraw with a newline.
    """
    if file.isatty():
        return tqdm(total=total, desc=desc, unit=unit, file=getattr(file, "_out", file), disable=disable)
    return PlainProgress(total=total, desc=desc, unit=unit, file=file, disable=disable)

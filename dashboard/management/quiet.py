"""Quieter logs for commands run by a person: the command's own output says what happened."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


@contextmanager
def quiet_logs(verbosity: int, names: Sequence[str], level: int = logging.WARNING) -> Iterator[None]:
    """Raise these loggers to ``level`` below ``-v 2``, and put them back afterwards."""
    loggers = [logging.getLogger(name) for name in names]
    previous = [logger.level for logger in loggers]
    if verbosity < 2:
        for logger in loggers:
            logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, previous, strict=True):
            logger.setLevel(old)

"""Backfills in resumable day-slices, within the platform's daily budget.

A backfill (a connection's first sync, or ``start_background_syncs --backfill-days N``) reads its
window in slices of the connector's ``backfill_slice_days``, the newest first. Before each slice
the credential's count (``connectors.quota``) is checked against its budget; a slice that would not
fit, or that the platform itself refuses for its quota, ends the reading: the slices already read
are normalized and loaded as usual (the run's window is narrowed to them, so the load's window is
exactly what was read), and the connection remembers how far the backfill got
(``backfill_loaded_from``). The next sync, after the quota resets, reads only the days not yet
loaded, the next older slices first, until the backfill's first day is in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from connectors.base import BaseConnector, Window
from connectors.models import Connection
from connectors.quota import QuotaExhausted, quota_check
from etl.models import SyncRun


class BackfillTooLong(ValueError):
    """A backfill reaching past the retention window would be pruned as soon as it is loaded."""


def backfill_request(*, connection: Connection, days: int, today: date) -> Window:
    """Ask for the last ``days`` days (today included) to be read again, slice by slice."""
    if days < 1:
        raise BackfillTooLong("A backfill covers at least one day.")
    if days > settings.RETENTION_DAYS:
        raise BackfillTooLong(
            f"A {days}-day backfill reaches past the retention window of {settings.RETENTION_DAYS} days: "
            "the prune after each sync would delete what it loads. Raise RETENTION_DAYS first."
        )
    window = Window(today - timedelta(days=days - 1), today)
    Connection.objects.filter(pk=connection.pk).update(
        backfill_start=window.start, backfill_end=window.end, backfill_loaded_from=None
    )
    connection.backfill_start, connection.backfill_end, connection.backfill_loaded_from = (
        window.start,
        window.end,
        None,
    )
    return window


def backfill_remaining(connection: Connection, *, oldest: date) -> Window | None:
    """The days of the connection's backfill not loaded yet (never older than ``oldest``, the first
    day retention keeps); None when no backfill is waiting."""
    if connection.backfill_start is None or connection.backfill_end is None:
        return None
    end = connection.backfill_end
    if connection.backfill_loaded_from is not None:
        end = connection.backfill_loaded_from - timedelta(days=1)
    start = max(connection.backfill_start, oldest)
    return Window(start, end) if start <= end else None


def backfill_slices(window: Window, days: int | None) -> list[Window]:
    """The slices of a backfill's window, the newest first; one piece when the connector reads its
    windows whole."""
    return list(reversed(window.split(days))) if days else [window]


def backfill_check_quota(
    connection: Connection, connector_cls: type[BaseConnector], part: Window, state: Any, *, first: bool
) -> None:
    """QuotaExhausted when the credential's count says reading ``part`` would exceed today's budget
    (``first``: the read's first slice, which also pays what a read learns once)."""
    credential = connector_cls.quota_credential(connection.account_id)
    if credential is not None:
        cost = connector_cls.estimate_calls(part, last_state=state or {}, first=first)
        quota_check(credential=credential, cost=cost)


@dataclass(frozen=True)
class SlicesRead:
    """What a sliced read got through: the slices read (newest first) and, when it stopped early,
    why and when the quota frees up again."""

    planned: Window
    done: list[Window]
    stopped: str = ""
    resumes_at: datetime | None = None

    @property
    def window(self) -> Window:
        """The days read, one unbroken range ending at the planned window's end."""
        return Window(min(p.start for p in self.done), self.planned.end)

    def as_state(self) -> dict[str, Any]:
        return {
            "planned_start": self.planned.start.isoformat(),
            "planned_end": self.planned.end.isoformat(),
            "slices_done": [[p.start.isoformat(), p.end.isoformat()] for p in self.done],
            "stopped": self.stopped,
            "resumes_at": self.resumes_at.isoformat() if self.resumes_at else None,
        }

    def note(self, display_name: str) -> str:
        read = self.window
        left = Window(self.planned.start, read.start - timedelta(days=1))
        resumes = f" after the quota resets at {self.resumes_at:%H:%M} UTC" if self.resumes_at else ""
        return (
            f"Backfill paused: {self.stopped}. Loaded {read.days} of {self.planned.days} days "
            f"({read.start:%d %b}–{read.end:%d %b}), newest first; the {left.days} older days "
            f"({left.start:%d %b}–{left.end:%d %b}) are read by the next sync{resumes}."
        )


def stopped_by(exc: Exception, display_name: str) -> tuple[str, datetime | None]:
    """Why a sliced read stopped, in words, and when the wait ends (if the platform said)."""
    retry_after = getattr(exc, "retry_after", None)
    until = timezone.now() + timedelta(seconds=retry_after) if retry_after else None
    if isinstance(exc, QuotaExhausted):
        return f"{display_name}'s daily API budget is spent by this installation's count", until
    return f"{display_name} refused more calls for now ({getattr(exc, 'message', exc)})", until


def backfill_record_loaded(run: SyncRun) -> None:
    """After a backfill run's load committed: remember how far the backfill got, or that it is done."""
    if not run.is_backfill:
        return
    progress = run.state.get("backfill") or {}
    planned_start = date.fromisoformat(progress["planned_start"]) if progress.get("planned_start") else None
    connection = run.connection
    start = connection.backfill_start or planned_start or run.window_start
    end = connection.backfill_end or run.window_end
    if run.window_start <= start:
        fields: dict[str, Any] = {"backfill_start": None, "backfill_end": None, "backfill_loaded_from": None}
    else:
        fields = {"backfill_start": start, "backfill_end": end, "backfill_loaded_from": run.window_start}
    Connection.objects.filter(pk=connection.pk).update(**fields)
    for key, value in fields.items():
        setattr(connection, key, value)

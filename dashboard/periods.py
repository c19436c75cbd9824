"""The period a page shows: a preset (last 7, 14 or 30 days) or custom dates within retention.

Dates are UTC days, like the rest of the dashboard. Anything a visitor types is checked here; a
request the warehouse cannot answer (dates older than the retention window, in the future, or in
the wrong order) is adjusted and the page says so, instead of silently showing something else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

DEFAULT_DAYS = 30
ALLOWED_DAYS = (7, 14, 30)


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.days)]

    def previous(self) -> DateRange:
        """The same number of days just before this range."""
        return DateRange(start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))


@dataclass(frozen=True)
class Period:
    current: DateRange
    preset: int | None  # 7, 14 or 30; None for custom dates
    today: date
    retention_start: date
    notice: str = ""  # why the requested dates were adjusted, if they were

    @property
    def previous(self) -> DateRange:
        return self.current.previous()

    @property
    def comparable(self) -> bool:
        """Whether the previous period is still fully kept in the warehouse."""
        return self.previous.start >= self.retention_start

    @property
    def is_custom(self) -> bool:
        return self.preset is None

    @property
    def params(self) -> dict[str, str]:
        if self.preset is not None:
            return {"days": str(self.preset)}
        return {"start": self.current.start.isoformat(), "end": self.current.end.isoformat()}

    @property
    def querystring(self) -> str:
        return urlencode(self.params)

    @property
    def label(self) -> str:
        if self.preset is not None:
            return f"Last {self.preset} days"
        return f"{self.current.start:%-d %b %Y} – {self.current.end:%-d %b %Y}"


def today_utc() -> date:
    return timezone.now().date()


def retention_start(today: date) -> date:
    return today - timedelta(days=max(1, int(settings.RETENTION_DAYS)) - 1)


def last_days(days: int = DEFAULT_DAYS, *, today: date | None = None) -> DateRange:
    """The ``days`` days ending today (UTC), today included."""
    end = today or today_utc()
    return DateRange(start=end - timedelta(days=max(1, days) - 1), end=end)


def days_from_param(value: str | None) -> int:
    """Parse the ``?days=`` query value; anything not offered falls back to the default."""
    try:
        days = int(value or "")
    except ValueError:
        return DEFAULT_DAYS
    return days if days in ALLOWED_DAYS else DEFAULT_DAYS


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def period_from_params(params: Mapping[str, str], *, today: date | None = None) -> Period:
    """The period asked for by ``?days=`` or ``?start=&end=``; the default is the last 30 days."""
    today = today or today_utc()
    oldest = retention_start(today)
    start, end = _parse_date(params.get("start")), _parse_date(params.get("end"))
    if params.get("start") or params.get("end"):
        if start is None or end is None:
            return _preset(DEFAULT_DAYS, today, oldest, notice="Both custom dates are needed (YYYY-MM-DD).")
        notes = []
        if start > end:
            start, end = end, start
            notes.append("the dates were swapped")
        if end > today:
            end = today
            notes.append("the end was moved to today")
        if start < oldest:
            start = oldest
            notes.append(
                f"the start was moved to {oldest:%-d %b %Y}, the oldest day kept ({settings.RETENTION_DAYS} days)"
            )
        if end < oldest:
            return _preset(
                DEFAULT_DAYS, today, oldest, notice=f"Only the last {settings.RETENTION_DAYS} days are kept."
            )
        notice = ("Adjusted: " + "; ".join(notes) + ".") if notes else ""
        return Period(DateRange(start, end), None, today, oldest, notice)
    return _preset(days_from_param(params.get("days")), today, oldest)


def _preset(days: int, today: date, oldest: date, *, notice: str = "") -> Period:
    current = last_days(days, today=today)
    if current.start < oldest:
        current = DateRange(oldest, today)
    return Period(current, days, today, oldest, notice)

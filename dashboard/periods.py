"""The period a page shows: a preset (last 7, 14 or 30 days) or custom dates within retention.

Dates are UTC days, like the rest of the dashboard. Anything a visitor types is checked here; a
request the dashboard cannot answer as asked (a number of days it does not offer, a date it cannot
read, dates older than the retention window, in the future, or in the wrong order) is adjusted and
the period's ``notice`` says what was shown instead, every time: nothing falls back silently.
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


def _offered() -> str:
    *first, last = (str(days) for days in ALLOWED_DAYS)
    return f"{', '.join(first)} or {last} days"


def _days_notice(value: str) -> str:
    """Why ``?days=<value>`` was not shown as asked ("" when it was)."""
    try:
        days = int(value)
    except ValueError:
        return f"the number of days “{value[:40]}” is not a whole number ({_offered()} are offered)"
    if days in ALLOWED_DAYS:
        return ""
    return f"the last {days} days are not offered ({_offered()} are)"


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _date_problems(params: Mapping[str, str]) -> list[str]:
    """What is wrong with the custom dates asked for, in words ([] when both can be read)."""
    problems = []
    for name in ("start", "end"):
        value = (params.get(name) or "").strip()
        if not value:
            problems.append(f"the {name} date is missing")
        elif _parse_date(value) is None:
            problems.append(f"the {name} date “{value[:40]}” is not a date (YYYY-MM-DD)")
    return problems


def _fallback_notice(problems: list[str], oldest: date, today: date) -> str:
    shown = last_days(DEFAULT_DAYS, today=today)
    days = DEFAULT_DAYS if shown.start >= oldest else (today - oldest).days + 1
    text = "; ".join(problems)
    return f"{text[:1].upper()}{text[1:]}, so the last {days} days are shown instead."


def period_from_params(params: Mapping[str, str], *, today: date | None = None) -> Period:
    """The period asked for by ``?days=`` or ``?start=&end=``; the default is the last 30 days.

    Whenever what is shown differs from what was asked, the period's ``notice`` says what was
    asked, why it could not be shown, and what is shown instead.
    """
    today = today or today_utc()
    oldest = retention_start(today)
    start, end = _parse_date(params.get("start")), _parse_date(params.get("end"))
    if (params.get("start") or "").strip() or (params.get("end") or "").strip():
        if start is None or end is None:
            return _preset(
                DEFAULT_DAYS, today, oldest, notice=_fallback_notice(_date_problems(params), oldest, today)
            )
        notes = []
        if (params.get("days") or "").strip():
            notes.append("the custom dates were used instead of the number of days")
        if start > end:
            start, end = end, start
            notes.append("the dates were swapped")
        if end > today:
            end = today
            notes.append("the end was moved to today")
        if start > end:  # both dates in the future
            start = end
            notes.append("the start was moved to today")
        if start < oldest:
            start = oldest
            notes.append(
                f"the start was moved to {oldest:%-d %b %Y}, the oldest day kept ({settings.RETENTION_DAYS} days)"
            )
        if end < oldest:
            return _preset(
                DEFAULT_DAYS,
                today,
                oldest,
                notice=_fallback_notice(
                    [
                        f"the dates asked for end before {oldest:%-d %b %Y}, the oldest day kept "
                        f"({settings.RETENTION_DAYS} days)"
                    ],
                    oldest,
                    today,
                ),
            )
        notice = ("Adjusted: " + "; ".join(notes) + ".") if notes else ""
        return Period(DateRange(start, end), None, today, oldest, notice)
    asked = (params.get("days") or "").strip()
    problem = _days_notice(asked) if asked else ""
    if problem:
        return _preset(DEFAULT_DAYS, today, oldest, notice=_fallback_notice([problem], oldest, today))
    return _preset(days_from_param(asked or None), today, oldest, asked=bool(asked))


def _preset(days: int, today: date, oldest: date, *, notice: str = "", asked: bool = False) -> Period:
    """The last ``days`` days, cut at the oldest day kept; said so when the days were asked for."""
    current = last_days(days, today=today)
    if current.start < oldest:
        current = DateRange(oldest, today)
        if asked and not notice:
            notice = (
                f"Only the last {current.days} days are kept, so the last {current.days} days are shown "
                f"instead of {days}."
            )
    return Period(current, days, today, oldest, notice)

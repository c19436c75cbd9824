"""Activity export records → one engagement record per account per day.

The Data Export API's ``activity`` entity lists each engagement of an account (a web visit, an email
open or click, an ad click, ...) with its day (``{Activity}.activityDate``) and, as the tenant's field
catalogue allows, its engagement minutes and points and its page views. Demandbase has no per-day
engagement endpoint, so the daily engagement of an account is the sum of its activities of the day:

- ``engagementMinutes`` / ``engagementPoints`` / ``pageViews``: sums of the day's activities;
- ``webMinutes`` / ``emailMinutes`` / ``adMinutes``: the minutes of the day's activities of that channel,
  the channel read from the activity type (``CHANNEL_OF_TYPE``, else by the words web/email/ad in it).

A measure whose field the tenant lacks stays ``None`` (the connector notes it on the run). Records that
cannot be aggregated (not an object, no account id, no valid day, an unreadable number) are passed on
unchanged for the normalizer to quarantine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

ACCOUNT_ID = "{Account}.id"
DOMAIN = "{Account}.domain"
DAY = "{Activity}.activityDate"
TYPE = "{Activity}.type"
MINUTES = "{Activity}.engagementMinutes"
POINTS = "{Activity}.engagementPoints"
PAGE_VIEWS = "{Activity}.pageViews"

ACTIVITY_EXPORT_FIELDS = (ACCOUNT_ID, DAY, DOMAIN, TYPE, MINUTES, POINTS, PAGE_VIEWS)
REQUIRED_ACTIVITY_FIELDS = (ACCOUNT_ID, DAY)
ACTIVITY_FIELD_LABELS = {
    ACCOUNT_ID: "Account ID",
    DAY: "Activity Date",
    DOMAIN: "Domain",
    TYPE: "Activity Type",
    MINUTES: "Engagement Minutes",
    POINTS: "Engagement Points",
    PAGE_VIEWS: "Page Views",
}
CHANNEL_OF_TYPE = {
    "Web Visit": "web",
    "Email Open": "email",
    "Email Click": "email",
    "Ad Click": "ad",
    "Ad Impression": "ad",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def channel(kind: Any) -> str | None:
    if not isinstance(kind, str):
        return None
    if kind in CHANNEL_OF_TYPE:
        return CHANNEL_OF_TYPE[kind]
    words = set(re.findall(r"[a-z]+", kind.lower()))
    for name in ("web", "email", "ad"):
        if name in words:
            return name
    return None


def _number(value: Any) -> Decimal | None:
    """A measure: None when absent. Raises ValueError when unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(value) from None
    if not number.is_finite():
        raise ValueError(value)
    return number


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE.match(value):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _account(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _total(current: Decimal | None, value: Decimal | None) -> Decimal | None:
    if value is None:
        return current
    return value if current is None else current + value


@dataclass
class _Day:
    account_id: str
    day: date
    fields: frozenset[str]
    domain: str | None = None
    sums: dict[str, Decimal | None] = field(default_factory=dict)

    def add(self, row: dict[str, Any], values: dict[str, Decimal | None]) -> None:
        if isinstance(row.get(DOMAIN), str) and row[DOMAIN]:
            self.domain = self.domain or row[DOMAIN]
        for name, value in values.items():
            self.sums[name] = _total(self.sums.get(name), value)
        if MINUTES in self.fields and TYPE in self.fields:
            for name in ("web", "email", "ad"):
                self.sums.setdefault(name, Decimal(0))
            kind = channel(row.get(TYPE))
            minutes = values.get(MINUTES)
            if kind is not None and minutes is not None:
                self.sums[kind] = _total(self.sums.get(kind), minutes)

    def record(self) -> dict[str, Any]:
        def value(name: str) -> int | str | None:
            number = self.sums.get(name)
            if number is None:
                return None
            return int(number) if number == number.to_integral_value() else str(number)

        return {
            "companyId": self.account_id,
            "domain": self.domain,
            "endDate": self.day.isoformat(),
            "engagementMinutes": value(MINUTES) if MINUTES in self.fields else None,
            "engagementPoints": value(POINTS) if POINTS in self.fields else None,
            "pageViews": value(PAGE_VIEWS) if PAGE_VIEWS in self.fields else None,
            "webMinutes": value("web"),
            "emailMinutes": value("email"),
            "adMinutes": value("ad"),
        }


def daily_engagement(
    rows: Iterable[Any], start: date, end: date, fields: Iterable[str]
) -> tuple[list[Any], dict[tuple[str, date], dict[str, Any]]]:
    """Unreadable rows, and one engagement record per (account id, day) inside [start, end]."""
    asked = frozenset(fields)
    days: dict[tuple[str, date], _Day] = {}
    unreadable: list[Any] = []
    for row in rows:
        if not isinstance(row, dict):
            unreadable.append(row)
            continue
        account, day = _account(row.get(ACCOUNT_ID)), _day(row.get(DAY))
        try:
            values = {name: _number(row.get(name)) for name in (MINUTES, POINTS, PAGE_VIEWS) if name in asked}
        except ValueError:
            unreadable.append(row)
            continue
        if account is None or day is None:
            unreadable.append(row)
            continue
        if not start <= day <= end:
            continue
        days.setdefault((account, day), _Day(account, day, asked)).add(row, values)
    return unreadable, {key: days[key].record() for key in sorted(days, key=lambda k: (k[1], k[0]))}

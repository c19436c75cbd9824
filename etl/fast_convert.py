"""Whole-column fast paths for the normalizer's converters.

Platforms send the same well-formed types page after page, so each converter first checks a
whole column at once (the set of Python types present, one regular-expression pass over the
joined values, one vectorized calendar check) and converts it in bulk. When any value falls
outside the common shape the fast path answers ``None`` and the normalizer reads that column
value by value, which is where unreadable values get their quarantine reasons. A fast path never
accepts a value the per-value reader would reject, and returns the same canonical value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

NONE_TYPE = type(None)
MICROS = 1_000_000

# One line per value; ASCII digits only (\d would also take other scripts' digits).
_DECIMAL_LINES = re.compile(r"(?:-?[0-9]+(?:\.[0-9]+)?\n)*-?[0-9]+(?:\.[0-9]+)?")
_DATE_LINES = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}\n)*[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_DATETIME_LINES = re.compile(rf"(?:{_DATETIME}\n)*{_DATETIME}")


def _types(values: list[Any]) -> set[type]:
    return set(map(type, values))


def _present(values: list[Any], types: set[type]) -> list[Any]:
    return [v for v in values if v is not None] if NONE_TYPE in types else values


def _lines_match(pattern: re.Pattern[str], values: list[str]) -> bool:
    """Every value matches ``pattern``'s line, checked in one pass (no value may hold a newline)."""
    if not values:
        return True
    joined = "\n".join(values)
    return joined.count("\n") == len(values) - 1 and pattern.fullmatch(joined) is not None


def _calendar_valid(days: list[str]) -> bool:
    """Every ``YYYY-MM-DD`` is a real day. A page holds few distinct days: each is checked once."""
    try:
        for day in set(days):
            date.fromisoformat(day)
    except ValueError:
        return False
    return True


def fast_str(values: list[Any]) -> list[Any] | None:
    types = _types(values)
    if types <= {str, NONE_TYPE}:
        return values
    if types <= {str, int, float, NONE_TYPE}:  # identifiers sent as numbers read as their text
        return [v if v is None or v.__class__ is str else str(v) for v in values]
    return None


def fast_bool(values: list[Any]) -> list[Any] | None:
    return values if _types(values) <= {bool, NONE_TYPE} else None


def fast_int(values: list[Any]) -> pd.api.extensions.ExtensionArray | None:
    types = _types(values)
    if not types <= {int, NONE_TYPE}:
        return None
    try:
        if NONE_TYPE in types:
            return pd.array(values, dtype="Int64")
        return pd.array(np.array(values, dtype=np.int64), dtype="Int64")
    except (OverflowError, ValueError, TypeError):
        return None


def fast_decimal(values: list[Any]) -> list[Any] | None:
    types = _types(values)
    if types <= {str, NONE_TYPE}:
        return values if _lines_match(_DECIMAL_LINES, _present(values, types)) else None
    if not types <= {str, int, float, NONE_TYPE}:
        return None
    if str in types and not _lines_match(_DECIMAL_LINES, [v for v in values if v.__class__ is str]):
        return None
    floats = [v for v in values if v.__class__ is float]
    if floats and not np.isfinite(np.array(floats, dtype=np.float64)).all():
        return None
    return [
        v if v is None or v.__class__ is str else (repr(v) if v.__class__ is float else str(v))
        for v in values
    ]


def fast_micros(values: list[Any]) -> list[Any] | None:
    if not _types(values) <= {int, NONE_TYPE}:
        return None
    return [
        None
        if v is None
        else (f"{v // MICROS}.{v % MICROS:06d}" if v >= 0 else f"-{-v // MICROS}.{-v % MICROS:06d}")
        for v in values
    ]


def fast_date(values: list[Any]) -> list[Any] | None:
    types = _types(values)
    if not types <= {str, NONE_TYPE}:
        return None
    present = _present(values, types)
    if not _lines_match(_DATE_LINES, present) or (present and not _calendar_valid(present)):
        return None
    return values


def fast_ymd(values: list[Any]) -> list[Any] | None:
    types = _types(values)
    if not types <= {dict, NONE_TYPE}:
        return None
    present = _present(values, types)
    if not present:
        return values
    parts = [list(map(dict.get, present, repeat(name))) for name in ("year", "month", "day")]
    if not {t for part in parts for t in _types(part)} <= {int}:
        return None
    try:
        year, month, day = (np.array(part, dtype=np.int64) for part in parts)
    except OverflowError:
        return None
    if not ((year >= 1000) & (year <= 9999) & (month >= 1) & (month <= 12) & (day >= 1)).all():
        return None
    month_start = (year - 1970).astype("M8[Y]").astype("M8[M]") + (month - 1).astype("m8[M]")
    days_in_month = (month_start + np.timedelta64(1, "M")).astype("M8[D]") - month_start.astype("M8[D]")
    if (day > days_in_month.astype(np.int64)).any():
        return None
    days = np.datetime_as_string(month_start.astype("M8[D]") + (day - 1).astype("m8[D]"), unit="D").tolist()
    if len(present) == len(values):
        return days
    found = iter(days)
    return [None if v is None else next(found) for v in values]


def fast_datetime(values: list[Any]) -> list[Any] | None:
    """ISO 8601 stamps with an offset, to UTC ``YYYY-MM-DDTHH:MM:SS+00:00`` (whole seconds only;
    a column with fractions of a second goes the per-value way, which keeps them)."""
    types = _types(values)
    present = _present(values, types)
    if not types <= {str, NONE_TYPE} or not _lines_match(_DATETIME_LINES, present):
        return None
    if not present:
        return values
    try:
        stamps = pd.to_datetime(pd.Series(present, dtype=object), utc=True, format="ISO8601")
    except (ValueError, OverflowError):
        return None
    utc = stamps.dt.tz_localize(None).to_numpy().astype("M8[us]")
    if (utc.astype(np.int64) % 1_000_000).any():
        return None
    text = [f"{day}+00:00" for day in np.datetime_as_string(utc, unit="s").tolist()]
    if len(present) == len(values):
        return text
    found = iter(text)
    return [None if v is None else next(found) for v in values]


_URN_TAILS = re.compile(r"^[^\n]*:([^:\n]+)$", re.MULTILINE)


def fast_urn_id(values: list[Any]) -> list[Any] | None:
    types = _types(values)
    present = _present(values, types)
    if not types <= {str, NONE_TYPE} or not present:
        return values if types <= {NONE_TYPE} else None
    joined = "\n".join(present)
    tails = _URN_TAILS.findall(joined)
    if len(tails) != len(present) or joined.count("\n") != len(present) - 1:
        return None
    if len(present) == len(values):
        return tails
    found = iter(tails)
    return [None if v is None else next(found) for v in values]


FAST_CONVERTERS: dict[str, Callable[[list[Any]], Any]] = {
    "str": fast_str,
    "int": fast_int,
    "decimal": fast_decimal,
    "number": fast_decimal,
    "micros": fast_micros,
    "ymd": fast_ymd,
    "date": fast_date,
    "datetime": fast_datetime,
    "urn_id": fast_urn_id,
    "bool": fast_bool,
}

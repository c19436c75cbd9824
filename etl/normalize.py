"""Generic normalization: raw platform records → the canonical columns of a dataset.

Per-platform knowledge is the connector's mapping (data only); this module applies it the same
way for every platform. Each column is read out of the records once, converted as a whole with
pandas, and checked. A record with a required column missing or unreadable is quarantined with
the reason instead of being dropped or loaded wrong. Money stays exact: decimal strings are
validated, never passed through floats, and micros are divided with integer arithmetic.
"""

from __future__ import annotations

import functools
import gc
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from connectors import jsonio
from connectors.base import Field
from etl.fast_convert import FAST_CONVERTERS
from etl.schema import Dataset
from etl.shaped_json import shaped_columns

DECIMAL_RE = re.compile(r"^[-+]?\d+(\.\d+)?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass
class Normalized:
    frame: pd.DataFrame
    quarantined: list[tuple[Any, str]] = field(default_factory=list)
    duplicates: int = 0


Converted = tuple[pd.Series, pd.Series]  # (values, mask of values present but unreadable)


def _map(values: pd.Series, func: Callable[[Any], Any]) -> Converted:
    """Apply a per-value reader that returns the canonical value, or raises ValueError."""
    out: list[Any] = []
    bad: list[bool] = []
    for value in values:
        if value is None:
            out.append(None)
            bad.append(False)
            continue
        try:
            out.append(func(value))
            bad.append(False)
        except (ValueError, TypeError, KeyError, ArithmeticError):
            out.append(None)
            bad.append(True)
    return pd.Series(out, dtype=object, index=values.index), pd.Series(bad, index=values.index)


def _as_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError
    return str(value)


def _as_decimal(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError
        return repr(value)
    if isinstance(value, str) and DECIMAL_RE.match(value.strip()):
        return value.strip().lstrip("+")
    raise ValueError


def _as_micros(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError
    micros = (
        int(value)
        if isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())
        else None
    )
    if micros is None:
        raise ValueError
    sign, micros = ("-" if micros < 0 else ""), abs(micros)
    units, fraction = divmod(micros, 1_000_000)
    return f"{sign}{units}.{fraction:06d}"


def _as_ymd(value: Any) -> str:
    # date().isoformat() always writes four year digits (strftime("%Y") does not before year 1000).
    return date(int(value["year"]), int(value["month"]), int(value["day"])).isoformat()


def _as_date(value: Any) -> str:
    if not isinstance(value, str) or not DATE_RE.match(value):
        raise ValueError
    return date.fromisoformat(value).isoformat()


def _as_datetime(value: Any) -> str:
    """ISO 8601 only (no guessing of other layouts); a time without an offset is taken as UTC."""
    if not isinstance(value, str) or not ISO_DATETIME_RE.match(value):
        raise ValueError
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.isoformat()


def _as_urn_id(value: Any) -> str:
    if not isinstance(value, str) or ":" not in value or not value.rsplit(":", 1)[-1]:
        raise ValueError
    return value.rsplit(":", 1)[-1]


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise ValueError


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _as_int(value: Any) -> int:
    """Whole numbers only (``12``, ``12.0``, ``"12"``), within the warehouse's 64-bit integers."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():  # also rejects inf
            raise ValueError
        number = int(value)
    elif isinstance(value, str):
        exact = Decimal(value.strip())
        if not exact.is_finite() or exact != exact.to_integral_value():
            raise ValueError
        number = int(exact)
    else:
        raise ValueError
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError
    return number


def _convert_int(values: pd.Series) -> Converted:
    # A float NaN reads as absent, as pandas has always read it.
    values = pd.Series(
        [None if isinstance(v, float) and math.isnan(v) else v for v in values],
        dtype=object,
        index=values.index,
    )
    numbers, bad = _map(values, _as_int)
    return numbers.astype("Int64"), bad


CONVERTERS: dict[str, Callable[[pd.Series], Converted]] = {
    "str": lambda s: _map(s, _as_str),
    "int": _convert_int,
    "decimal": lambda s: _map(s, _as_decimal),
    "number": lambda s: _map(s, _as_decimal),
    "micros": lambda s: _map(s, _as_micros),
    "ymd": lambda s: _map(s, _as_ymd),
    "date": lambda s: _map(s, _as_date),
    "datetime": lambda s: _map(s, _as_datetime),
    "urn_id": lambda s: _map(s, _as_urn_id),
    "bool": lambda s: _map(s, _as_bool),
}


def records_from_pages(pages: Iterable[bytes | str]) -> list[Any]:
    """The records of raw pages (JSON arrays, as staged) in order."""
    records: list[Any] = []
    for page in pages:
        parsed = parse_page(page)
        if isinstance(parsed, list):
            records.extend(parsed)
        else:
            records.append(parsed)  # left for normalize to quarantine with its reason
    return records


def normalize_pages(
    pages: Iterable[bytes | str], mapping: Mapping[str, Field], dataset: Dataset
) -> Normalized:
    """Parse staged pages and normalize their records, with the cycle collector paused.

    Pages whose records all fit the mapping's shape are parsed straight into the mapped values
    (``etl.shaped_json``); the others, and pages with any record to quarantine, are parsed into
    dicts and normalized record by record, with the same result for every good record.

    Parsing into dicts creates hundreds of thousands of containers that live until the batch is done; each
    automatic collection would walk all of them again (it doubled the time of a batch). Records
    parsed from JSON hold no reference cycles, so nothing is left for the collector meanwhile.
    """
    pages = list(pages)
    with collector_paused():
        shaped = shaped_columns(pages, [spec.path for spec in mapping.values()])
        if shaped is not None:
            count, raw_columns = shaped
            frame, reasons = _canonical_columns(raw_columns, count, mapping, dataset, {})
            if not reasons:
                return _without_duplicates(frame, dataset, quarantined=[])
        # A page of another shape, or a record to quarantine: the dict path says why, record by record.
        return normalize(records_from_pages(pages), mapping, dataset)


@contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_page(page: bytes | str) -> Any:
    """A staged page's JSON."""
    return jsonio.loads(page)


def _path_columns(records: Sequence[Any], paths: Iterable[str]) -> dict[str, list[Any]]:
    """The value at each dotted path of every record (``None`` where absent), as columns.

    Each record is visited once by a reader compiled for the set of paths (see ``_row_reader``),
    which keeps the walk over a page's objects cache-friendly, and the rows are turned into
    columns by ``zip``. A numeric part indexes a list; anything that is not an object or a list on
    the way gives ``None``.
    """
    ordered = tuple(sorted(set(paths)))
    if not records:
        return {path: [] for path in ordered}
    columns = zip(*map(_row_reader(ordered), records), strict=True)
    return {path: list(column) for path, column in zip(ordered, columns, strict=True)}


@functools.lru_cache(maxsize=64)
def _row_reader(paths: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """Compile ``record -> (value at path, ...)``; paths sharing a prefix read it once."""
    names: dict[tuple[str, ...], str] = {(): "r"}
    lines = ["def read(r):"]
    for path in paths:
        parts = tuple(path.split("."))
        for depth in range(1, len(parts) + 1):
            prefix = parts[:depth]
            if prefix in names:
                continue
            parent, part, name = names[prefix[:-1]], prefix[-1], f"v{len(names)}"
            step = f"{parent}.get({part!r}) if {parent}.__class__ is dict else "
            if part.isdigit():
                index = int(part)
                step += (
                    f"({parent}[{index}] if {parent}.__class__ is list and len({parent}) > {index} else None)"
                )
            else:
                step += "None"
            lines.append(f"    {name} = {step}")
            names[prefix] = name
    lines.append(f"    return ({', '.join(names[tuple(path.split('.'))] for path in paths)},)")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<record reader>", "exec"), namespace)  # names and keys are repr()'d
    reader: Callable[[Any], tuple[Any, ...]] = namespace["read"]
    return reader


def _convert(values: list[Any], convert: str, index: pd.RangeIndex) -> Converted:
    fast = FAST_CONVERTERS[convert](values)
    if fast is not None:
        return pd.Series(fast, dtype=None if convert == "int" else object, index=index), _nothing_bad(index)
    return CONVERTERS[convert](pd.Series(values, dtype=object, index=index))


def _nothing_bad(index: pd.RangeIndex) -> pd.Series:
    return pd.Series(np.zeros(len(index), dtype=bool), index=index)


def normalize(records: Sequence[Any], mapping: Mapping[str, Field], dataset: Dataset) -> Normalized:
    reasons: dict[int, list[str]] = {}
    for i, record in enumerate(records):
        if record.__class__ is not dict:
            reasons[i] = [f"record is a {type(record).__name__}, not an object"]
    raw_columns = _path_columns(records, {spec.path for spec in mapping.values()})
    frame, reasons = _canonical_columns(raw_columns, len(records), mapping, dataset, reasons)
    bad = np.zeros(len(records), dtype=bool)
    bad[list(reasons)] = True
    quarantined = [(records[i], "; ".join(reasons[i])) for i in sorted(reasons)]
    return _without_duplicates(frame[~bad] if reasons else frame, dataset, quarantined=quarantined)


def _canonical_columns(
    raw_columns: Mapping[str, list[Any]],
    count: int,
    mapping: Mapping[str, Field],
    dataset: Dataset,
    reasons: dict[int, list[str]],
) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """The dataset's columns converted from the values at the mapping's paths, and the reasons
    (added to ``reasons``) why records cannot be loaded."""
    index = pd.RangeIndex(count)
    columns: dict[str, pd.Series] = {}
    for column in dataset.columns:
        spec = mapping.get(column.name)
        if spec is None:
            columns[column.name] = pd.Series([None] * count, dtype=object, index=index)
            continue
        raw = raw_columns[spec.path]
        values, unreadable = _convert(raw, spec.convert, index)
        for i in np.flatnonzero(unreadable.to_numpy()).tolist():
            reasons.setdefault(i, []).append(f"{column.name}: {raw[i]!r} is not a valid {spec.convert}")
        if column.required or spec.required:
            missing = (values.isna() & ~unreadable).to_numpy()
            for i in np.flatnonzero(missing).tolist():
                reasons.setdefault(i, []).append(f"{column.name}: missing ({spec.path})")
        columns[column.name] = values
    return pd.DataFrame(columns, index=index), reasons


def _without_duplicates(good: pd.DataFrame, dataset: Dataset, *, quarantined: list[tuple[Any, str]]) -> Normalized:
    deduped = good.drop_duplicates(subset=list(dataset.key), keep="last")
    return Normalized(
        frame=deduped.reset_index(drop=True),
        quarantined=quarantined,
        duplicates=len(good) - len(deduped),
    )

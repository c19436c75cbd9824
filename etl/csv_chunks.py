"""Canonical frames → CSV text for COPY: the hand-over from normalize to load.

PostgreSQL's ``COPY … (FORMAT csv)`` reads it, and the embedded SQLite path reads it with the
``csv`` module: an empty field is NULL (an empty string is written as NULL too), a field with a
comma, quote or line break is quoted with inner quotes doubled, integers as digits, booleans as
``True``/``False``, no header, ``\\n`` between records.

The canonical columns are text, nullable integers and booleans, so each column is turned into
its fields as a whole (one type check, one scan for characters that need quotes) and the records
are joined from them: about half the time of ``DataFrame.to_csv``, with the same text but for one
thing: a field holding a carriage return is quoted (the csv module, and so ``to_csv``, leaves it
bare when records end with ``\n``, and COPY refuses an unquoted carriage return).

(Arrow's C++ CSV writer was measured as well: 1.5 µs a row instead of pandas' 4, but importing it
and its memory pool add about 70 MB to every worker process, which took a 1M-row sync past its
400 MB budget.)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import numpy as np
import pandas as pd

NONE_TYPE = type(None)
# The characters that make the csv module quote a field (delimiter, quote, line breaks).
_QUOTE_TRIGGERS = (",", '"', "\n", "\r")
_BOOL_TEXT = {True: "True", False: "False", None: ""}


def csv_chunks(frame: pd.DataFrame, size: int) -> Iterator[tuple[str, int]]:
    """``(CSV text, row count)`` for every ``size`` rows of ``frame``."""
    for start in range(0, len(frame), size):
        part = frame.iloc[start : start + size]
        yield frame_to_csv(part), len(part)


def frame_to_csv(frame: pd.DataFrame) -> str:
    """The frame's rows as CSV records (no header), each ended by ``\\n``."""
    if not len(frame) or len(frame.columns) < 2:  # the csv module quotes a lone empty field
        return _pandas_csv(frame)
    fields = []
    for name in frame.columns:
        column = _column_fields(frame[name])
        if column is None:  # dates and times as dtypes: pandas has its own layout for them
            return _pandas_csv(frame)
        fields.append(column)
    return "\n".join(map(",".join, zip(*fields, strict=True))) + "\n"


def _column_fields(values: pd.Series) -> list[str] | None:
    """Every value of a column as its CSV field; ``None`` for a kind left to ``to_csv``."""
    if isinstance(values.dtype, pd.Int64Dtype):
        array = values.array
        fields = list(map(str, np.asarray(array._data).tolist()))
        if array._mask.any():
            for i in np.flatnonzero(array._mask).tolist():
                fields[i] = ""
        return fields
    if values.dtype.kind in "iu":
        return list(map(str, values.tolist()))
    if values.dtype != object and values.dtype.kind not in "fb":
        return None
    items = values.tolist() if values.dtype == object else values.astype(object).tolist()
    types = set(map(type, items))
    if types <= {bool, NONE_TYPE}:
        return [_BOOL_TEXT[item] for item in items]
    if types == {str}:
        fields = items
    elif types == {str, NONE_TYPE}:
        fields = ["" if item is None else item for item in items]
    else:
        fields = list(map(_field, items))
    # Four substring scans of the joined column (memchr speed); str.translate, which reads it
    # character by character through a table, cost more than the rest of the CSV together.
    if _needs_quotes("".join(fields)):
        # Quoted once per distinct value (a campaign's name repeats on each of its days), then
        # looked up: ``quoted.get(field, field)`` for every field, at C speed.
        quoted = {
            field: '"' + field.replace('"', '""') + '"'
            for field in set(fields)
            if _needs_quotes(field)
        }
        fields = list(map(quoted.get, fields, fields))
    return fields


def _needs_quotes(text: str) -> bool:
    return any(trigger in text for trigger in _QUOTE_TRIGGERS)


def _field(item: object) -> str:
    """Any other value as ``to_csv`` writes it: missing as empty, the rest as ``str()``."""
    if item is None or item is pd.NA or item is pd.NaT or (item.__class__ is float and item != item):
        return ""
    return item if isinstance(item, str) else str(item)


def _pandas_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return buffer.getvalue()

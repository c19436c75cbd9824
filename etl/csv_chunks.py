"""Canonical frames → CSV text for COPY, written by Arrow's C++ writer where the frame allows.

The CSV is the hand-over from normalize to load: PostgreSQL's ``COPY … (FORMAT csv)`` reads it, and
the embedded SQLite path reads it with the ``csv`` module. Either writer gives: an empty field is
NULL (an empty string is written as NULL too), a field with a comma, quote or line break is quoted
with inner quotes doubled, integers as digits, no header, ``\\n`` between records. When a chunk has
such a field, Arrow quotes every text field of it; Arrow writes booleans as ``true``/``false``
(pandas: ``True``/``False``). Arrow writes it several times faster than ``DataFrame.to_csv``; a
column Arrow cannot take (mixed Python types) sends the whole frame through pandas instead.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

# Unquoted where no value needs quotes (PostgreSQL reads unquoted fields faster); otherwise Arrow
# quotes every text field of the chunk.
_UNQUOTED = pa_csv.WriteOptions(include_header=False, quoting_style="none")
_QUOTED = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


def csv_chunks(frame: pd.DataFrame, size: int) -> Iterator[tuple[str, int]]:
    """``(CSV text, row count)`` for every ``size`` rows of ``frame``."""
    table = _arrow_table(frame)
    for start in range(0, len(frame), size):
        if table is None:
            yield _pandas_csv(frame.iloc[start : start + size]), min(size, len(frame) - start)
            continue
        part = table.slice(start, size)
        yield _arrow_csv(part), part.num_rows


def _arrow_csv(table: pa.Table) -> str:
    buffer = io.BytesIO()
    try:
        pa_csv.write_csv(table, buffer, _UNQUOTED)
    except pa.ArrowInvalid:  # a value holds a comma, a quote or a line break
        buffer = io.BytesIO()
        pa_csv.write_csv(table, buffer, _QUOTED)
    return buffer.getvalue().decode()


def _arrow_table(frame: pd.DataFrame) -> pa.Table | None:
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    for i, column_type in enumerate(table.schema.types):
        if pa.types.is_string(column_type) or pa.types.is_large_string(column_type):
            column = table.column(i)
            empty_as_null = pc.if_else(pc.equal(column, ""), pa.scalar(None, column_type), column)
            table = table.set_column(i, table.field(i), empty_as_null)
        elif not (
            pa.types.is_integer(column_type)
            or pa.types.is_boolean(column_type)
            or pa.types.is_null(column_type)
        ):
            return None  # floats and the like: pandas writes them as the loaders always read them
    return table


def _pandas_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return buffer.getvalue()

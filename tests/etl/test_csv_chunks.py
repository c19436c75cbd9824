"""The column-wise CSV writer gives exactly the text pandas' ``to_csv`` gives, which COPY reads."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.csv_chunks import _pandas_csv, csv_chunks, frame_to_csv


def text_values(alphabet: str) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.text(alphabet=st.sampled_from(list(alphabet)), max_size=8),
        st.sampled_from(["", "ACTIVE", "Campaign 1, spring", 'say "hi"', "2026-11-03"]),
    )


texts = text_values('ab ,"\n\'é\t;0')
texts_with_carriage_returns = text_values('ab ,"\n\r\'é\t;0')
ints = st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1))
bools = st.one_of(st.none(), st.booleans())


@st.composite
def frames(draw: st.DrawFn, texts: st.SearchStrategy[str | None] = texts) -> pd.DataFrame:
    rows = draw(st.integers(min_value=1, max_value=12))
    return pd.DataFrame(
        {
            "text": pd.Series(draw(st.lists(texts, min_size=rows, max_size=rows)), dtype=object),
            "count": pd.Series(draw(st.lists(ints, min_size=rows, max_size=rows)), dtype="Int64"),
            "flag": pd.Series(draw(st.lists(bools, min_size=rows, max_size=rows)), dtype=object),
            "plain": pd.Series(np.arange(rows, dtype=np.int64)),
            "more_text": pd.Series(draw(st.lists(texts, min_size=rows, max_size=rows)), dtype=object),
        }
    )


@settings(max_examples=300, deadline=None)
@given(frames())
def test_the_same_text_as_pandas(frame: pd.DataFrame) -> None:
    assert frame_to_csv(frame) == _pandas_csv(frame)


@settings(max_examples=200, deadline=None)
@given(frames(texts_with_carriage_returns))
def test_the_csv_module_reads_back_every_value(frame: pd.DataFrame) -> None:
    rows = list(csv.reader(io.StringIO(frame_to_csv(frame))))
    assert [row[0] for row in rows] == ["" if v is None else v for v in frame["text"]]
    assert [row[1] for row in rows] == ["" if v is pd.NA else str(v) for v in frame["count"]]


def test_a_carriage_return_is_quoted_as_copy_needs() -> None:
    frame = pd.DataFrame({"a": pd.Series(["x\ry", "z"], dtype=object), "b": pd.Series([1, 2], dtype="Int64")})
    assert frame_to_csv(frame) == '"x\ry",1\nz,2\n'


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([1.5, None], dtype=float),
        pd.Series([0.1 + 0.2, 1e20], dtype=float),
        pd.Series([Decimal("1.10"), None], dtype=object),
        pd.Series([1, "x, y"], dtype=object),
        pd.Series([7, None], dtype=object),
        pd.Series([True, False], dtype=bool),
        pd.Series(["2026-11-03", None], dtype="datetime64[ns]"),
    ],
    ids=["float", "float-repr", "decimal", "mixed", "int-object", "numpy-bool", "datetime"],
)
def test_other_kinds_of_columns_as_pandas_writes_them(column: pd.Series) -> None:
    frame = pd.DataFrame({"a": pd.Series(["x", "y"], dtype=object), "b": column})
    assert frame_to_csv(frame) == _pandas_csv(frame)


def test_chunks_split_the_rows() -> None:
    frame = pd.DataFrame({"a": pd.Series(list("abcde"), dtype=object), "b": pd.Series(range(5), dtype="Int64")})
    assert list(csv_chunks(frame, 2)) == [("a,0\nb,1\n", 2), ("c,2\nd,3\n", 2), ("e,4\n", 1)]

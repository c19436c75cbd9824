"""Property-based tests of the normalizer with every connector's mapping.

Records are built from the mapping's own paths, so they look like what the platform sends, with
each value either plausible for its converter or any JSON at all, keys left out, parents of a path
replaced by other JSON, exact duplicates, and records that are not objects. Whatever comes in,
``normalize`` returns rows whose values have the dataset's kinds (required ones present) and
quarantined records with a reason, never raises, and accounts for every record.
"""

from __future__ import annotations

import string
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Field, StreamSpec
from connectors.registry import connector_classes
from etl.normalize import normalize
from etl.schema import Dataset, get_dataset

pytestmark = pytest.mark.embedded

STREAMS = [
    pytest.param(stream, id=f"{platform}.{stream.name}")
    for platform, cls in sorted(connector_classes().items())
    for stream in cls.streams
]

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
DIGITS = st.text(alphabet=string.digits, min_size=1, max_size=14)
DATES = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))

PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "str": st.text(max_size=20) | st.integers(),
    "int": st.integers(min_value=-(10**6), max_value=10**15) | DIGITS | st.floats(width=32),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str) | st.floats() | DIGITS,
    "micros": st.integers(min_value=-(10**15), max_value=10**15) | DIGITS | st.floats(),
    "date": DATES.map(date.isoformat) | st.text(alphabet="0123456789-", max_size=10),
    "ymd": DATES.map(lambda d: {"year": d.year, "month": d.month, "day": d.day})
    | st.fixed_dictionaries({"year": JSON_SCALARS, "month": st.integers(0, 13), "day": st.integers(0, 32)}),
    "datetime": st.datetimes(timezones=st.none() | st.just(UTC)).map(datetime.isoformat)
    | st.text(alphabet="0123456789-:TZ+. ", max_size=25),
    "urn_id": st.text(max_size=12).map(lambda s: f"urn:li:sponsoredCampaign:{s}") | st.text(max_size=12),
    "bool": st.booleans() | st.sampled_from(["true", "false", "TRUE", "yes", "0"]),
}
PLAUSIBLE["number"] = PLAUSIBLE["decimal"]


def _set_path(record: dict[str, Any], parts: list[str], value: Any) -> None:
    node: Any = record
    for part, following in zip(parts, [*parts[1:], None], strict=True):
        container: Any = [] if following is not None and following.isdigit() else {}
        if isinstance(node, list):
            index = int(part)
            node.extend([None] * (index + 1 - len(node)))
            if following is None:
                node[index] = value
                return
            if not isinstance(node[index], list | dict):
                node[index] = container
            node = node[index]
        else:
            if following is None:
                node[part] = value
                return
            if not isinstance(node.get(part), list | dict):
                node[part] = container
            node = node[part]


@st.composite
def platform_record(draw: st.DrawFn, mapping: dict[str, Field]) -> Any:
    record: dict[str, Any] = {}
    for spec in mapping.values():
        if draw(st.integers(0, 9)) == 0:
            continue  # the key is missing
        value = draw(PLAUSIBLE[spec.convert] | JSON if draw(st.booleans()) else PLAUSIBLE[spec.convert])
        _set_path(record, spec.path.split("."), value)
    for key in sorted(record):
        if draw(st.integers(0, 14)) == 0:
            record[key] = draw(JSON)  # a parent object of the wrong type
    return record


@st.composite
def platform_records(draw: st.DrawFn, mapping: dict[str, Field]) -> list[Any]:
    records = draw(st.lists(platform_record(mapping) | JSON, max_size=8))
    dicts = [r for r in records if isinstance(r, dict)]
    if dicts:
        for _ in range(draw(st.integers(0, 2))):
            records.insert(draw(st.integers(0, len(records))), dict(draw(st.sampled_from(dicts))))
    return records


def _has_kind(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if kind == "decimal":
        return isinstance(value, str) and Decimal(value).is_finite()
    if kind == "date":
        return isinstance(value, str) and date.fromisoformat(value).isoformat() == value
    if kind == "datetime":
        return isinstance(value, str) and datetime.fromisoformat(value).utcoffset() is not None
    if kind == "bool":
        return isinstance(value, bool | np.bool_)
    raise AssertionError(f"unknown kind {kind}")


def check_outcome(records: list[Any], mapping: dict[str, Field], dataset: Dataset) -> None:
    result = normalize(records, mapping, dataset)
    assert len(result.frame) + len(result.quarantined) + result.duplicates == len(records)
    for original, reason in result.quarantined:
        assert isinstance(reason, str) and reason.strip()
        assert any(original is r for r in records)
    assert list(result.frame.columns) == dataset.column_names
    for column in dataset.columns:
        spec = mapping.get(column.name)
        for value in result.frame[column.name]:
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                assert not column.required and not (spec and spec.required), f"{column.name} is missing"
                continue
            assert _has_kind(value, column.kind), f"{column.name}: {value!r} is not a {column.kind}"
    assert not result.frame.duplicated(subset=list(dataset.key)).any()


def test_every_platform_is_covered() -> None:
    assert {"linkedin_ads", "google_ads", "mailchimp", "zoho_crm", "demandbase"} <= set(connector_classes())


@pytest.mark.parametrize("stream", STREAMS)
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_any_json_yields_valid_rows_or_reasons(stream: StreamSpec, data: st.DataObject) -> None:
    mapping = dict(stream.mapping)
    records = data.draw(platform_records(mapping), label="records")
    check_outcome(records, mapping, get_dataset(stream.dataset))

"""Staged pages parsed into the mapped values only (etl/shaped_json.py) normalize exactly as their
records parsed into dicts do, for every connector's mapping and for any JSON at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from connectors import jsonio
from connectors.base import StreamSpec
from connectors.registry import connector_classes
from etl import normalize as normalize_module
from etl.normalize import Normalized, normalize, normalize_pages
from etl.schema import get_dataset
from etl.shaped_json import shaped_columns
from tests.etl.test_normalize_properties import STREAMS, platform_records

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
pytestmark = pytest.mark.embedded


def same_outcome(from_pages: Normalized, from_records: Normalized) -> None:
    assert_frame_equal(from_pages.frame, from_records.frame)
    assert [reason for _, reason in from_pages.quarantined] == [r for _, r in from_records.quarantined]
    assert [record for record, _ in from_pages.quarantined] == [r for r, _ in from_records.quarantined]
    assert from_pages.duplicates == from_records.duplicates


def good_fixture_records(platform: str, stream: StreamSpec) -> list[Any]:
    path = FIXTURES / platform / stream.name / "page_1.json"
    if not path.exists():
        pytest.fail(f"no fixture page for {platform}/{stream.name}")
    records = json.loads(path.read_text())
    bad = {id(record) for record, _ in normalize(records, stream.mapping, get_dataset(stream.dataset)).quarantined}
    return [record for record in records if id(record) not in bad]


@pytest.mark.parametrize(
    ("platform", "stream"),
    [(platform, stream) for platform, cls in sorted(connector_classes().items()) for stream in cls.streams],
    ids=lambda value: getattr(value, "name", value),
)
def test_recorded_pages_take_the_shaped_parse_and_match_the_dict_path(
    platform: str, stream: StreamSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = good_fixture_records(platform, stream)
    dataset = get_dataset(stream.dataset)
    pages = [jsonio.dumps(records[:2]), jsonio.dumps(records[2:])]
    assert shaped_columns(pages, [spec.path for spec in stream.mapping.values()]) is not None

    def no_dicts(pages: Any) -> Any:
        raise AssertionError("a page that fits the mapping was parsed into dicts")

    with monkeypatch.context() as patch:
        patch.setattr(normalize_module, "records_from_pages", no_dicts)
        from_pages = normalize_pages(pages, stream.mapping, dataset)
    same_outcome(from_pages, normalize(records, stream.mapping, dataset))
    assert len(from_pages.frame) > 0


@pytest.mark.parametrize("stream", STREAMS)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_any_page_normalizes_as_its_records_do(stream: StreamSpec, data: st.DataObject) -> None:
    mapping = dict(stream.mapping)
    dataset = get_dataset(stream.dataset)
    page = jsonio.dumps(data.draw(platform_records(mapping), label="records"))
    same_outcome(normalize_pages([page], mapping, dataset), normalize(jsonio.loads(page), mapping, dataset))


PATHS = ["a.b", "a.c", "x.0", "y", "y.z", "q.0.k"]


def test_only_the_mapped_paths_are_read_and_other_keys_are_skipped() -> None:
    page = '[{"a": {"b": 1, "c": "s", "d": 9}, "x": ["u"], "y": {"z": 3}, "q": [{"k": 5}], "junk": {"d": [1]}}]'
    assert shaped_columns([page], PATHS) == (
        1,
        {"a.b": [1], "a.c": ["s"], "q.0.k": [5], "x.0": ["u"], "y": [{"z": 3}], "y.z": [3]},
    )


def test_absent_and_null_parents_read_as_missing_and_a_numeric_key_reads_an_object() -> None:
    page = '[{"a": null, "x": {"0": "zero"}, "y": [1]}, {}]'
    count, columns = shaped_columns([page], PATHS) or (0, {})
    assert count == 2
    assert columns["a.b"] == [None, None] and columns["y.z"] == [None, None]
    assert columns["x.0"] == ["zero", None] and columns["y"] == [[1], None]


@pytest.mark.parametrize(
    "page",
    ['{"a": {"b": 1}}', "[5]", '[{"a": 5}]', '[{"a": ["b"]}]', '[{"y": 1e400}]', "[{"],
    ids=["not a list", "not an object", "parent is a number", "parent is a list", "out of range", "truncated"],
)
def test_a_page_of_another_shape_is_left_to_the_dict_path(page: str) -> None:
    assert shaped_columns([page], PATHS) is None

"""Normalization is pure: fixture records in, canonical frame (and quarantine) out."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from connectors.base import Field
from connectors.linkedin_ads.mapping import AD_PERFORMANCE_DAILY as LINKEDIN_MAPPING
from etl.normalize import normalize
from etl.schema import AD_PERFORMANCE_DAILY, Column, Dataset

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
pytestmark = pytest.mark.embedded


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).map(lambda v: "" if v is None or pd.isna(v) else str(v))


def test_linkedin_page_normalizes_to_the_expected_rows() -> None:
    records = json.loads((FIXTURES / "linkedin_ads/ad_analytics/page_1.json").read_text())
    expected = pd.read_csv(
        FIXTURES / "linkedin_ads/ad_analytics/expected.csv", dtype=str, keep_default_na=False
    )
    result = normalize(records, LINKEDIN_MAPPING, AD_PERFORMANCE_DAILY)
    assert_frame_equal(as_text(result.frame), expected)
    assert result.duplicates == 1  # the restated row of campaign 400100001 wins


def test_unreadable_records_are_quarantined_with_their_reason() -> None:
    records = json.loads((FIXTURES / "linkedin_ads/ad_analytics/page_1.json").read_text())
    reasons = [reason for _, reason in normalize(records, LINKEDIN_MAPPING, AD_PERFORMANCE_DAILY).quarantined]
    assert reasons == [
        "impressions: 'abc' is not a valid int",
        "campaign_id: missing (pivotValues.0)",
        "date: {'year': 2026, 'month': 13, 'day': 3} is not a valid ymd; spend: '1,00' is not a valid decimal",
        "record is a str, not an object; account_id: missing (_account.id); campaign_id: missing (pivotValues.0); "
        "date: missing (dateRange.start); currency: missing (_account.currency); impressions: missing (impressions); "
        "clicks: missing (clicks); spend: missing (costInLocalCurrency)",
    ]


MONEY = Dataset("money", "t", (Column("id", "str", True), Column("amount", "decimal")), key=("id",))


@pytest.mark.parametrize(
    ("convert", "raw", "expected"),
    [
        ("micros", "1061083620", "1061.083620"),
        ("micros", 5, "0.000005"),
        ("micros", "-1500000", "-1.500000"),
        ("decimal", "209.449", "209.449"),
        ("decimal", 12, "12"),
        ("decimal", 0.1, "0.1"),
        ("decimal", "+3.50", "3.50"),
    ],
)
def test_money_is_exact(convert: str, raw: object, expected: str) -> None:
    mapping = {"id": Field("id", required=True), "amount": Field("amount", convert)}
    result = normalize([{"id": "a", "amount": raw}], mapping, MONEY)
    assert result.frame.loc[0, "amount"] == expected and not result.quarantined


@pytest.mark.parametrize("raw", ["1e3", "abc", True, float("nan"), {"amount": 1}, "12.5.1"])
def test_unreadable_money_is_quarantined(raw: object) -> None:
    mapping = {"id": Field("id", required=True), "amount": Field("amount", "decimal")}
    result = normalize([{"id": "a", "amount": raw}], mapping, MONEY)
    assert result.frame.empty and "amount" in result.quarantined[0][1]


def test_datetimes_become_utc() -> None:
    stamps = Dataset("s", "t", (Column("id", "str", True), Column("at", "datetime")), key=("id",))
    mapping = {"id": Field("id"), "at": Field("at", "datetime")}
    result = normalize([{"id": "x", "at": "2026-07-25T15:26:49+05:30"}], mapping, stamps)
    assert result.frame.loc[0, "at"] == "2026-07-25T09:56:49+00:00"


def test_empty_input_gives_an_empty_frame_with_the_columns() -> None:
    result = normalize([], LINKEDIN_MAPPING, AD_PERFORMANCE_DAILY)
    assert list(result.frame.columns) == AD_PERFORMANCE_DAILY.column_names and result.frame.empty

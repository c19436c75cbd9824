"""Google Ads normalization is pure: recorded campaign report records in, canonical rows out.

The fixture holds what the connector stages (GoogleAdsRow fields as plain dicts): two currencies,
micros at the edges (5 micros, 999,999 micros, zero cost with impressions), a row restated later
in the same sync, and records that cannot be read.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from connectors.google_ads.mapping import AD_PERFORMANCE_DAILY as GOOGLE_ADS_MAPPING
from etl.normalize import normalize
from etl.schema import AD_PERFORMANCE_DAILY

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "google_ads" / "campaign_performance"
pytestmark = pytest.mark.embedded


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).map(lambda v: "" if v is None or pd.isna(v) else str(v))


def records() -> list[Any]:
    return list(json.loads((FIXTURES / "page_1.json").read_text()))


def test_campaign_report_normalizes_to_the_expected_rows() -> None:
    expected = pd.read_csv(FIXTURES / "expected.csv", dtype=str, keep_default_na=False)
    result = normalize(records(), GOOGLE_ADS_MAPPING, AD_PERFORMANCE_DAILY)
    assert_frame_equal(as_text(result.frame), expected)
    assert result.duplicates == 1  # campaign 21001001002 on 2026-11-01 was restated: the later row wins


def test_unreadable_records_are_quarantined_with_their_reason() -> None:
    reasons = [
        reason for _, reason in normalize(records(), GOOGLE_ADS_MAPPING, AD_PERFORMANCE_DAILY).quarantined
    ]
    assert reasons == [
        "date: missing (segments.date)",
        "spend: '12.5' is not a valid micros",
        "campaign_id: missing (campaign.id)",
        "date: '2026-13-01' is not a valid date",
        "record is a str, not an object; account_id: missing (customer.id); campaign_id: missing "
        "(campaign.id); date: missing (segments.date); currency: missing (customer.currency_code); "
        "impressions: missing "
        "(metrics.impressions); clicks: missing (metrics.clicks); spend: missing (metrics.cost_micros)",
    ]


@pytest.mark.parametrize(
    ("micros", "spend"),
    [
        (1061083620, "1061.083620"),
        ("1061083620", "1061.083620"),
        (5, "0.000005"),
        (999_999, "0.999999"),
        (1_000_000, "1.000000"),
        (0, "0.000000"),
        (9_007_199_254_740_993, "9007199254.740993"),  # beyond a double's integers: still exact
    ],
)
def test_micros_become_exact_currency_amounts(micros: int | str, spend: str) -> None:
    record = {**records()[0], "metrics": {**records()[0]["metrics"], "cost_micros": micros}}
    result = normalize([record], GOOGLE_ADS_MAPPING, AD_PERFORMANCE_DAILY)
    assert result.frame.loc[0, "spend"] == spend and Decimal(spend) * 1_000_000 == Decimal(int(micros))


@pytest.mark.parametrize("micros", [12.5, "1.5e6", True, "-", None])
def test_unreadable_or_missing_micros_are_quarantined(micros: object) -> None:
    record = {**records()[0], "metrics": {**records()[0]["metrics"], "cost_micros": micros}}
    result = normalize([record], GOOGLE_ADS_MAPPING, AD_PERFORMANCE_DAILY)
    assert result.frame.empty and result.quarantined[0][1].startswith("spend: ")


def test_dates_stay_in_the_account_time_zone() -> None:
    """segments.date is the account's own day: never shifted, whatever the account's time zone."""
    berlin = {**records()[1], "segments": {"date": "2026-11-01"}}
    los_angeles = {
        **records()[0],
        "customer": {**records()[0]["customer"], "time_zone": "America/Los_Angeles"},
        "segments": {"date": "2026-11-01"},
    }
    frame = normalize([berlin, los_angeles], GOOGLE_ADS_MAPPING, AD_PERFORMANCE_DAILY).frame
    assert list(frame["date"]) == ["2026-11-01", "2026-11-01"]

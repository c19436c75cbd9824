"""Mailchimp reports normalize purely: fixture records in, canonical email campaign rows out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from connectors.mailchimp.connector import annotate_report
from connectors.mailchimp.mapping import EMAIL_CAMPAIGN as MAILCHIMP_MAPPING
from etl.normalize import normalize
from etl.schema import EMAIL_CAMPAIGN

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mailchimp" / "campaigns"
pytestmark = pytest.mark.embedded


def records() -> list[Any]:
    loaded: list[Any] = json.loads((FIXTURES / "page_1.json").read_text())
    return loaded


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).map(lambda v: "" if v is None or pd.isna(v) else str(v))


def test_reports_normalize_to_the_expected_rows() -> None:
    expected = pd.read_csv(FIXTURES / "expected.csv", dtype=str, keep_default_na=False)
    result = normalize(records(), MAILCHIMP_MAPPING, EMAIL_CAMPAIGN)
    assert_frame_equal(as_text(result.frame), expected)
    assert result.duplicates == 1  # the later read of campaign 9b8e7d6c5a wins


def test_unreadable_reports_are_quarantined_with_their_reason() -> None:
    reasons = [reason for _, reason in normalize(records(), MAILCHIMP_MAPPING, EMAIL_CAMPAIGN).quarantined]
    assert reasons == [
        "emails_sent: '1,204' is not a valid int",
        "campaign_id: missing (id)",
        "send_time: '2026-02-30T25:00:00+00:00' is not a valid datetime; bounces: 'n/a' is not a valid int",
        "record is a str, not an object; campaign_id: missing (id)",
    ]


def test_the_fixture_holds_what_the_connector_yields() -> None:
    """The enrichment keys in the fixture are exactly what the connector adds to each report."""
    for record in records():
        if not isinstance(record, dict):
            continue
        raw = {key: value for key, value in record.items() if not key.startswith("_")}
        assert annotate_report(raw) == record


def test_rates_stay_fractions_as_mailchimp_gives_them() -> None:
    frame = normalize(records(), MAILCHIMP_MAPPING, EMAIL_CAMPAIGN).frame
    rates = frame["open_rate"].map(float)
    assert ((rates >= 0) & (rates <= 1)).all()


def test_empty_input_gives_an_empty_frame_with_the_columns() -> None:
    result = normalize([], MAILCHIMP_MAPPING, EMAIL_CAMPAIGN)
    assert list(result.frame.columns) == EMAIL_CAMPAIGN.column_names and result.frame.empty

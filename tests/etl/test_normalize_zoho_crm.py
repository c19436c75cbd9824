"""Zoho CRM normalization is pure: fixture records in, canonical lead and deal frames (and quarantine) out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from connectors.zoho_crm.mapping import CRM_DEAL as DEAL_MAPPING
from connectors.zoho_crm.mapping import CRM_LEAD as LEAD_MAPPING
from etl.normalize import normalize
from etl.schema import CRM_DEAL, CRM_LEAD

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "zoho_crm"
pytestmark = pytest.mark.embedded


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).map(lambda v: "" if v is None or pd.isna(v) else str(v))


def page(stream: str) -> list[Any]:
    return list(json.loads((FIXTURES / stream / "page_1.json").read_text()))


def expected(stream: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / stream / "expected.csv", dtype=str, keep_default_na=False)


def test_leads_normalize_to_the_expected_rows() -> None:
    result = normalize(page("leads"), LEAD_MAPPING, CRM_LEAD)
    assert_frame_equal(as_text(result.frame), expected("leads"))
    assert result.duplicates == 1  # the lead modified again later in the same sync: the last one wins


def test_deals_normalize_to_the_expected_rows() -> None:
    result = normalize(page("deals"), DEAL_MAPPING, CRM_DEAL)
    assert_frame_equal(as_text(result.frame), expected("deals"))
    assert result.duplicates == 0


def test_offsets_become_utc_including_daylight_saving() -> None:
    frame = normalize(page("leads"), LEAD_MAPPING, CRM_LEAD).frame.set_index("lead_id")
    assert frame.loc["5725767000000100002", "modified_time"] == "2026-11-01T23:29:59+00:00"  # +05:30
    assert frame.loc["6104433000000100009", "created_time"] == "2026-03-29T00:30:00+00:00"  # +01:00
    assert frame.loc["6104433000000100009", "modified_time"] == "2026-03-29T01:30:00+00:00"  # +02:00


def test_converted_is_read_from_the_converted_system_key() -> None:
    frame = normalize(page("leads"), LEAD_MAPPING, CRM_LEAD).frame.set_index("lead_id")
    assert frame.loc["5725767000000100002", "converted"] is True
    assert frame.loc["5725767000000100001", "converted"] is False


def test_deal_currency_is_the_record_currency_or_the_org_home_currency() -> None:
    frame = normalize(page("deals"), DEAL_MAPPING, CRM_DEAL).frame.set_index("deal_id")
    assert frame.loc["5725767000000200002", "currency"] == "EUR"  # multi-currency org, record currency
    assert frame.loc["6104433000000200001", "currency"] == "EUR"  # single-currency org, home currency
    assert frame.loc["5725767000000200002", "amount"] == "48250.75"
    assert frame.loc["6104433000000200001", "amount"] == "58186"


def test_unreadable_leads_are_quarantined_with_their_reason() -> None:
    reasons = [reason for _, reason in normalize(page("leads"), LEAD_MAPPING, CRM_LEAD).quarantined]
    assert reasons == [
        "modified_time: '2026-02-30T15:26:00+05:30' is not a valid datetime",
        "lead_id: missing (id)",
        "record is a str, not an object; lead_id: missing (id); modified_time: missing (Modified_Time)",
    ]


def test_unreadable_deals_are_quarantined_with_their_reason() -> None:
    reasons = [reason for _, reason in normalize(page("deals"), DEAL_MAPPING, CRM_DEAL).quarantined]
    assert reasons == [
        "amount: '12,500.00' is not a valid decimal",
        "closing_date: '2026-13-01' is not a valid date",
    ]


def test_every_mapped_column_exists_in_the_datasets() -> None:
    assert set(LEAD_MAPPING) == set(CRM_LEAD.column_names)
    assert set(DEAL_MAPPING) == set(CRM_DEAL.column_names)

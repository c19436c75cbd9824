"""Demandbase normalization is pure: fixture records in, canonical ABM frames (and quarantine) out."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from connectors.demandbase.intent import daily_intent
from connectors.demandbase.mapping import ABM_ACCOUNT, ABM_ENGAGEMENT, ABM_INTENT
from connectors.demandbase.results import nest_fields
from etl.normalize import normalize
from etl.schema import ABM_ACCOUNT as ACCOUNT_DATASET
from etl.schema import ABM_ENGAGEMENT_DAILY as DAILY_DATASET

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "demandbase"
pytestmark = pytest.mark.embedded


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).map(lambda v: "" if v is None or pd.isna(v) else str(v))


def fixture(stream: str) -> list[object]:
    records: list[object] = json.loads((FIXTURES / stream / "page_1.json").read_text())
    return records


def expected(stream: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / stream / "expected.csv", dtype=str, keep_default_na=False)


def test_accounts_normalize_to_the_expected_rows() -> None:
    result = normalize(fixture("accounts"), ABM_ACCOUNT, ACCOUNT_DATASET)
    assert_frame_equal(as_text(result.frame), expected("accounts"))
    assert result.duplicates == 1  # the second export row of account 2100001 wins


def test_unreadable_accounts_are_quarantined_with_their_reason() -> None:
    reasons = [
        reason for _, reason in normalize(fixture("accounts"), ABM_ACCOUNT, ACCOUNT_DATASET).quarantined
    ]
    assert reasons == [
        "account_id: missing (Account.id)",
        "engagement_minutes_7d: '12 min' is not a valid decimal",
        "record is a str, not an object; account_id: missing (Account.id)",
        "intent_keyword_count: 2.5 is not a valid int",
    ]


def test_intent_normalizes_to_the_expected_rows() -> None:
    result = normalize(fixture("intent"), ABM_INTENT, DAILY_DATASET)
    assert_frame_equal(as_text(result.frame), expected("intent"))
    assert result.duplicates == 0


def test_unreadable_intent_rows_are_quarantined_with_their_reason() -> None:
    quarantined = normalize(fixture("intent"), ABM_INTENT, DAILY_DATASET).quarantined
    assert [reason for _, reason in quarantined] == [
        "people_researching: 'many' is not a valid int",
        "account_id: missing (companyId)",
        "date: '18/07/2026' is not a valid date",
        "record is a str, not an object; account_id: missing (companyId); date: missing (endDate)",
    ]


def test_engagement_normalizes_to_the_expected_rows_and_leaves_intent_empty() -> None:
    result = normalize(fixture("engagement"), ABM_ENGAGEMENT, DAILY_DATASET)
    assert_frame_equal(as_text(result.frame), expected("engagement"))
    assert [reason for _, reason in result.quarantined] == [
        "engagement_minutes: '12 min' is not a valid decimal",
        "account_id: missing (companyId)",
        "record is a str, not an object; account_id: missing (companyId); date: missing (endDate)",
    ]


def test_the_fixture_intent_is_what_the_connector_builds_from_raw_rows() -> None:
    """The aggregates in the fixture follow from raw rows: the connector's own aggregation agrees."""
    raw = [
        {"companyId": "2100008", "domain": "vandelayanalytics.com", "keyword": k, "numPeopleResearching": n,
         "intentStrength": s, "isTrending": t, "trendingScore": score, "startDate": "2026-10-18",
         "endDate": "2026-10-24", "keywordSetId": 7301}
        for k, n, s, t, score in (("Bombora", 9, "HIGH", True, 51), ("Customer Data Platform", 9, "MED", False, 9))
    ]  # fmt: skip
    raw.append({**raw[0], "keywordSetId": 7303, "numPeopleResearching": 4})  # the same keyword in another set
    aggregated = daily_intent(raw, pd.Timestamp("2026-10-01").date(), pd.Timestamp("2026-10-31").date())
    assert aggregated == [fixture("intent")[4]]


def test_export_field_names_are_nested_by_entity_for_the_mapping() -> None:
    flat = {"{Account}.id": 2100001, "{Account}.engagementMinutesLast7Day": 138, "name": "Acme Analytics"}
    nested = nest_fields(flat)
    assert nested == {"Account": {"id": 2100001, "engagementMinutesLast7Day": 138, "name": "Acme Analytics"}}
    frame = normalize([nested], ABM_ACCOUNT, ACCOUNT_DATASET).frame
    assert frame.loc[0, "account_id"] == "2100001" and frame.loc[0, "engagement_minutes_7d"] == "138"

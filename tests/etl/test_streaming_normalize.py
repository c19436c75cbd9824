"""Normalization in batches: flat memory, and the same rows as normalizing a sync in one piece."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from connectors.models import Connection
from etl.key_ledger import KeyLedger
from etl.models import AdPerformanceDaily, NormalizedChunk, RawPage, SyncRun
from etl.normalize import records_from_pages
from etl.selectors import raw_page_batches
from etl.services import sync_run_create_if_idle, sync_run_load, sync_run_normalize

pytestmark = pytest.mark.embedded


def frame(*keys: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"campaign_id": [k[0] for k in keys], "date": [k[1] for k in keys]})


def test_the_ledger_drops_keys_seen_in_earlier_batches_only() -> None:
    ledger = KeyLedger()
    first, dropped = ledger.drop_seen(
        frame(("1", "2026-11-01"), ("2", "2026-11-01")), ("campaign_id", "date")
    )
    assert len(first) == 2 and dropped == 0
    second, dropped = ledger.drop_seen(
        frame(("1", "2026-11-01"), ("1", "2026-11-02"), ("3", "2026-11-01")), ("campaign_id", "date")
    )
    assert dropped == 1 and list(second["campaign_id"]) == ["1", "3"] and len(ledger) == 4
    # A key equal in one column only is a different key.
    third, dropped = ledger.drop_seen(frame(("2", "2026-11-02")), ("campaign_id", "date"))
    assert dropped == 0 and len(third) == 1


def record(campaign: int, day: int, impressions: int) -> dict[str, Any]:
    return {
        "pivotValues": [f"urn:li:sponsoredCampaign:{campaign}"],
        "dateRange": {"start": {"year": 2026, "month": 11, "day": day}},
        "impressions": impressions,
        "clicks": 1,
        "costInLocalCurrency": "1.50",
        "_account": {"id": "508000001", "name": "Northwind", "currency": "USD"},
        "_campaign": {"name": f"Campaign {campaign}", "status": "ACTIVE"},
    }


# Page 2 restates campaign 1 on Nov 1 that page 0 also carried: the later read (page 2) wins.
PAGES: list[list[Any]] = [
    [record(1, 1, 100), record(2, 1, 200)],
    [record(3, 1, 300), "not a record"],
    [record(1, 1, 111), record(4, 1, 400)],
]


@pytest.fixture
def staged_run(db: Any, linkedin_connection: Connection) -> SyncRun:
    run = sync_run_create_if_idle(connection_id=linkedin_connection.pk)
    assert run is not None
    for seq, page in enumerate(PAGES):
        RawPage.objects.create(
            sync_run=run, stream="ad_analytics", seq=seq, record_count=len(page), records=json.dumps(page)
        )
    return run


def test_batches_come_latest_pages_first_with_pages_in_order_inside(staged_run: SyncRun) -> None:
    batches = [
        records_from_pages(pages)
        for pages in raw_page_batches(sync_run_id=staged_run.pk, stream="ad_analytics", rows=3)
    ]
    assert [[r["impressions"] if isinstance(r, dict) else r for r in batch] for batch in batches] == [
        [300, "not a record", 111, 400],
        [100, 200],
    ]


@pytest.mark.parametrize("batch_rows", [1, 2, 25_000])
def test_any_batch_size_loads_the_same_rows(staged_run: SyncRun, settings: Any, batch_rows: int) -> None:
    settings.NORMALIZE_BATCH_ROWS = batch_rows
    settings.LOAD_CHUNK_ROWS = 2
    sync_run_normalize(sync_run_id=staged_run.pk)
    staged_run.refresh_from_db()
    assert staged_run.rows["ad_analytics"] == {"normalized": 4, "quarantined": 1, "duplicates": 1}
    assert NormalizedChunk.objects.filter(sync_run=staged_run).count() >= 2
    sync_run_load(sync_run_id=staged_run.pk)
    loaded = dict(AdPerformanceDaily.objects.values_list("campaign_id", "impressions"))
    assert loaded == {"1": 111, "2": 200, "3": 300, "4": 400}

"""The LinkedIn sandbox account's rows as the API serves them and as the warehouse holds them,
in one comparable shape (campaign, day, impressions, clicks, spend)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.models import Connection
from etl.models import AdPerformanceDaily, SyncRun
from sandbox.linkedin_ads import expected_daily_rows


def warehouse(connection: Connection) -> set[tuple[Any, ...]]:
    return {
        (r.campaign_id, r.date, r.impressions, r.clicks, Decimal(r.spend))
        for r in AdPerformanceDaily.objects.filter(connection=connection)
    }


def served(run: SyncRun) -> set[tuple[Any, ...]]:
    rows = expected_daily_rows(run.connection.account_id, run.window_start, run.window_end)
    return {(r["campaign_id"], r["date"], r["impressions"], r["clicks"], r["cost"]) for r in rows}

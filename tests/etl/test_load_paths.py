"""The loader's two paths on PostgreSQL: a connection's first load is copied straight into the
table; later loads go through the staging table and the merge. (SQLite has one path.)"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from connectors.models import Connection
from etl.load import LoadResult
from etl.models import AdPerformanceDaily
from etl.schema import AD_PERFORMANCE_DAILY
from tests.etl.test_load import connection, csv_rows, load, table

pytestmark = pytest.mark.django_db
__all__ = ["connection"]  # the fixture, shared with the module that defines it


def paths_taken(connection: Connection, *chunks: str, run: int = 1) -> tuple[LoadResult, list[str]]:
    """Load and report which statements wrote the warehouse table: COPY straight in, or a merge."""
    with CaptureQueriesContext(db_connection) as queries:
        result = load(connection, *chunks, run=run)
    statements = [q["sql"] for q in queries.captured_queries]
    taken = [
        "copy" if s.startswith(f"COPY {AD_PERFORMANCE_DAILY.table} ") else "merge"
        for s in statements
        if s.startswith(f"COPY {AD_PERFORMANCE_DAILY.table} ")
        or s.startswith(f"INSERT INTO {AD_PERFORMANCE_DAILY.table} ")
    ]
    return result, taken


def test_a_connection_without_rows_is_copied_straight_into_the_table(connection: Connection) -> None:
    result, taken = paths_taken(
        connection, csv_rows(("1", "2026-11-01", 3, "1.10")), csv_rows(("2", "2026-11-01", 4, "2.25"))
    )
    assert taken == ["copy", "copy"]
    assert (result.staged, result.inserted, result.updated, result.deleted) == (2, 2, 0, 0)
    row = AdPerformanceDaily.objects.get(campaign_id="1")
    assert (row.organization_id, row.connection_id, row.platform, row.sync_run_id) == (
        connection.organization_id,
        connection.pk,
        "linkedin_ads",
        1,
    )
    assert row.account_name == "Acme, Inc." and row.conversion_value is None and row.synced_at is not None


def test_a_connection_with_rows_goes_through_the_merge(connection: Connection) -> None:
    load(connection, csv_rows(("1", "2026-11-01", 3, "1.10")), run=1)
    result, taken = paths_taken(
        connection, csv_rows(("1", "2026-11-01", 3, "1.10"), ("2", "2026-11-01", 4, "2.25")), run=2
    )
    assert taken == ["merge"]
    assert (result.staged, result.inserted, result.updated, result.unchanged) == (2, 1, 0, 1)


def test_another_connections_rows_do_not_stop_the_straight_copy(connection: Connection) -> None:
    other = Connection.objects.create(
        organization=connection.organization, platform="linkedin_ads", account_id="9"
    )
    load(other, csv_rows(("1", "2026-11-01", 7, "7")))
    result, taken = paths_taken(connection, csv_rows(("1", "2026-11-01", 1, "1")))
    assert taken == ["copy"] and result.inserted == 1
    assert table(other) == {("1", date(2026, 11, 1)): (7, Decimal("7"))}
    assert table(connection) == {("1", date(2026, 11, 1)): (1, Decimal("1"))}

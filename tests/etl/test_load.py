"""The loader: idempotent upserts on the natural key, window replacement, all in one transaction.

Runs on PostgreSQL (a straight COPY for a connection's first rows, else COPY + merge) and, with
``-m embedded``, on SQLite (executemany + upsert).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from connectors.models import Connection
from etl.load import LoadResult, SystemValues, WindowScope, load_rows
from etl.models import AdPerformanceDaily
from etl.schema import AD_PERFORMANCE_DAILY
from tenancy.models import Organization

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def csv_rows(*rows: tuple[str, str, int, str]) -> str:
    """(campaign_id, date, clicks, spend) → a CSV chunk in the dataset's column order."""
    return "".join(
        f'508,"Acme, Inc.",{c},Campaign {c},ACTIVE,SPONSORED_UPDATES,{d},,USD,{clicks * 10},{clicks},{spend},1.5,,2\n'
        for c, d, clicks, spend in rows
    )


@pytest.fixture
def connection(db: None) -> Connection:
    org = Organization.objects.create(name="Acme", slug="acme")
    return Connection.objects.create(organization=org, platform="linkedin_ads", account_id="508")


def load(connection: Connection, *chunks: str, run: int = 1, window: WindowScope | None = None) -> LoadResult:
    system = SystemValues(connection.organization_id, connection.pk, "linkedin_ads", run, timezone.now())
    with transaction.atomic():
        return load_rows(dataset=AD_PERFORMANCE_DAILY, chunks=list(chunks), system=system, window=window)


def table(connection: Connection) -> dict[tuple[str, date], tuple[int, Decimal]]:
    return {
        (r.campaign_id, r.date): (r.clicks, Decimal(r.spend))
        for r in AdPerformanceDaily.objects.filter(connection=connection)
    }


def test_fresh_load_inserts_every_row_across_chunks(connection: Connection) -> None:
    result = load(
        connection, csv_rows(("1", "2026-11-01", 3, "1.10")), csv_rows(("2", "2026-11-01", 4, "2.25"))
    )
    assert (result.staged, result.inserted, result.updated, result.deleted) == (2, 2, 0, 0)
    assert table(connection) == {
        ("1", date(2026, 11, 1)): (3, Decimal("1.10")),
        ("2", date(2026, 11, 1)): (4, Decimal("2.25")),
    }
    row = AdPerformanceDaily.objects.get(campaign_id="1")
    assert row.account_name == "Acme, Inc." and row.conversion_value is None and row.sync_run_id == 1


def test_loading_the_same_rows_again_changes_nothing(connection: Connection) -> None:
    chunk = csv_rows(("1", "2026-11-01", 3, "1.10"), ("2", "2026-11-02", 4, "2.25"))
    load(connection, chunk, run=1)
    again = load(connection, chunk, run=2)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert AdPerformanceDaily.objects.count() == 2
    assert set(AdPerformanceDaily.objects.values_list("sync_run_id", flat=True)) == {1}


def test_restated_rows_are_updated_in_place(connection: Connection) -> None:
    load(connection, csv_rows(("1", "2026-11-01", 3, "1.10")), run=1)
    result = load(connection, csv_rows(("1", "2026-11-01", 5, "1.99")), run=2)
    assert (result.inserted, result.updated) == (0, 1)
    assert table(connection) == {("1", date(2026, 11, 1)): (5, Decimal("1.99"))}
    assert AdPerformanceDaily.objects.get().sync_run_id == 2


def test_window_replacement_deletes_only_missing_rows_inside_the_window(connection: Connection) -> None:
    load(
        connection,
        csv_rows(("1", "2026-10-01", 1, "1"), ("1", "2026-11-01", 1, "1"), ("2", "2026-11-01", 1, "1")),
    )
    result = load(
        connection,
        csv_rows(("1", "2026-11-01", 1, "1")),
        window=WindowScope(date(2026, 10, 20), date(2026, 11, 2)),
    )
    assert result.deleted == 1
    assert set(table(connection)) == {("1", date(2026, 10, 1)), ("1", date(2026, 11, 1))}


def test_other_connections_are_never_touched(connection: Connection) -> None:
    other = Connection.objects.create(
        organization=connection.organization, platform="linkedin_ads", account_id="9"
    )
    load(other, csv_rows(("1", "2026-11-01", 7, "7")))
    load(
        connection,
        csv_rows(("1", "2026-11-01", 1, "1")),
        window=WindowScope(date(2026, 11, 1), date(2026, 11, 1)),
    )
    assert table(other) == {("1", date(2026, 11, 1)): (7, Decimal("7"))}


def test_a_failure_after_the_merge_rolls_everything_back(connection: Connection) -> None:
    load(connection, csv_rows(("1", "2026-11-01", 3, "1.10")))
    system = SystemValues(connection.organization_id, connection.pk, "linkedin_ads", 2, timezone.now())
    with pytest.raises(RuntimeError), transaction.atomic():
        load_rows(
            dataset=AD_PERFORMANCE_DAILY,
            chunks=[csv_rows(("1", "2026-11-01", 9, "9"), ("3", "2026-11-01", 1, "1"))],
            system=system,
            window=None,
        )
        raise RuntimeError("crash before commit")
    assert table(connection) == {("1", date(2026, 11, 1)): (3, Decimal("1.10"))}


def test_a_quoted_line_break_survives_the_straight_copy(connection: Connection) -> None:
    chunk = '508,"Acme\nEMEA",1,"Say ""hi""",ACTIVE,,2026-11-01,,USD,10,1,1,,,\n' + csv_rows(
        ("2", "2026-11-01", 1, "1")
    )
    result = load(connection, chunk)
    assert result.inserted == 2
    row = AdPerformanceDaily.objects.get(campaign_id="1")
    assert (row.account_name, row.campaign_name) == ("Acme\nEMEA", 'Say "hi"')
    assert AdPerformanceDaily.objects.get(campaign_id="2").account_id == "508"


@pytest.mark.parametrize("first_load", [False, True], ids=["into an empty connection", "through the merge"])
def test_a_natural_key_given_twice_in_one_load(connection: Connection, first_load: bool) -> None:
    if first_load:
        load(connection, csv_rows(("9", "2026-10-01", 1, "1")))
    twice = csv_rows(("1", "2026-11-01", 3, "1.10")) + csv_rows(("1", "2026-11-01", 5, "1.99"))
    if db_connection.vendor == "postgresql":  # refused, and nothing of the load is kept
        with pytest.raises(DatabaseError):
            load(connection, twice, run=2)
        assert ("1", date(2026, 11, 1)) not in table(connection)
    else:  # SQLite's upsert takes the rows in turn: the last one wins
        load(connection, twice, run=2)
        assert table(connection)[("1", date(2026, 11, 1))] == (5, Decimal("1.99"))

"""The restatement log the load writes: the figures a re-read changed, and nothing else.

Runs on PostgreSQL (the merge logs in the statements that delete rows) and, with ``-m embedded``,
on SQLite (one INSERT ... SELECT before the upsert); the column-scoped path on both.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from connectors.models import Connection
from etl.load import ColumnScope, SystemValues, WindowScope, load_rows
from etl.models import RestatementBatch
from etl.restatement_log import restatement_entries
from etl.schema import ABM_ENGAGEMENT_DAILY, CRM_DEAL
from etl.services import prune_warehouse
from tests.etl.test_load import connection, csv_rows, load

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]
__all__ = ["connection"]  # the fixture, shared with the module that defines it


def logged(connection: Connection) -> set[tuple[str, date, str, Decimal | None, Decimal | None, int]]:
    return {
        (c.record_id, c.day, c.metric, c.old, c.new, c.sync_run_id)
        for c in restatement_entries(RestatementBatch.objects.filter(connection_id=connection.pk))
    }


def test_a_first_load_and_an_unchanged_re_load_log_nothing(connection: Connection) -> None:
    chunk = csv_rows(("1", "2026-11-01", 3, "1.10"), ("2", "2026-11-02", 4, "2.25"))
    load(connection, chunk, run=1)
    again = load(connection, chunk, run=2, window=WindowScope(date(2026, 11, 1), date(2026, 11, 2)))
    assert (again.updated, again.unchanged, again.deleted) == (0, 2, 0)
    assert not RestatementBatch.objects.exists()


def test_a_re_read_that_changed_figures_logs_each_changed_figure_with_its_run(connection: Connection) -> None:
    load(connection, csv_rows(("1", "2026-11-01", 3, "1.10"), ("2", "2026-11-01", 4, "2.25")), run=1)
    result = load(connection, csv_rows(("1", "2026-11-01", 5, "1.10"), ("2", "2026-11-01", 4, "2.25")), run=2)
    assert result.updated == 1
    # clicks 3 → 5 and impressions (10 per click) 30 → 50; spend and the rest are as they were
    assert logged(connection) == {
        ("1", date(2026, 11, 1), "clicks", Decimal(3), Decimal(5), 2),
        ("1", date(2026, 11, 1), "impressions", Decimal(30), Decimal(50), 2),
    }
    change = RestatementBatch.objects.get(metric="clicks")
    assert (change.organization_id, change.platform, change.dataset, change.entries) == (
        connection.organization_id,
        "linkedin_ads",
        "ad_performance_daily",
        1,
    )
    assert change.changed_at is not None


def test_a_decimal_figure_is_logged_exactly(connection: Connection) -> None:
    load(connection, csv_rows(("1", "2026-11-01", 3, "1.10")), run=1)
    load(connection, csv_rows(("1", "2026-11-01", 3, "1.234567")), run=2)
    assert logged(connection) == {("1", date(2026, 11, 1), "spend", Decimal("1.10"), Decimal("1.234567"), 2)}


def test_the_figures_of_one_day_and_metric_are_logged_in_one_batch(connection: Connection) -> None:
    days = ("2026-11-01", "2026-11-02")
    load(connection, csv_rows(*((str(c), d, 3, "1.10") for c in range(1, 4) for d in days)), run=1)
    load(connection, csv_rows(*((str(c), d, 4, "1.10") for c in range(1, 4) for d in days)), run=2)
    batches = RestatementBatch.objects.filter(connection_id=connection.pk)
    # clicks and impressions moved on both days: four batches of three records each
    assert sorted(batches.values_list("day", "metric", "entries")) == [
        (date(2026, 11, d), metric, 3) for d in (1, 2) for metric in ("clicks", "impressions")
    ]
    assert len(logged(connection)) == 12
    assert {(r, old, new) for r, _, m, old, new, _ in logged(connection) if m == "impressions"} == {
        (str(c), Decimal(30), Decimal(40)) for c in range(1, 4)
    }


def test_a_change_of_names_alone_is_not_a_restatement(connection: Connection) -> None:
    load(connection, csv_rows(("1", "2026-11-01", 3, "1.10")), run=1)
    renamed = csv_rows(("1", "2026-11-01", 3, "1.10")).replace("Campaign 1", "Spring launch")
    assert load(connection, renamed, run=2).updated == 1
    assert not RestatementBatch.objects.exists()


def test_a_row_the_platform_stopped_reporting_in_the_window_is_logged_as_gone(connection: Connection) -> None:
    load(connection, csv_rows(("1", "2026-11-01", 3, "1.10"), ("2", "2026-11-01", 4, "2.25")), run=1)
    result = load(
        connection,
        csv_rows(("1", "2026-11-01", 3, "1.10")),
        run=2,
        window=WindowScope(date(2026, 11, 1), date(2026, 11, 1)),
    )
    assert result.deleted == 1
    # every figure the row had (conversion_value was empty: nothing to lose)
    assert logged(connection) == {
        ("2", date(2026, 11, 1), "impressions", Decimal(40), None, 2),
        ("2", date(2026, 11, 1), "clicks", Decimal(4), None, 2),
        ("2", date(2026, 11, 1), "spend", Decimal("2.25"), None, 2),
        ("2", date(2026, 11, 1), "conversions", Decimal("1.5"), None, 2),
        ("2", date(2026, 11, 1), "view_through_conversions", Decimal(2), None, 2),
    }


def test_a_load_that_rolls_back_logs_nothing(connection: Connection) -> None:
    load(connection, csv_rows(("1", "2026-11-01", 3, "1.10")), run=1)
    system = SystemValues(connection.organization_id, connection.pk, "linkedin_ads", 2, timezone.now())
    from tests.etl.test_load import AD_PERFORMANCE_DAILY

    with pytest.raises(RuntimeError), transaction.atomic():
        load_rows(
            dataset=AD_PERFORMANCE_DAILY,
            chunks=[csv_rows(("1", "2026-11-01", 9, "1.10"))],
            system=system,
            window=None,
        )
        raise RuntimeError("the run lost its lease")
    assert not RestatementBatch.objects.exists()


def engagement_rows(*rows: tuple[str, str, str, str]) -> str:
    """(account_id, date, engagement_minutes, page_views) → a CSV chunk in the dataset's order."""
    return "".join(f"{a},{d},acme.example,{minutes},,,,,{views},,,\n" for a, d, minutes, views in rows)


def load_engagement(connection: Connection, chunk: str, *, run: int, window: WindowScope | None = None) -> None:
    system = SystemValues(connection.organization_id, connection.pk, "demandbase", run, timezone.now())
    with transaction.atomic():
        load_rows(
            dataset=ABM_ENGAGEMENT_DAILY,
            chunks=[chunk],
            system=system,
            window=window,
            scope=ColumnScope(("engagement_minutes", "page_views"), ("domain",)),
        )


def test_a_stream_that_writes_its_own_columns_logs_only_them(connection: Connection) -> None:
    load_engagement(connection, engagement_rows(("a1", "2026-11-01", "3.5", "7"), ("a2", "2026-11-01", "1", "2")), run=1)
    assert not RestatementBatch.objects.exists()
    window = WindowScope(date(2026, 11, 1), date(2026, 11, 1))
    load_engagement(connection, engagement_rows(("a1", "2026-11-01", "4.25", "7")), run=2, window=window)
    assert logged(connection) == {
        ("a1", date(2026, 11, 1), "engagement_minutes", Decimal("3.5"), Decimal("4.25"), 2),
        ("a2", date(2026, 11, 1), "engagement_minutes", Decimal(1), None, 2),
        ("a2", date(2026, 11, 1), "page_views", Decimal(2), None, 2),
    }
    assert set(RestatementBatch.objects.values_list("dataset", flat=True)) == {"abm_engagement_daily"}


def test_a_second_stream_filling_the_rows_of_its_own_run_is_not_a_restatement(connection: Connection) -> None:
    """Demandbase's engagement and intent streams fill the same daily rows in one run: the intent
    figures the second stream brings to rows the first wrote are new, not a re-read's change."""
    system = SystemValues(connection.organization_id, connection.pk, "demandbase", 1, timezone.now())
    intent = ColumnScope(("people_researching",), ("domain",))
    with transaction.atomic():
        load_rows(
            dataset=ABM_ENGAGEMENT_DAILY,
            chunks=[engagement_rows(("a1", "2026-11-01", "3.5", "7"))],
            system=system,
            window=None,
            scope=ColumnScope(("engagement_minutes", "page_views"), ("domain",)),
        )
        load_rows(dataset=ABM_ENGAGEMENT_DAILY, chunks=["a1,2026-11-01,,,,,,,,14,,\n"], system=system, window=None, scope=intent)
    assert not RestatementBatch.objects.exists()
    # The next run changing it is one.
    later = SystemValues(connection.organization_id, connection.pk, "demandbase", 2, timezone.now())
    with transaction.atomic():
        load_rows(dataset=ABM_ENGAGEMENT_DAILY, chunks=["a1,2026-11-01,,,,,,,,16,,\n"], system=later, window=None, scope=intent)
    assert logged(connection) == {("a1", date(2026, 11, 1), "people_researching", Decimal(14), Decimal(16), 2)}


def test_tables_without_a_day_in_their_key_are_not_logged() -> None:
    from etl.restatement_log import logged_shape

    assert logged_shape(CRM_DEAL) is None
    shape = logged_shape(ABM_ENGAGEMENT_DAILY)
    assert shape is not None and shape.record == "account_id" and "intent_strength" not in shape.metrics


def test_the_log_is_pruned_with_the_rows_it_describes(connection: Connection, settings: object) -> None:
    today = date(2026, 12, 7)
    old, kept = today - timedelta(days=40), today - timedelta(days=3)
    load(connection, csv_rows(("1", old.isoformat(), 3, "1.10"), ("1", kept.isoformat(), 3, "1.10")), run=1)
    load(connection, csv_rows(("1", old.isoformat(), 4, "1.10"), ("1", kept.isoformat(), 4, "1.10")), run=2)
    assert {c.day for c in RestatementBatch.objects.all()} == {old, kept}
    prune_warehouse(connection_id=connection.pk, today=today)
    assert {c.day for c in RestatementBatch.objects.all()} == {kept}

"""Retention at the boundary: rows older than RETENTION_DAYS go, the oldest kept day stays, for every
dataset that has a prune column, and the delete runs in short batches, each committed on its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection as db

from connectors.models import Connection
from etl.history import FOLDS
from etl.schema import DATASETS, Dataset
from etl.services import prune_warehouse, retention_start
from tenancy.models import Organization
from tests.dashboard import add_account, add_deal, add_email, add_engagement, add_lead, add_row

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

TODAY = date(2025, 3, 31)
BATCH = 3
OLD_ROWS = 8  # more than two batches' worth

PRUNED = [d for d in DATASETS.values() if d.prune_column]
PLATFORM = {
    "ad_performance_daily": "linkedin_ads",
    "email_campaign": "mailchimp",
    "crm_lead": "zoho_crm",
    "crm_deal": "zoho_crm",
    "abm_account": "demandbase",
    "abm_engagement_daily": "demandbase",
}
ADD: dict[str, Callable[[Connection, int, date], Any]] = {
    "ad_performance_daily": lambda c, i, day: add_row(c, day=day, campaign_id=f"c{i}"),
    "email_campaign": lambda c, i, day: add_email(c, campaign_id=f"e{i}", send_time=noon(day)),
    "crm_lead": lambda c, i, day: add_lead(c, lead_id=f"l{i}", created=noon(day)),
    "crm_deal": lambda c, i, day: add_deal(c, deal_id=f"d{i}", created=noon(day)),
    "abm_account": lambda c, i, day: add_account(c, account_id=f"a{i}"),
    "abm_engagement_daily": lambda c, i, day: add_engagement(c, account_id=f"a{i}", day=day),
}


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def model_of(dataset: Dataset) -> Any:
    return next(m for m in apps.get_app_config("etl").get_models() if m._meta.db_table == dataset.table)


def is_date_column(dataset: Dataset) -> bool:
    field: Any = model_of(dataset)._meta.get_field(dataset.prune_column or "")
    return bool(field.get_internal_type() == "DateField")


def stamp(dataset: Dataset, day: date, at: time) -> date | datetime:
    """A value of the dataset's prune column on ``day`` (at ``at`` for timestamp columns)."""
    return day if is_date_column(dataset) else datetime.combine(day, at, tzinfo=UTC)


@pytest.fixture(autouse=True)
def small_batches(settings: Any) -> None:
    settings.RETENTION_DAYS = 30
    settings.PRUNE_BATCH_SIZE = BATCH


@pytest.fixture
def deletes() -> Iterator[list[tuple[str, int]]]:
    """Each DELETE run: its SQL and how many atomic blocks were open around it."""
    seen: list[tuple[str, int]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith("DELETE"):
            seen.append((sql, len(context["connection"].atomic_blocks)))
        return execute(sql, params, many, context)

    with db.execute_wrapper(record):
        yield seen


def make_connection(dataset: Dataset, account: str = "1") -> Connection:
    org, _ = Organization.objects.get_or_create(slug="northwind", defaults={"name": "Northwind"})
    return Connection.objects.create(organization=org, platform=PLATFORM[dataset.name], account_id=account)


def add(dataset: Dataset, connection: Connection, i: int, value: date | datetime) -> int:
    row = ADD[dataset.name](
        connection, i, value if isinstance(value, date) and not isinstance(value, datetime) else value.date()
    )
    model_of(dataset).objects.filter(pk=row.pk).update(**{dataset.prune_column or "": value})
    return int(row.pk)


def test_every_dataset_with_a_prune_column_is_covered() -> None:
    assert {d.name for d in PRUNED} == set(ADD)
    assert retention_start(TODAY) == date(2025, 3, 2)  # today and the 29 days before it


@pytest.mark.parametrize("dataset", PRUNED, ids=lambda d: d.name)
def test_rows_before_the_boundary_go_and_the_boundary_day_stays(
    dataset: Dataset, deletes: list[tuple[str, int]]
) -> None:
    connection = make_connection(dataset)
    first_kept = retention_start(TODAY)
    old = [
        add(dataset, connection, i, stamp(dataset, first_kept - timedelta(days=1 + i % 4), time(23, 59, 59)))
        for i in range(OLD_ROWS)
    ]
    kept = [
        add(dataset, connection, 100, stamp(dataset, first_kept, time(0, 0))),  # the boundary's first moment
        add(dataset, connection, 101, stamp(dataset, first_kept, time(23, 59, 59))),
        add(dataset, connection, 102, stamp(dataset, TODAY, time(12))),
    ]
    model = model_of(dataset)
    assert model.objects.count() == len(old) + len(kept)

    removed = prune_warehouse(today=TODAY)

    assert removed == len(old)
    assert sorted(model.objects.values_list("pk", flat=True)) == sorted(kept)
    mine = [depth for sql, depth in deletes if dataset.table in sql]
    if dataset.name in FOLDS:
        # A daily table's old days are folded into its history first (tests/etl/test_history_fold.py):
        # each day's raw rows go with its fold in one short transaction, then the batch finds none.
        inside_a_transaction = [depth > 0 for depth in mine]
        assert inside_a_transaction == [True] * 4 + [False]  # four old days, one transaction each
        return
    assert len(mine) == OLD_ROWS // BATCH + 1 >= 3  # 3 + 3 + 2: three batches, the last one short
    assert set(mine) == {0}  # each batch is one statement committed on its own, not one long transaction


@pytest.mark.parametrize("dataset", PRUNED, ids=lambda d: d.name)
def test_a_sync_prunes_only_its_own_connection(dataset: Dataset) -> None:
    mine, other = make_connection(dataset, "1"), make_connection(dataset, "2")
    too_old = stamp(dataset, retention_start(TODAY) - timedelta(days=1), time(12))
    add(dataset, mine, 1, too_old)
    theirs = add(dataset, other, 2, too_old)
    assert prune_warehouse(connection_id=mine.pk, today=TODAY) == 1
    assert list(model_of(dataset).objects.values_list("pk", flat=True)) == [theirs]


def test_nothing_old_means_one_empty_batch_per_table(deletes: list[tuple[str, int]]) -> None:
    assert prune_warehouse(today=TODAY) == 0
    assert len(deletes) == len(PRUNED) + 1  # and the restatement log, pruned with the rows it describes
    assert deletes[-1][0].split()[2] == "etl_restatement_batch"


def test_a_sync_prunes_only_the_tables_its_streams_feed(deletes: list[tuple[str, int]]) -> None:
    ads = DATASETS["ad_performance_daily"]
    assert prune_warehouse(connection_id=1, today=TODAY, datasets=[ads]) == 0
    assert [sql.split()[2] for sql, _ in deletes] == [ads.table, "etl_restatement_batch"]

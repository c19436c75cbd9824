"""The restatement log, written by the load: which figures a re-read changed, from what to what.

Stored in batches: one row of ``etl_restatement_batch`` per (run, connection, dataset, day, metric)
holding the changed records as parallel arrays (record ids, old values, new values), so a
restatement of every row writes a few rows per day rather than one per figure. Readers take one
figure at a time from ``restatement_entries``.

Logged: the day-keyed fact tables (a natural key of one record id and the window's day), and of
them the figures alone (integer and decimal columns outside the key). The other tables are left
out on purpose: an email campaign's opens and an ABM account's rolling 7/30-day scores grow by
definition, and a lead's or deal's fields are edits in the CRM, not a platform revising the past.

Every statement here is set-based and runs inside the load's transaction, beside the statement
that changes the rows: on PostgreSQL the merge's delete of changed rows and its delete of rows
the platform no longer reports return the old and new figures to an INSERT in the same statement
(a data-modifying CTE, its rows aggregated per day with json_agg), so an unchanged re-load costs
nothing more; elsewhere (SQLite, and the column-scoped path) one INSERT ... SELECT joins the table
with the stage before the rows change (json_group_array on SQLite). The arrays of one batch are
built by aggregates of the same group under the same filter, which read the same rows in the same
order: their positions match.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection as db
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from etl.models import RestatementBatch
from etl.schema import Dataset

LOG_TABLE = str(RestatementBatch._meta.db_table)
_LOG_COLUMNS = (
    "organization_id, connection_id, platform, dataset, day, metric, record_ids, old_values, new_values, "
    "entries, sync_run_id, changed_at"
)
# The system values the log takes from the load, in SystemValues.as_tuple() order but the dataset's
# name given as a literal: organization, connection, platform, dataset, (...), sync run, changed at.
_FIGURE_KINDS = ("int", "decimal")


@dataclass(frozen=True)
class LoggedShape:
    """What the log records of one dataset: the record id column, the day column, the figures."""

    record: str
    day: str
    metrics: tuple[str, ...]


def logged_shape(dataset: Dataset, only: tuple[str, ...] | None = None) -> LoggedShape | None:
    """The dataset's logged figures (``only`` those among them), or None when it is not logged."""
    day = dataset.window_column
    if day is None or day not in dataset.key or len(dataset.key) != 2:
        return None
    record = next(k for k in dataset.key if k != day)
    metrics = tuple(
        c.name
        for c in dataset.columns
        if c.kind in _FIGURE_KINDS and c.name not in dataset.key and (only is None or c.name in only)
    )
    return LoggedShape(record, day, metrics) if metrics else None


def _insert_head(dataset: Dataset) -> str:
    return f"INSERT INTO {LOG_TABLE} ({_LOG_COLUMNS}) SELECT %s, %s, %s, '{dataset.name}', "


def _batch(record: str, day: str, old: str, new: str, *, postgresql: bool) -> str:
    """The select list of one batch (grouped by day and metric) after the system values: its day,
    metric, the three arrays, their length, then the run and when (params). SQLite stores values
    as text (exact)."""
    if postgresql:
        arrays = f"json_agg({record})::text, json_agg({old})::text, json_agg({new})::text"
    else:
        arrays = (
            f"json_group_array({record}), json_group_array(CAST({old} AS TEXT)), "
            f"json_group_array(CAST({new} AS TEXT))"
        )
    return f"{day}, m.metric, {arrays}, count(*), %s, %s "


def _batches_per_day(rows: str, shape: LoggedShape, *, old: str, new: str, logged: str) -> str:
    """PostgreSQL: the batches of the ``rows`` (a CTE with record_id, day and per metric m the
    columns ``old``/``new`` and ``logged`` name with ``{m}`` filled in), as a SELECT of the log's
    columns after the system values. Grouped by day alone, one filtered aggregate per metric and
    array, then one batch row per day and metric that changed: far cheaper than unpivoting every
    row into one row per figure first."""
    aggregates = ", ".join(
        f"json_agg(c.record_id) FILTER (WHERE {logged.format(m=m)}) AS records_{m}, "
        f"json_agg({old.format(m=m)}) FILTER (WHERE {logged.format(m=m)}) AS old_{m}, "
        f"json_agg({new.format(m=m)}) FILTER (WHERE {logged.format(m=m)}) AS new_{m}, "
        f"count(*) FILTER (WHERE {logged.format(m=m)}) AS entries_{m}"
        for m in shape.metrics
    )
    metrics = ", ".join(
        f"('{m}', d.records_{m}::text, d.old_{m}::text, d.new_{m}::text, d.entries_{m})"
        for m in shape.metrics
    )
    return (
        f"d.day, m.metric, m.record_ids, m.old_values, m.new_values, m.entries, %s, %s "
        f"FROM (SELECT c.day, {aggregates} FROM {rows} c GROUP BY c.day) d "
        f"CROSS JOIN LATERAL (VALUES {metrics}) AS m(metric, record_ids, old_values, new_values, entries) "
        "WHERE m.entries > 0"
    )


def log_params(system_tuple: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(organization, connection, platform) and (sync run, changed at) from SystemValues.as_tuple()."""
    return system_tuple[:3], system_tuple[3:]


def delete_changed_logging_sql(dataset: Dataset, shape: LoggedShape, delete_changed: str) -> str:
    """PostgreSQL: the merge's delete of changed rows, logging the figures it replaces.

    ``delete_changed`` is ``DELETE FROM table t USING stage s WHERE ...``; the statement returns
    one row, the number of rows deleted. Params: the delete's, then the log's system values.
    """
    returned = ", ".join(
        [f"t.{shape.record} AS record_id", f"t.{shape.day} AS day"]
        + [
            f"t.{m} AS old_{m}, s.{m} AS new_{m}, t.{m} IS DISTINCT FROM s.{m} AS moved_{m}"
            for m in shape.metrics
        ]
    )
    batches = _batches_per_day("changed", shape, old="c.old_{m}", new="c.new_{m}", logged="c.moved_{m}")
    return (
        f"WITH changed AS ({delete_changed} RETURNING {returned}), logged AS ("
        f"{_insert_head(dataset)}{batches}) SELECT count(*) FROM changed"
    )


def delete_missing_logging_sql(dataset: Dataset, shape: LoggedShape, delete_missing: str) -> str:
    """PostgreSQL: the delete of the window's rows the platform no longer reports, logging each of
    their figures as gone (old → none). Returns one row, the number deleted. Params: the delete's,
    then the log's system values."""
    returned = ", ".join([f"{shape.record} AS record_id", f"{shape.day} AS day", *shape.metrics])
    batches = _batches_per_day("gone", shape, old="c.{m}", new="NULL::numeric", logged="c.{m} IS NOT NULL")
    return (
        f"WITH gone AS ({delete_missing} RETURNING {returned}), logged AS ("
        f"{_insert_head(dataset)}{batches}) SELECT count(*) FROM gone"
    )


def _metric_names(shape: LoggedShape) -> str:
    return " UNION ALL ".join(f"SELECT '{m}' AS metric" for m in shape.metrics)


def _pick(alias: str, shape: LoggedShape, *, cast: bool) -> str:
    """The value of the metric ``m.metric`` names, from ``alias``'s columns (unpivoted)."""
    whens = " ".join(
        f"WHEN '{m}' THEN {f'CAST({alias}.{m} AS NUMERIC)' if cast else f'{alias}.{m}'}"
        for m in shape.metrics
    )
    return f"CASE m.metric {whens} END"


def log_changed_sql(dataset: Dataset, shape: LoggedShape, stage: str, *, postgresql: bool) -> str:
    """Before an upsert: log the figures the stage brings different for rows the table has.

    Params: the log's (organization, connection, platform), (sync run, changed at), connection,
    sync run. The stage holds text on SQLite, so its values are read as numbers there. A row this
    run wrote already (another stream's, filling the same rows) is not restated: its figures are new.
    """
    old, new = _pick("t", shape, cast=False), _pick("s", shape, cast=not postgresql)
    distinct = "IS DISTINCT FROM" if postgresql else "IS NOT"
    match = " AND ".join(f"t.{k} = s.{k}" for k in dataset.key)
    batch = _batch(f"t.{shape.record}", f"t.{shape.day}", old, new, postgresql=postgresql)
    return (
        f"{_insert_head(dataset)}{batch}"
        f"FROM {dataset.table} t JOIN {stage} s ON {match} CROSS JOIN ({_metric_names(shape)}) m "
        f"WHERE t.connection_id = %s AND t.sync_run_id <> %s AND ({old}) {distinct} ({new}) "
        f"GROUP BY t.{shape.day}, m.metric"
    )


def log_missing_sql(dataset: Dataset, shape: LoggedShape, stage: str, *, postgresql: bool) -> str:
    """Before the window's rows the stage does not bring are deleted (or their figures emptied):
    log their figures as gone. Params: the log's (organization, connection, platform), (sync run,
    changed at), connection, window start, window end."""
    old = _pick("t", shape, cast=False)
    match = " AND ".join(f"s.{k} = t.{k}" for k in dataset.key)
    none = "NULL::numeric" if postgresql else "NULL"
    batch = _batch(f"t.{shape.record}", f"t.{shape.day}", old, none, postgresql=postgresql)
    return (
        f"{_insert_head(dataset)}{batch}"
        f"FROM {dataset.table} t CROSS JOIN ({_metric_names(shape)}) m "
        f"WHERE t.connection_id = %s AND t.{shape.day} BETWEEN %s AND %s AND ({old}) IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match}) GROUP BY t.{shape.day}, m.metric"
    )


def restatement_log_expired(
    datasets: list[str], *, connection_id: int | None, cutoff: Any
) -> tuple[str, list[Any]]:
    """The WHERE clause (and its params) of the log's entries for ``datasets`` older than ``cutoff``
    (the retention's first day, adapted for the database), one connection's if given: the log is
    pruned with the rows it describes."""
    names = ", ".join(["%s"] * len(datasets))
    where = f"dataset IN ({names}) AND day < %s"
    params: list[Any] = [*datasets, cutoff]
    if connection_id is not None:
        where, params = f"connection_id = %s AND {where}", [connection_id, *params]
    return where, params


# --------------------------------------------------------------------------------------------
# Reading the log, one figure at a time
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestatementEntry:
    """One figure a re-read changed: the value the warehouse held, the value the load brought (None:
    the platform stopped reporting the record)."""

    organization_id: int
    connection_id: int
    platform: str
    dataset: str
    record_id: str
    day: date
    metric: str
    old: Decimal | None
    new: Decimal | None
    sync_run_id: int
    changed_at: datetime


def _values(text: str) -> list[Decimal | None]:
    """A batch's array of values, exactly: JSON numbers (PostgreSQL) or strings (SQLite) as Decimal."""
    return [None if v is None else Decimal(v) for v in json.loads(text, parse_float=str, parse_int=str)]


def restatement_entries(batches: QuerySet[RestatementBatch]) -> Iterator[RestatementEntry]:
    """The figures the ``batches`` hold, one entry each, batch after batch in the queryset's order."""
    for batch in batches.iterator(chunk_size=200):
        records = json.loads(batch.record_ids)
        olds, news = _values(batch.old_values), _values(batch.new_values)
        for record_id, old, new in zip(records, olds, news, strict=True):
            yield RestatementEntry(
                organization_id=batch.organization_id,
                connection_id=batch.connection_id,
                platform=batch.platform,
                dataset=batch.dataset,
                record_id=str(record_id),
                day=batch.day,
                metric=batch.metric,
                old=old,
                new=new,
                sync_run_id=batch.sync_run_id,
                changed_at=batch.changed_at,
            )


@dataclass(frozen=True)
class BatchSums:
    """One batch in figures, without its records: how many figures it changed, and the sums of their
    old and new values (None: no figure had one, e.g. every record of the batch appeared or went)."""

    connection_id: int
    platform: str
    metric: str
    day: date
    changed_at: datetime
    entries: int
    old_sum: Decimal | None
    new_sum: Decimal | None


def _sum_sql(column: str) -> RawSQL:
    return RawSQL(f"(SELECT sum(value::numeric) FROM json_array_elements_text({column}::json))", ())


def restatement_batch_sums(batches: QuerySet[RestatementBatch]) -> Iterator[BatchSums]:
    """The ``batches`` added up, one at a time: for summaries that need no record (how much, how
    late), at a cost per batch rather than per figure. PostgreSQL adds the arrays up in SQL; the
    embedded database's are read here."""
    fields = ("connection_id", "platform", "metric", "day", "changed_at", "entries")

    def total(values: list[Decimal | None]) -> Decimal | None:
        known = [v for v in values if v is not None]
        return sum(known, Decimal(0)) if known else None

    if db.vendor == "postgresql":
        rows = batches.annotate(old_sum=_sum_sql("old_values"), new_sum=_sum_sql("new_values"))
        summed = (
            (
                *row[:6],
                None if row[6] is None else Decimal(row[6]),
                None if row[7] is None else Decimal(row[7]),
            )
            for row in rows.values_list(*fields, "old_sum", "new_sum").iterator(chunk_size=2000)
        )
    else:
        summed = (
            (*row[:6], total(_values(row[6])), total(_values(row[7])))
            for row in batches.values_list(*fields, "old_values", "new_values").iterator(chunk_size=200)
        )
    for connection_id, platform, metric, day, changed_at, entries, old_sum, new_sum in summed:
        yield BatchSums(connection_id, platform, metric, day, changed_at, entries, old_sum, new_sum)


def batch_entries(batch: RestatementBatch) -> Iterator[tuple[str, Decimal | None, Decimal | None]]:
    """One batch's (record id, old, new) figures."""
    records = json.loads(batch.record_ids)
    yield from zip(
        (str(r) for r in records), _values(batch.old_values), _values(batch.new_values), strict=True
    )

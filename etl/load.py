"""Loading canonical rows into a warehouse table: an idempotent upsert on the natural key.

The caller wraps the load in one transaction, so readers see the table as it was or fully
updated. Rows are staged in a temporary table (PostgreSQL: COPY; SQLite: executemany), then merged
with one INSERT ... ON CONFLICT DO UPDATE that skips rows whose values did not change. Rows of
the sync window that the platform no longer reports (a campaign-day restated to nothing) are
deleted, so the table matches the platform for the whole window. Loading the same rows twice
changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection

from etl.schema import SYSTEM_COLUMNS, Dataset

PG_TYPES = {
    "str": "text",
    "int": "bigint",
    "decimal": "numeric",
    "date": "date",
    "datetime": "timestamptz",
    "bool": "boolean",
}


@dataclass(frozen=True)
class SystemValues:
    organization_id: int
    connection_id: int
    platform: str
    sync_run_id: int
    synced_at: datetime

    def as_tuple(self) -> tuple[Any, ...]:
        synced_at = connection.ops.adapt_datetimefield_value(self.synced_at)
        return (self.organization_id, self.connection_id, self.platform, self.sync_run_id, synced_at)


@dataclass(frozen=True)
class LoadResult:
    staged: int
    inserted: int
    updated: int
    deleted: int

    @property
    def unchanged(self) -> int:
        return self.staged - self.inserted - self.updated


@dataclass(frozen=True)
class WindowScope:
    """Delete rows of this connection inside [start, end] that the load did not bring."""

    start: date
    end: date

    def as_params(self) -> tuple[Any, Any]:
        return connection.ops.adapt_datefield_value(self.start), connection.ops.adapt_datefield_value(self.end)


def load_rows(
    *, dataset: Dataset, chunks: Iterable[str], system: SystemValues, window: WindowScope | None
) -> LoadResult:
    """Merge CSV chunks (no header, columns in dataset order) into the dataset's table.

    Must run inside a transaction (``transaction.atomic``).
    """
    if connection.vendor == "postgresql":
        return _load_postgresql(dataset, chunks, system, window)
    return _load_sqlite(dataset, chunks, system, window)


def _stage_name(dataset: Dataset) -> str:
    return f"stage_{dataset.name}"


def _merge_sql(dataset: Dataset, *, distinct: str) -> str:
    cols = dataset.column_names
    non_key = [c for c in cols if c not in dataset.key]
    conflict = ", ".join(["connection_id", *dataset.key])
    updates = ", ".join(f"{c} = excluded.{c}" for c in [*non_key, "sync_run_id", "synced_at"])
    changed = (
        f"({', '.join(f'{dataset.table}.{c}' for c in non_key)}) {distinct} ({', '.join(f'excluded.{c}' for c in non_key)})"
    )
    return (
        f"INSERT INTO {dataset.table} ({', '.join([*SYSTEM_COLUMNS, *cols])}) "
        f"SELECT %s, %s, %s, %s, %s, {', '.join(cols)} FROM {_stage_name(dataset)} WHERE true "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates} WHERE {changed}"
    )


def _delete_missing_sql(dataset: Dataset) -> str:
    assert dataset.window_column
    match = " AND ".join(f"s.{k} = {dataset.table}.{k}" for k in dataset.key)
    return (
        f"DELETE FROM {dataset.table} WHERE connection_id = %s AND {dataset.window_column} BETWEEN %s AND %s "
        f"AND NOT EXISTS (SELECT 1 FROM {_stage_name(dataset)} s WHERE {match})"
    )


def _load_postgresql(
    dataset: Dataset, chunks: Iterable[str], system: SystemValues, window: WindowScope | None
) -> LoadResult:
    stage = _stage_name(dataset)
    cols = dataset.column_names
    definition = ", ".join(f"{c.name} {PG_TYPES[c.kind]}" for c in dataset.columns)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(f"CREATE TEMP TABLE {stage} ({definition}) ON COMMIT DROP")
        # One COPY per chunk: the chunks are read lazily from the same connection, which must not
        # be in the middle of a COPY while it does so.
        for chunk in chunks:
            with cursor.copy(f"COPY {stage} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(chunk)
        cursor.execute(f"SELECT count(*) FROM {stage}")
        staged = cursor.fetchone()[0]
        cursor.execute(
            f"WITH merged AS ({_merge_sql(dataset, distinct='IS DISTINCT FROM')} RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged",
            system.as_tuple(),
        )
        inserted, updated = cursor.fetchone()
        deleted = 0
        if window is not None and dataset.window_column:
            cursor.execute(_delete_missing_sql(dataset), (system.connection_id, *window.as_params()))
            deleted = cursor.rowcount
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
    return LoadResult(staged=staged, inserted=inserted, updated=updated, deleted=deleted)


def _load_sqlite(
    dataset: Dataset, chunks: Iterable[str], system: SystemValues, window: WindowScope | None
) -> LoadResult:
    stage = _stage_name(dataset)
    cols = dataset.column_names
    placeholders = ", ".join(["%s"] * len(cols))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS temp.{stage}")
        cursor.execute(f"CREATE TEMP TABLE {stage} ({', '.join(cols)})")
        bools = [i for i, column in enumerate(dataset.columns) if column.kind == "bool"]
        stamps = [i for i, column in enumerate(dataset.columns) if column.kind == "datetime"]
        for chunk in chunks:
            rows: list[list[Any]] = [
                [value if value != "" else None for value in row] for row in csv.reader(io.StringIO(chunk))
            ]
            for row in rows:  # SQLite stores booleans as 0/1; the CSV carries True/False
                for i in bools:
                    if row[i] is not None:
                        row[i] = 1 if row[i] == "True" else 0
                for i in stamps:  # Django keeps UTC datetimes in SQLite as "YYYY-MM-DD HH:MM:SS[.f]"
                    if row[i] is not None:
                        row[i] = row[i].replace("T", " ").removesuffix("+00:00")
            cursor.executemany(f"INSERT INTO {stage} ({', '.join(cols)}) VALUES ({placeholders})", rows)
        cursor.execute(f"SELECT count(*) FROM {stage}")
        staged = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(*) FROM {dataset.table} WHERE connection_id = %s", [system.connection_id])
        before = cursor.fetchone()[0]
        cursor.execute(_merge_sql(dataset, distinct="IS NOT"), system.as_tuple())
        written = cursor.rowcount
        cursor.execute(f"SELECT count(*) FROM {dataset.table} WHERE connection_id = %s", [system.connection_id])
        inserted = cursor.fetchone()[0] - before
        deleted = 0
        if window is not None and dataset.window_column:
            cursor.execute(_delete_missing_sql(dataset), (system.connection_id, *window.as_params()))
            deleted = cursor.rowcount
        cursor.execute(f"DROP TABLE IF EXISTS temp.{stage}")
    return LoadResult(staged=staged, inserted=inserted, updated=written - inserted, deleted=deleted)

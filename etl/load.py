"""Loading canonical rows into a warehouse table: an idempotent upsert on the natural key.

The caller wraps the load in one transaction, so readers see the table as it was or fully
updated. On PostgreSQL there are two paths, chosen per connection under a lock:

- the connection has no rows in the table yet (its first sync, a backfill): no row can conflict,
  so the chunks are copied straight into the table, each line prefixed with the system columns.
  This runs at the speed of a plain COPY.
- the connection has rows: the chunks are copied into a temporary staging table, then merged in
  two set-based statements: the connection's rows that the stage brings with different values are
  deleted, and the staged rows whose key is then absent are inserted. Re-loading unchanged rows
  writes nothing and costs one join; a restatement that changed every row costs about a fresh load.

On SQLite the rows are staged with executemany and merged with one INSERT ... ON CONFLICT DO
UPDATE that skips unchanged rows. Rows of the sync window
that the platform no longer reports (a campaign-day restated to nothing) are deleted, so the table
matches the platform for the whole window. Loading the same rows twice changes nothing, and a
natural key given twice in one load is refused by PostgreSQL (the rows are deduplicated upstream).

A stream that shares its rows with another stream (``ColumnScope``) writes only its own columns:
staged, then upserted setting those columns alone; rows of the window it no longer brings have its
columns emptied, and a row left with no figures at all is deleted. Both databases take this path.

On every path, the figures a load replaces or removes in a day-keyed fact table are written to the
restatement log in the same transaction, set-based (``etl.restatement_log``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection

from etl.restatement_log import (
    LoggedShape,
    delete_changed_logging_sql,
    delete_missing_logging_sql,
    log_changed_sql,
    log_missing_sql,
    log_params,
    logged_shape,
)
from etl.schema import SYSTEM_COLUMNS, Dataset
from etl.signals import load_holding_locks


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
        return connection.ops.adapt_datefield_value(self.start), connection.ops.adapt_datefield_value(
            self.end
        )


@dataclass(frozen=True)
class ColumnScope:
    """The columns of a dataset one stream writes when several streams fill the same rows.

    ``owned`` columns are set from the stream's rows and emptied on the window's rows it no longer
    brings; ``shared`` ones (descriptive, written by several streams) are set when the stream brings a
    value and never emptied by it.
    """

    owned: tuple[str, ...]
    shared: tuple[str, ...] = ()


def load_rows(
    *,
    dataset: Dataset,
    chunks: Iterable[str],
    system: SystemValues,
    window: WindowScope | None,
    scope: ColumnScope | None = None,
) -> LoadResult:
    """Merge CSV chunks (no header, columns in dataset order) into the dataset's table.

    Must run inside a transaction (``transaction.atomic``).
    """
    if scope is not None:
        result = _load_scoped(dataset, chunks, system, window, scope)
        _holding_locks(dataset, system, "upsert")
        return result
    if connection.vendor == "postgresql":
        return _load_postgresql(dataset, chunks, system, window)
    result = _load_sqlite(dataset, chunks, system, window)
    _holding_locks(dataset, system, "upsert")
    return result


def _holding_locks(dataset: Dataset, system: SystemValues, path: str) -> None:
    load_holding_locks.send(sender=Dataset, sync_run_id=system.sync_run_id, dataset=dataset.name, path=path)


def _stage_name(dataset: Dataset) -> str:
    return f"stage_{dataset.name}"


def _upsert_sql(dataset: Dataset, *, distinct: str, source: str) -> str:
    """INSERT ... ON CONFLICT DO UPDATE of the staged rows that ``source`` selects (alias ``s``).

    A conflicting row is only rewritten when one of its values changed.
    """
    cols = dataset.column_names
    non_key = [c for c in cols if c not in dataset.key]
    conflict = ", ".join(["connection_id", *dataset.key])
    updates = ", ".join(f"{c} = excluded.{c}" for c in [*non_key, "sync_run_id", "synced_at"])
    current = ", ".join(f"{dataset.table}.{c}" for c in non_key)
    incoming = ", ".join(f"excluded.{c}" for c in non_key)
    return (
        f"INSERT INTO {dataset.table} ({', '.join([*SYSTEM_COLUMNS, *cols])}) "
        f"SELECT %s, %s, %s, %s, %s, {', '.join(f's.{c}' for c in cols)} FROM {source} "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates} WHERE ({current}) {distinct} ({incoming})"
    )


def _delete_changed_sql(dataset: Dataset) -> str:
    """Delete the connection's rows that the stage brings with different values (one hash join)."""
    non_key = [c for c in dataset.column_names if c not in dataset.key]
    match = " AND ".join(f"t.{k} = s.{k}" for k in dataset.key)
    current = ", ".join(f"t.{c}" for c in non_key)
    incoming = ", ".join(f"s.{c}" for c in non_key)
    return (
        f"DELETE FROM {dataset.table} t USING {_stage_name(dataset)} s WHERE t.connection_id = %s AND {match} "
        f"AND ({current}) IS DISTINCT FROM ({incoming})"
    )


def _insert_absent_sql(dataset: Dataset) -> str:
    """Insert the staged rows whose key the connection does not have (new, or just deleted as changed)."""
    cols = dataset.column_names
    match = " AND ".join(f"t.{k} = s.{k}" for k in dataset.key)
    return (
        f"INSERT INTO {dataset.table} ({', '.join([*SYSTEM_COLUMNS, *cols])}) "
        f"SELECT %s, %s, %s, %s, %s, {', '.join(f's.{c}' for c in cols)} FROM {_stage_name(dataset)} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {dataset.table} t WHERE t.connection_id = %s AND {match})"
    )


def _delete_missing_sql(dataset: Dataset) -> str:
    assert dataset.window_column
    match = " AND ".join(f"s.{k} = {dataset.table}.{k}" for k in dataset.key)
    return (
        f"DELETE FROM {dataset.table} WHERE connection_id = %s AND {dataset.window_column} BETWEEN %s AND %s "
        f"AND NOT EXISTS (SELECT 1 FROM {_stage_name(dataset)} s WHERE {match})"
    )


def _take_turns(cursor: Any, dataset: Dataset, system: SystemValues) -> None:
    """Loads of one connection into one table take turns until commit (PostgreSQL)."""
    cursor.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))", [dataset.table, system.connection_id]
    )


def _load_postgresql(
    dataset: Dataset, chunks: Iterable[str], system: SystemValues, window: WindowScope | None
) -> LoadResult:
    with connection.cursor() as cursor:
        # The choice below stays true until commit even if a run is delivered twice.
        _take_turns(cursor, dataset, system)
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {dataset.table} WHERE connection_id = %s)", [system.connection_id]
        )
        if not cursor.fetchone()[0]:
            copied = _copy_into_table(cursor, dataset, chunks, system)
            _holding_locks(dataset, system, "copy")
            return LoadResult(staged=copied, inserted=copied, updated=0, deleted=0)
        result = _merge_through_stage(cursor, dataset, chunks, system, window)
        _holding_locks(dataset, system, "merge")
        return result


def _copy_into_table(cursor: Any, dataset: Dataset, chunks: Iterable[str], system: SystemValues) -> int:
    """COPY the chunks straight into the table, the system columns prefixed to every line."""
    prefix = system_prefix(system)
    columns = ", ".join([*SYSTEM_COLUMNS, *dataset.column_names])
    copied = 0
    # One COPY per chunk: the chunks are read lazily from the same connection, which must not be in
    # the middle of a COPY while it does so.
    for chunk in chunks:
        with _copy(cursor, f"COPY {dataset.table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(prefix_lines(chunk, prefix))
        copied += cursor.rowcount
    return copied


@contextmanager
def _copy(cursor: Any, statement: str) -> Iterator[Any]:
    """``cursor.copy``, its errors raised as Django's database errors like any other statement's."""
    with connection.wrap_database_errors, cursor.copy(statement) as copy:
        yield copy


def _stage_postgresql(cursor: Any, dataset: Dataset, chunks: Iterable[str]) -> int:
    """COPY the chunks into a temporary stage with the table's own column types; returns the rows."""
    stage = _stage_name(dataset)
    cursor.execute(f"DROP TABLE IF EXISTS {stage}")
    # The table's own column types (numeric scale, lengths): staged values are rounded exactly as
    # stored ones were, so an unchanged row compares equal.
    cursor.execute(
        f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
        f"SELECT {', '.join(dataset.column_names)} FROM {dataset.table} WITH NO DATA"
    )
    staged = 0
    for chunk in chunks:
        with _copy(
            cursor, f"COPY {stage} ({', '.join(dataset.column_names)}) FROM STDIN WITH (FORMAT csv)"
        ) as copy:
            copy.write(chunk)
        staged += cursor.rowcount
    cursor.execute(f"ANALYZE {stage}")  # a temporary table has no statistics until asked: plan the joins
    return staged


def _merge_through_stage(
    cursor: Any, dataset: Dataset, chunks: Iterable[str], system: SystemValues, window: WindowScope | None
) -> LoadResult:
    stage = _stage_name(dataset)
    staged = _stage_postgresql(cursor, dataset, chunks)
    # A changed row is replaced (deleted, then inserted with the rest): two set-based statements,
    # several times faster than ON CONFLICT DO UPDATE's row-by-row path when a restatement
    # changed many rows. Unchanged rows are neither deleted nor inserted: they cost one join.
    # The figures a changed or vanished row had are logged by the same statements that delete it
    # (etl/restatement_log.py): an unchanged re-load logs nothing and costs nothing more.
    shape = logged_shape(dataset)
    log = log_params(system.as_tuple())
    if shape is None:
        cursor.execute(_delete_changed_sql(dataset), [system.connection_id])
        updated = cursor.rowcount
    else:
        cursor.execute(
            delete_changed_logging_sql(dataset, shape, _delete_changed_sql(dataset)),
            (system.connection_id, *log[0], *log[1]),
        )
        updated = int(cursor.fetchone()[0])
    cursor.execute(_insert_absent_sql(dataset), (*system.as_tuple(), system.connection_id))
    inserted = cursor.rowcount - updated
    deleted = 0
    if window is not None and dataset.window_column:
        if shape is None:
            cursor.execute(_delete_missing_sql(dataset), (system.connection_id, *window.as_params()))
            deleted = cursor.rowcount
        else:
            cursor.execute(
                delete_missing_logging_sql(dataset, shape, _delete_missing_sql(dataset)),
                (system.connection_id, *window.as_params(), *log[0], *log[1]),
            )
            deleted = int(cursor.fetchone()[0])
    cursor.execute(f"DROP TABLE IF EXISTS {stage}")
    return LoadResult(staged=staged, inserted=inserted, updated=updated, deleted=deleted)


def system_prefix(system: SystemValues) -> bytes:
    """The system columns as the first CSV fields of a line, in SYSTEM_COLUMNS order."""
    buffer = io.StringIO()
    fields = (system.organization_id, system.connection_id, system.platform, system.sync_run_id)
    csv.writer(buffer, lineterminator="").writerow([*fields, system.synced_at.isoformat()])
    return buffer.getvalue().encode() + b","


# Every byte but the double quote and the line feed: deleting them leaves a line's quote pattern.
_NOT_QUOTE_OR_NEWLINE = bytes(b for b in range(256) if b not in b'"\n')
_LINE = re.compile(rb"[^\n]*\n|[^\n]+\Z")


def prefix_lines(chunk: str, prefix: bytes) -> bytes:
    """Put ``prefix`` in front of every CSV record of ``chunk``, as UTF-8 for COPY.

    Records are lines unless a quoted field holds a line break. Quoted fields without one leave
    only pairs of adjacent quotes once everything but quotes and line feeds is deleted; anything
    else (rare) takes the exact, slower split into records.
    """
    data = chunk.encode()
    if not data:
        return data
    if b'"' in data and b'"' in data.translate(None, _NOT_QUOTE_OR_NEWLINE).replace(b'""', b""):
        return b"".join(prefix + record for record in _records(data))
    body = data if data.endswith(b"\n") else data + b"\n"
    return prefix + body[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


def _records(data: bytes) -> Iterator[bytes]:
    """Split CSV text into records, keeping line breaks that sit inside quoted fields."""
    pending: list[bytes] = []
    inside_quotes = False
    for line in _LINE.findall(data):
        pending.append(line)
        inside_quotes ^= line.count(b'"') % 2 == 1
        if not inside_quotes:
            yield b"".join(pending)
            pending = []
    if pending:
        yield b"".join(pending)


def _stage_sqlite(cursor: Any, dataset: Dataset, chunks: Iterable[str]) -> int:
    """Insert the chunks into a temporary stage (SQLite); returns the rows."""
    stage = _stage_name(dataset)
    cols = dataset.column_names
    placeholders = ", ".join(["%s"] * len(cols))
    cursor.execute(f"DROP TABLE IF EXISTS temp.{stage}")
    cursor.execute(f"CREATE TEMP TABLE {stage} ({', '.join(cols)})")
    bools = [i for i, column in enumerate(dataset.columns) if column.kind == "bool"]
    stamps = [i for i, column in enumerate(dataset.columns) if column.kind == "datetime"]
    for chunk in chunks:
        rows: list[list[Any]] = [
            [value if value != "" else None for value in row] for row in csv.reader(io.StringIO(chunk))
        ]
        for row in rows:  # SQLite stores booleans as 0/1; the CSV carries true/false
            for i in bools:
                if row[i] is not None:
                    row[i] = 1 if row[i].lower() == "true" else 0
            for i in stamps:  # Django keeps UTC datetimes in SQLite as "YYYY-MM-DD HH:MM:SS[.f]"
                if row[i] is not None:
                    row[i] = row[i].replace("T", " ").removesuffix("+00:00")
        cursor.executemany(f"INSERT INTO {stage} ({', '.join(cols)}) VALUES ({placeholders})", rows)
    cursor.execute(f"SELECT count(*) FROM {stage}")
    return int(cursor.fetchone()[0])


def _load_sqlite(
    dataset: Dataset, chunks: Iterable[str], system: SystemValues, window: WindowScope | None
) -> LoadResult:
    stage = _stage_name(dataset)
    with connection.cursor() as cursor:
        staged = _stage_sqlite(cursor, dataset, chunks)
        before = _count_rows(cursor, dataset, system)
        shape = logged_shape(dataset)
        if shape is not None:
            _log_changed(cursor, dataset, shape, system, postgresql=False)
        cursor.execute(
            _upsert_sql(dataset, distinct="IS NOT", source=f"{stage} s WHERE true"), system.as_tuple()
        )
        written = cursor.rowcount
        inserted = _count_rows(cursor, dataset, system) - before
        deleted = 0
        if window is not None and dataset.window_column:
            if shape is not None:
                _log_missing(cursor, dataset, shape, system, window, postgresql=False)
            cursor.execute(_delete_missing_sql(dataset), (system.connection_id, *window.as_params()))
            deleted = cursor.rowcount
        cursor.execute(f"DROP TABLE IF EXISTS temp.{stage}")
    return LoadResult(staged=staged, inserted=inserted, updated=written - inserted, deleted=deleted)


def _log_changed(cursor: Any, dataset: Dataset, shape: LoggedShape, system: SystemValues, *, postgresql: bool) -> None:
    """Log the figures the stage brings different, before the upsert replaces them."""
    head, tail = log_params(system.as_tuple())
    sql = log_changed_sql(dataset, shape, _stage_name(dataset), postgresql=postgresql)
    cursor.execute(sql, (*head, *tail, system.connection_id, system.sync_run_id))


def _log_missing(
    cursor: Any, dataset: Dataset, shape: LoggedShape, system: SystemValues, window: WindowScope, *, postgresql: bool
) -> None:
    """Log the figures of the window's rows the stage does not bring, before they go."""
    head, tail = log_params(system.as_tuple())
    sql = log_missing_sql(dataset, shape, _stage_name(dataset), postgresql=postgresql)
    cursor.execute(sql, (*head, *tail, system.connection_id, *window.as_params()))


def _count_rows(cursor: Any, dataset: Dataset, system: SystemValues) -> int:
    cursor.execute(f"SELECT count(*) FROM {dataset.table} WHERE connection_id = %s", [system.connection_id])
    return int(cursor.fetchone()[0])


def _scoped_upsert_sql(dataset: Dataset, scope: ColumnScope, *, distinct: str) -> str:
    """INSERT ... ON CONFLICT that sets only the scope's columns of a row another stream also fills."""
    cols = dataset.column_names
    table = dataset.table
    conflict = ", ".join(["connection_id", *dataset.key])
    incoming = [f"excluded.{c}" for c in scope.owned] + [f"COALESCE(excluded.{c}, {table}.{c})" for c in scope.shared]
    current = [f"{table}.{c}" for c in (*scope.owned, *scope.shared)]
    sets = [f"{c} = {value}" for c, value in zip((*scope.owned, *scope.shared), incoming, strict=True)]
    return (
        f"INSERT INTO {table} ({', '.join([*SYSTEM_COLUMNS, *cols])}) "
        f"SELECT %s, %s, %s, %s, %s, {', '.join(f's.{c}' for c in cols)} FROM {_stage_name(dataset)} s "
        f"WHERE true ON CONFLICT ({conflict}) DO UPDATE SET "
        f"{', '.join([*sets, 'sync_run_id = excluded.sync_run_id', 'synced_at = excluded.synced_at'])} "
        f"WHERE ({', '.join(current)}) {distinct} ({', '.join(incoming)})"
    )


def _scoped_clear_sql(dataset: Dataset, scope: ColumnScope) -> str:
    """Empty the scope's own columns on the window's rows the stage does not bring."""
    assert dataset.window_column
    table = dataset.table
    match = " AND ".join(f"s.{k} = {table}.{k}" for k in dataset.key)
    empty = " AND ".join(f"{c} IS NULL" for c in scope.owned)
    return (
        f"UPDATE {table} SET {', '.join(f'{c} = NULL' for c in scope.owned)}, sync_run_id = %s, synced_at = %s "
        f"WHERE connection_id = %s AND {dataset.window_column} BETWEEN %s AND %s AND NOT ({empty}) "
        f"AND NOT EXISTS (SELECT 1 FROM {_stage_name(dataset)} s WHERE {match})"
    )


def _empty_rows_delete_sql(dataset: Dataset, scope: ColumnScope) -> str:
    """Delete the window's rows that no stream gives a figure any more."""
    assert dataset.window_column
    figures = [c for c in dataset.column_names if c not in dataset.key and c not in scope.shared]
    empty = " AND ".join(f"{c} IS NULL" for c in figures)
    return (
        f"DELETE FROM {dataset.table} WHERE connection_id = %s AND {dataset.window_column} BETWEEN %s AND %s "
        f"AND {empty}"
    )


def _load_scoped(
    dataset: Dataset, chunks: Iterable[str], system: SystemValues, window: WindowScope | None, scope: ColumnScope
) -> LoadResult:
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgresql:
            _take_turns(cursor, dataset, system)
        staged = (_stage_postgresql if postgresql else _stage_sqlite)(cursor, dataset, chunks)
        before = _count_rows(cursor, dataset, system)
        distinct = "IS DISTINCT FROM" if postgresql else "IS NOT"
        shape = logged_shape(dataset, only=scope.owned)
        if shape is not None:
            _log_changed(cursor, dataset, shape, system, postgresql=postgresql)
        cursor.execute(_scoped_upsert_sql(dataset, scope, distinct=distinct), system.as_tuple())
        written = cursor.rowcount
        inserted = _count_rows(cursor, dataset, system) - before
        cleared = 0
        if window is not None and dataset.window_column:
            if shape is not None:
                _log_missing(cursor, dataset, shape, system, window, postgresql=postgresql)
            stamp = system.as_tuple()[3:]
            cursor.execute(_scoped_clear_sql(dataset, scope), (*stamp, system.connection_id, *window.as_params()))
            cleared = cursor.rowcount
            cursor.execute(_empty_rows_delete_sql(dataset, scope), (system.connection_id, *window.as_params()))
        cursor.execute(f"DROP TABLE IF EXISTS {'' if postgresql else 'temp.'}{_stage_name(dataset)}")
    return LoadResult(staged=staged, inserted=inserted, updated=written - inserted, deleted=cleared)

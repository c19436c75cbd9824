"""Staging rows written with their large text sent as a bound parameter.

Raw pages and normalized chunks are megabytes of text each. Django's PostgreSQL backend binds
parameters on the client: it escapes every value into the SQL string, which for a staged page
means scanning and copying megabytes in this process. Here the INSERT goes through a cursor that
sends the values separately (the extended protocol), so the text travels as it is. Other databases
take the ordinary ORM path.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import connection
from django.db.models import Model


def stage_row(model: type[Model], **values: Any) -> None:
    """INSERT one row of ``model`` with ``values`` (field names; every non-null field given)."""
    if connection.vendor != "postgresql":
        model._default_manager.create(**values)
        return
    fields = [model._meta.get_field(name) for name in values]
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)  # type: ignore[union-attr]
    params = [
        field.get_db_prep_save(value, connection)  # type: ignore[union-attr]
        for field, value in zip(fields, values.values(), strict=True)
    ]
    placeholders = ", ".join(["%s"] * len(params))
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders})",
            params,
        )


def staged_rows_delete(model: type[Model], *, sync_run_id: int) -> int:
    """Delete a run's rows of a staging model (no rows refer to them) in one statement.

    ``QuerySet.delete()`` would wrap it in a transaction of its own: two more round trips to the
    database, which add up over the thousands of small syncs a schedule starts at once.
    """
    field = model._meta.get_field("sync_run")
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(str(field.column))  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [sync_run_id])
        return int(cursor.rowcount)

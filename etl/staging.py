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

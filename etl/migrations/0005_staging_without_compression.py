"""Staged pages and chunks are stored without compression (PostgreSQL only).

They live for minutes, are written once and read once. PostgreSQL compresses large values by
default (pglz), which costs more CPU than the whole rest of staging a page; storing them
uncompressed out of line (``STORAGE EXTERNAL``) trades a little transient disk for that time.
"""

from django.db import migrations


def set_storage(storage: str):  # type: ignore[no-untyped-def]
    def apply(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f"ALTER TABLE etl_rawpage ALTER COLUMN records SET STORAGE {storage}")
        schema_editor.execute(f"ALTER TABLE etl_normalizedchunk ALTER COLUMN csv SET STORAGE {storage}")

    return apply


class Migration(migrations.Migration):
    dependencies = [("etl", "0004_dashboard_covering_indexes")]

    operations = [migrations.RunPython(set_storage("EXTERNAL"), set_storage("EXTENDED"))]

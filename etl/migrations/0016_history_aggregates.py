"""Daily aggregates kept past the raw rows' retention."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("etl", "0015_sync_run_reconciliation")]

    operations: list[migrations.operations.base.Operation] = []

"""Reconciliation of the platform's own totals with the warehouse's."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("etl", "0014_restatement_log")]

    operations: list[migrations.operations.base.Operation] = []

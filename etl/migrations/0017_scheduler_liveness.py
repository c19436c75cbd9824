"""The scheduler's and the workers' liveness."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("etl", "0016_history_aggregates")]

    operations: list[migrations.operations.base.Operation] = []

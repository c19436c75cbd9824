"""Reconciliation of the platform's own totals with the warehouse's."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("etl", "0014_restatement_log")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.AddField(
            model_name="syncrun",
            name="reconciliation_status",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Not yet compared"),
                    ("equal", "Totals agree"),
                    ("differ", "Loaded, totals differ"),
                    ("not_compared", "Not compared"),
                    ("failed", "Could not be compared"),
                ],
                default="",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="reconciliation",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]

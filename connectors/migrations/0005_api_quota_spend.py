"""API calls spent per credential and day, against the platform's budget; a backfill's progress."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("connectors", "0004_connection_authorization")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.AddField(
            model_name="connection",
            name="backfill_end",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="connection",
            name="backfill_loaded_from",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="connection",
            name="backfill_start",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="ApiQuotaSpend",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("platform", models.CharField(max_length=32)),
                ("credential", models.CharField(max_length=200)),
                ("hour", models.DateTimeField()),
                ("spent", models.PositiveIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("platform", "credential", "hour"), name="unique_quota_spend_hour"
                    )
                ],
            },
        ),
    ]

"""Daily aggregates kept past the raw rows' retention."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("etl", "0015_sync_run_reconciliation")]

    operations = [
        migrations.CreateModel(
            name="AbmEngagementHistoryDaily",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("platform", models.CharField(max_length=32)),
                ("sync_run_id", models.BigIntegerField()),
                ("synced_at", models.DateTimeField()),
                ("date", models.DateField()),
                ("accounts", models.BigIntegerField()),
                (
                    "engagement_minutes",
                    models.DecimalField(blank=True, decimal_places=6, max_digits=20, null=True),
                ),
                (
                    "engagement_points",
                    models.DecimalField(blank=True, decimal_places=6, max_digits=20, null=True),
                ),
                ("page_views", models.BigIntegerField(blank=True, null=True)),
                ("people_researching", models.BigIntegerField(blank=True, null=True)),
                ("rows_missing_engagement_minutes", models.BigIntegerField(default=0)),
                ("rows_missing_engagement_points", models.BigIntegerField(default=0)),
                ("rows_missing_page_views", models.BigIntegerField(default=0)),
                ("folded_at", models.DateTimeField()),
                (
                    "connection",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connectors.connection",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                ),
            ],
            options={
                "db_table": "warehouse_abm_engagement_history_daily",
                "indexes": [models.Index(fields=["organization", "date"], name="wh_abm_hist_org_date")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("connection", "date"),
                        name="warehouse_abm_engagement_history_daily_natural_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="AdCampaignHistoryDaily",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("platform", models.CharField(max_length=32)),
                ("sync_run_id", models.BigIntegerField()),
                ("synced_at", models.DateTimeField()),
                ("account_id", models.CharField(max_length=64)),
                ("account_name", models.CharField(blank=True, max_length=255, null=True)),
                ("campaign_id", models.CharField(max_length=64)),
                ("campaign_name", models.CharField(blank=True, max_length=512, null=True)),
                ("campaign_status", models.CharField(blank=True, max_length=32, null=True)),
                ("date", models.DateField()),
                ("currency", models.CharField(max_length=3)),
                ("impressions", models.BigIntegerField()),
                ("clicks", models.BigIntegerField()),
                ("spend", models.DecimalField(decimal_places=6, max_digits=20)),
                ("conversions", models.DecimalField(blank=True, decimal_places=6, max_digits=20, null=True)),
                (
                    "conversion_value",
                    models.DecimalField(blank=True, decimal_places=6, max_digits=20, null=True),
                ),
                ("folded_at", models.DateTimeField()),
                (
                    "connection",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connectors.connection",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                ),
            ],
            options={
                "db_table": "warehouse_ad_campaign_history_daily",
                "indexes": [models.Index(fields=["organization", "date"], name="wh_ad_hist_org_date")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("connection", "campaign_id", "date", "currency"),
                        name="warehouse_ad_campaign_history_daily_natural_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="EmailHistoryDaily",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("platform", models.CharField(max_length=32)),
                ("sync_run_id", models.BigIntegerField()),
                ("synced_at", models.DateTimeField()),
                ("date", models.DateField()),
                ("campaigns", models.BigIntegerField()),
                ("emails_sent", models.BigIntegerField(blank=True, null=True)),
                ("opens", models.BigIntegerField(blank=True, null=True)),
                ("unique_opens", models.BigIntegerField(blank=True, null=True)),
                ("clicks", models.BigIntegerField(blank=True, null=True)),
                ("unique_clicks", models.BigIntegerField(blank=True, null=True)),
                ("bounces", models.BigIntegerField(blank=True, null=True)),
                ("unsubscribes", models.BigIntegerField(blank=True, null=True)),
                ("rows_missing_emails_sent", models.BigIntegerField(default=0)),
                ("rows_missing_unique_opens", models.BigIntegerField(default=0)),
                ("rows_missing_unique_clicks", models.BigIntegerField(default=0)),
                ("folded_at", models.DateTimeField()),
                (
                    "connection",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connectors.connection",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                ),
            ],
            options={
                "db_table": "warehouse_email_history_daily",
                "indexes": [models.Index(fields=["organization", "date"], name="wh_email_hist_org_date")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("connection", "date"), name="warehouse_email_history_daily_natural_key"
                    )
                ],
            },
        ),
    ]

"""The warehouse rows' organization is ``tenancy.Organization`` (the same table): state only."""

import django.db.models.deletion
from django.db import migrations, models

WAREHOUSE_MODELS = (
    "abmaccount",
    "abmengagementdaily",
    "adperformancedaily",
    "crmdeal",
    "crmlead",
    "emailcampaign",
)


class Migration(migrations.Migration):
    dependencies = [
        ("etl", "0012_normalized_chunk_stream"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name=model,
                    name="organization",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                )
                for model in WAREHOUSE_MODELS
            ],
            database_operations=[],
        ),
    ]

"""Organizations and memberships now belong to ``tenancy`` (same tables, no row moves): a
connection's organization points there, and connectors forgets both models. State only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0002_normalize_account_ids"),
        ("tenancy", "0001_initial"),
        ("etl", "0013_organization_in_tenancy"),  # nothing points at connectors.Organization any more
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="connection",
                    name="organization",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="connections",
                        to="tenancy.organization",
                    ),
                ),
                migrations.DeleteModel(name="Membership"),
                migrations.DeleteModel(name="Organization"),
            ],
            database_operations=[],
        ),
    ]

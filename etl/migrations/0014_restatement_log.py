"""The restatement log: what a re-read changed."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("etl", "0013_organization_in_tenancy")]

    operations: list[migrations.operations.base.Operation] = []

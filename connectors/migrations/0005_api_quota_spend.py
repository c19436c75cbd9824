"""API calls spent per credential and day, against the platform's budget."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("connectors", "0004_connection_authorization")]

    operations: list[migrations.operations.base.Operation] = []

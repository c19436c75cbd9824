"""When a connection was authorized, when that grant ends, its last token refresh and expiry warning."""

from django.db import migrations, models
from django.db.models import F


def authorized_when_created(apps, schema_editor):
    """Existing connections were authorized, as far as is known, when they were created."""
    Connection = apps.get_model("connectors", "Connection")
    Connection.objects.filter(authorized_at__isnull=True).update(authorized_at=F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0003_organizations_move_to_tenancy'),
    ]

    operations = [
        migrations.AddField(
            model_name='connection',
            name='authorized_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='connection',
            name='expiry_warned_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='connection',
            name='grant_expires_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='connection',
            name='token_refreshed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(authorized_when_created, migrations.RunPython.noop),
    ]

"""The scheduler's and the workers' liveness."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("etl", "0016_history_aggregates")]

    operations = [
        migrations.CreateModel(
            name="BeatHeartbeat",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("hostname", models.CharField(max_length=255, unique=True)),
                ("pid", models.IntegerField()),
                ("started_at", models.DateTimeField()),
                ("ticked_at", models.DateTimeField()),
                ("stopped_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"db_table": "etl_beat_heartbeat"},
        ),
        migrations.CreateModel(
            name="WorkerHeartbeat",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("hostname", models.CharField(max_length=255, unique=True)),
                ("pid", models.IntegerField()),
                ("queues", models.JSONField(default=list)),
                ("concurrency", models.IntegerField(blank=True, null=True)),
                ("started_at", models.DateTimeField()),
                ("seen_at", models.DateTimeField()),
                ("stopped_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"db_table": "etl_worker_heartbeat"},
        ),
    ]

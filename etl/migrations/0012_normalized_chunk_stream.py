"""Normalized chunks belong to a stream, not only to a dataset: two streams of a connector may feed the
same rows of one dataset, each with its own columns (Demandbase's engagement and intent).

Chunks staged before this change (a run in flight during the upgrade) get the first stream of their
platform that feeds their dataset.
"""

from django.db import migrations, models


def name_streams(apps, schema_editor):  # type: ignore[no-untyped-def]
    from connectors.registry import connector_classes

    chunk_model = apps.get_model("etl", "NormalizedChunk")
    for chunk in chunk_model.objects.filter(stream="").select_related("sync_run__connection"):
        connector = connector_classes().get(chunk.sync_run.connection.platform)
        streams = [s.name for s in (connector.streams if connector else ()) if s.dataset == chunk.dataset]
        chunk.stream = streams[0] if streams else chunk.dataset
        chunk.save(update_fields=["stream"])


class Migration(migrations.Migration):
    dependencies = [("etl", "0011_sync_run_partial")]

    operations = [
        migrations.AddField(
            model_name="normalizedchunk",
            name="stream",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(name_streams, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="normalizedchunk", name="unique_normalized_chunk"),
        migrations.AddConstraint(
            model_name="normalizedchunk",
            constraint=models.UniqueConstraint(
                fields=("sync_run", "stream", "seq"), name="unique_normalized_chunk_of_stream"
            ),
        ),
    ]

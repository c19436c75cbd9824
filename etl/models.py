"""Sync runs, staging, quarantine, and the warehouse tables.

The warehouse tables (``warehouse_*``) are a public interface read by BI tools: names are fixed,
columns are only ever added. Each carries organization, connection, platform, the run that last
wrote the row, and when.
"""

from __future__ import annotations

from django.db import models

from connectors.models import Connection, Organization


class SyncRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Step(models.TextChoices):
        REFRESH = "refresh", "Refreshing token"
        EXTRACT = "extract", "Extracting"
        NORMALIZE = "normalize", "Normalizing"
        LOAD = "load", "Loading"
        PRUNE = "prune", "Pruning"
        DONE = "done", "Done"

    IN_FLIGHT = (Status.QUEUED, Status.RUNNING)

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    step = models.CharField(max_length=16, choices=Step.choices, default=Step.REFRESH)
    trigger = models.CharField(max_length=32, default="manual")
    window_start = models.DateField()
    window_end = models.DateField()
    is_backfill = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {"stream": {"extracted": n, "quarantined": n, "normalized": n, "inserted": n, "updated": n, ...}}
    rows = models.JSONField(default=dict, blank=True)
    # {"refresh": seconds, "extract": seconds, ...}
    timings = models.JSONField(default=dict, blank=True)
    notes = models.JSONField(default=list, blank=True)
    task_ids = models.JSONField(default=list, blank=True)
    error_class = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # The guard: at most one run in flight per connection, whoever starts it.
            models.UniqueConstraint(
                fields=["connection"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_sync_in_flight_per_connection",
            )
        ]

    def __str__(self) -> str:
        return f"SyncRun {self.pk} ({self.connection_id}, {self.status})"

    @property
    def rows_loaded(self) -> int:
        return sum(int(v.get("loaded", 0)) for v in self.rows.values() if isinstance(v, dict))

    @property
    def rows_extracted(self) -> int:
        return sum(int(v.get("extracted", 0)) for v in self.rows.values() if isinstance(v, dict))

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class RawPage(models.Model):
    """One page of raw records as the platform sent them, staged for normalization."""

    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="raw_pages")
    stream = models.CharField(max_length=64)
    seq = models.PositiveIntegerField()
    record_count = models.PositiveIntegerField()
    records = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sync_run", "stream", "seq"], name="unique_raw_page")]


class NormalizedChunk(models.Model):
    """Canonical rows as CSV (header included), ready to be loaded; written by normalize."""

    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="normalized_chunks")
    dataset = models.CharField(max_length=64)
    seq = models.PositiveIntegerField()
    row_count = models.PositiveIntegerField()
    csv = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sync_run", "dataset", "seq"], name="unique_normalized_chunk")
        ]


class QuarantinedRecord(models.Model):
    """A raw record that could not be normalized, kept with the reason."""

    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="quarantined")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="quarantined")
    stream = models.CharField(max_length=64)
    reason = models.TextField()
    record = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class WarehouseRow(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    platform = models.CharField(max_length=32)
    sync_run_id = models.BigIntegerField()
    synced_at = models.DateTimeField()

    class Meta:
        abstract = True


class AdPerformanceDaily(WarehouseRow):
    account_id = models.CharField(max_length=64)
    account_name = models.CharField(max_length=255, null=True, blank=True)
    campaign_id = models.CharField(max_length=64)
    campaign_name = models.CharField(max_length=512, null=True, blank=True)
    campaign_status = models.CharField(max_length=32, null=True, blank=True)
    date = models.DateField()
    currency = models.CharField(max_length=3)
    impressions = models.BigIntegerField()
    clicks = models.BigIntegerField()
    spend = models.DecimalField(max_digits=20, decimal_places=6)
    conversions = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    conversion_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)

    class Meta:
        db_table = "warehouse_ad_performance_daily"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "campaign_id", "date"], name="warehouse_ad_performance_daily_natural_key"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "date"], name="wh_adperf_org_date"),
            models.Index(fields=["date"], name="wh_adperf_date"),
        ]

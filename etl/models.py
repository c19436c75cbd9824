"""Sync runs, staging, quarantine, and the warehouse tables.

The warehouse tables (``warehouse_*``) are a public interface read by BI tools: names are fixed,
columns are only ever added. Each carries organization, connection, platform, the run that last
wrote the row, and when. These models are the one declaration of the warehouse: ``etl.schema`` reads
its datasets (columns in field order, kinds, required columns, natural keys) from them.
"""

from __future__ import annotations

from django.db import models

from connectors.models import Connection
from tenancy.models import Organization


class Reconciliation(models.TextChoices):
    """How a loaded run's warehouse sums compare with the totals the platform reports for its window."""

    PENDING = "", "Not yet compared"
    EQUAL = "equal", "Totals agree"
    DIFFER = "differ", "Loaded, totals differ"
    NOT_COMPARED = "not_compared", "Not compared"  # the platform offers no independent total
    FAILED = "failed", "Could not be compared"  # the totals query itself failed


class SyncRun(models.Model):
    Reconciliation = Reconciliation

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        # Loaded, but at least one stream could not be read (an unlicensed product, a missing
        # permission): the other streams' data is in, the failed stream's rows were left as they were.
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Step(models.TextChoices):
        REFRESH = "refresh", "Refreshing token"
        EXTRACT = "extract", "Extracting"
        NORMALIZE = "normalize", "Normalizing"
        LOAD = "load", "Loading"
        PRUNE = "prune", "Pruning"
        DONE = "done", "Done"

    IN_FLIGHT = (Status.QUEUED, Status.RUNNING)
    ENDED_UNSUCCESSFULLY = (Status.FAILED, Status.CANCELLED)
    LOADED = (Status.SUCCEEDED, Status.PARTIAL)

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
    # What a connector keeps between attempts of a step (an export job id, a cursor).
    state = models.JSONField(default=dict, blank=True)
    error_class = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    # After the load, the totals the platform itself reports for the window beside the warehouse's
    # sums of the same rows (etl/reconciliation.py): the outcome, and the figures side by side
    # ({"window": ..., "figures": [...], "reason": ...}). The run's data stays loaded either way.
    reconciliation_status = models.CharField(
        max_length=16, choices=Reconciliation.choices, default=Reconciliation.PENDING, blank=True
    )
    reconciliation = models.JSONField(default=dict, blank=True)

    # The lease of a run in flight (etl/lease.py): who runs its current step, the heartbeat that
    # step renews, and until when the run counts as alive without a new heartbeat.
    owner_host = models.CharField(max_length=255, blank=True)
    owner_pid = models.PositiveIntegerField(null=True, blank=True)
    # The owner process's start time (seconds since the epoch), so a reused process id is not
    # taken for the owner.
    owner_started_at = models.FloatField(null=True, blank=True)
    owner_task_id = models.CharField(max_length=255, blank=True)
    # Changes with every claim: a step that lost its lease (taken over, cancelled, delivered twice)
    # finds its token gone and stops.
    lease_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # A deliberate wait (a rate limit's reset, a Celery retry's countdown): until when, and why.
    waiting_until = models.DateTimeField(null=True, blank=True)
    waiting_reason = models.CharField(max_length=500, blank=True)

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
    def failed_streams(self) -> dict[str, str]:
        """The streams that could not be read, with the reason (a partial run)."""
        return {
            name: str(stats["failed"])
            for name, stats in self.rows.items()
            if isinstance(stats, dict) and stats.get("failed")
        }

    @property
    def totals_differ(self) -> bool:
        """Loaded, but the warehouse's sums for the window differ from the platform's own totals."""
        return self.reconciliation_status == Reconciliation.DIFFER

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
    # The records as JSON text: staged once and read once, so the database never parses them.
    records = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sync_run", "stream", "seq"], name="unique_raw_page")]


class NormalizedChunk(models.Model):
    """Canonical rows of one stream as CSV, ready to be loaded; written by normalize."""

    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="normalized_chunks")
    stream = models.CharField(max_length=64)  # two streams may feed one dataset (their own columns)
    dataset = models.CharField(max_length=64)
    seq = models.PositiveIntegerField()
    row_count = models.PositiveIntegerField()
    csv = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sync_run", "stream", "seq"], name="unique_normalized_chunk_of_stream")
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
    # No single-column indexes: every natural key starts with connection_id and every table has an
    # index led by organization_id, and each extra index slows every load of a fact table.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
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
    campaign_type = models.CharField(max_length=64, null=True, blank=True)
    date = models.DateField()
    account_time_zone = models.CharField(max_length=64, null=True, blank=True)
    currency = models.CharField(max_length=3)
    impressions = models.BigIntegerField()
    clicks = models.BigIntegerField()
    spend = models.DecimalField(max_digits=20, decimal_places=6)
    conversions = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    conversion_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    view_through_conversions = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "warehouse_ad_performance_daily"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "campaign_id", "date"],
                name="warehouse_ad_performance_daily_natural_key",
            )
        ]
        # Its other indexes depend on the database (etl/migrations/0009_ad_performance_lean_indexes.py):
        # on PostgreSQL the dashboards' covering index and a BRIN index on date; on SQLite
        # (organization, date) and (date).


class EmailCampaign(WarehouseRow):
    campaign_id = models.CharField(max_length=64)
    campaign_title = models.CharField(max_length=512, null=True, blank=True)
    campaign_type = models.CharField(max_length=32, null=True, blank=True)
    list_id = models.CharField(max_length=64, null=True, blank=True)
    list_name = models.CharField(max_length=255, null=True, blank=True)
    subject = models.CharField(max_length=998, null=True, blank=True)
    send_time = models.DateTimeField(null=True, blank=True)
    emails_sent = models.BigIntegerField(null=True, blank=True)
    opens = models.BigIntegerField(null=True, blank=True)
    unique_opens = models.BigIntegerField(null=True, blank=True)
    clicks = models.BigIntegerField(null=True, blank=True)
    unique_clicks = models.BigIntegerField(null=True, blank=True)  # unique subscriber clicks
    bounces = models.BigIntegerField(null=True, blank=True)
    unsubscribes = models.BigIntegerField(null=True, blank=True)
    open_rate = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    click_rate = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)

    class Meta:
        db_table = "warehouse_email_campaign"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "campaign_id"], name="warehouse_email_campaign_natural_key"
            )
        ]
        indexes = [models.Index(fields=["organization", "send_time"], name="wh_email_org_send")]


def crm_attribution() -> tuple[models.CharField[str | None, str | None], ...]:
    """Where a lead or a deal came from: the same columns on both tables (fresh fields for each).

    In column order: lead source, campaign id and name, UTM source, medium and campaign, owner.
    """

    def text(length: int) -> models.CharField[str | None, str | None]:
        return models.CharField(max_length=length, null=True, blank=True)

    return text(120), text(64), text(255), text(255), text(255), text(255), text(255)


class CrmLead(WarehouseRow):
    lead_id = models.CharField(max_length=64)
    created_time = models.DateTimeField(null=True, blank=True)
    modified_time = models.DateTimeField(null=True, blank=True)
    company = models.CharField(max_length=255, null=True, blank=True)
    status = models.CharField(max_length=120, null=True, blank=True)
    converted = models.BooleanField(null=True, blank=True)
    lead_source, campaign_id, campaign_name, utm_source, utm_medium, utm_campaign, owner = crm_attribution()

    class Meta:
        db_table = "warehouse_crm_lead"
        constraints = [
            models.UniqueConstraint(fields=["connection", "lead_id"], name="warehouse_crm_lead_natural_key")
        ]
        indexes = [models.Index(fields=["organization", "created_time"], name="wh_lead_org_created")]


class CrmDeal(WarehouseRow):
    deal_id = models.CharField(max_length=64)
    deal_name = models.CharField(max_length=255, null=True, blank=True)
    account_name = models.CharField(max_length=255, null=True, blank=True)
    created_time = models.DateTimeField(null=True, blank=True)
    modified_time = models.DateTimeField(null=True, blank=True)
    stage = models.CharField(max_length=120, null=True, blank=True)
    amount = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    closing_date = models.DateField(null=True, blank=True)
    lead_source, campaign_id, campaign_name, utm_source, utm_medium, utm_campaign, owner = crm_attribution()

    class Meta:
        db_table = "warehouse_crm_deal"
        constraints = [
            models.UniqueConstraint(fields=["connection", "deal_id"], name="warehouse_crm_deal_natural_key")
        ]
        indexes = [models.Index(fields=["organization", "created_time"], name="wh_deal_org_created")]


class AbmAccount(WarehouseRow):
    account_id = models.CharField(max_length=64)
    domain = models.CharField(max_length=255, null=True, blank=True)
    name = models.CharField(max_length=255, null=True, blank=True)
    industry = models.CharField(max_length=255, null=True, blank=True)
    journey_stage = models.CharField(max_length=120, null=True, blank=True)
    engagement_points_7d = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    engagement_points_30d = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    engagement_minutes_7d = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    engagement_minutes_30d = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    intent_score = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    intent_keyword_count = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "warehouse_abm_account"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "account_id"], name="warehouse_abm_account_natural_key"
            )
        ]
        indexes = [models.Index(fields=["organization"], name="wh_abm_account_org")]


class AbmEngagementDaily(WarehouseRow):
    account_id = models.CharField(max_length=64)
    date = models.DateField()
    domain = models.CharField(max_length=255, null=True, blank=True)
    engagement_minutes = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    engagement_points = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    web_minutes = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    email_minutes = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    ad_minutes = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    page_views = models.BigIntegerField(null=True, blank=True)
    people_researching = models.BigIntegerField(null=True, blank=True)
    intent_strength = models.CharField(max_length=16, null=True, blank=True)
    intent_keywords = models.TextField(null=True, blank=True)  # comma-separated

    class Meta:
        db_table = "warehouse_abm_engagement_daily"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "account_id", "date"], name="warehouse_abm_engagement_daily_natural_key"
            )
        ]
        indexes = [models.Index(fields=["organization", "date"], name="wh_abm_eng_org_date")]


# --------------------------------------------------------------------------------------------
# History: daily aggregates kept past the raw rows' retention (HISTORY_RETENTION_MONTHS).
#
# Before retention prunes a settled day of a daily table, the day is folded here (etl/history.py)
# in the same transaction as the prune, so a day is either in the raw table or in its history
# table, never both and never neither. Like the raw tables they are public: their names and
# columns are stable. ``sync_run_id`` and ``synced_at`` are those of the newest raw row folded in;
# ``folded_at`` says when the day was folded. A figure is NULL when no row folded into it reported
# it; ``rows_missing_*`` counts the folded rows that did not, so a sum over partly missing data is
# flagged rather than read as complete.
# --------------------------------------------------------------------------------------------


class AdCampaignHistoryDaily(WarehouseRow):
    """One campaign on one day in one currency, as it stood when its day was folded."""

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
    folded_at = models.DateTimeField()

    class Meta:
        db_table = "warehouse_ad_campaign_history_daily"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "campaign_id", "date", "currency"],
                name="warehouse_ad_campaign_history_daily_natural_key",
            )
        ]
        indexes = [models.Index(fields=["organization", "date"], name="wh_ad_hist_org_date")]


class EmailHistoryDaily(WarehouseRow):
    """The email campaigns one connection sent on one day (UTC), added up."""

    date = models.DateField()  # the send day (UTC)
    campaigns = models.BigIntegerField()
    emails_sent = models.BigIntegerField(null=True, blank=True)
    opens = models.BigIntegerField(null=True, blank=True)
    unique_opens = models.BigIntegerField(null=True, blank=True)
    clicks = models.BigIntegerField(null=True, blank=True)
    unique_clicks = models.BigIntegerField(null=True, blank=True)
    bounces = models.BigIntegerField(null=True, blank=True)
    unsubscribes = models.BigIntegerField(null=True, blank=True)
    rows_missing_emails_sent = models.BigIntegerField(default=0)
    rows_missing_unique_opens = models.BigIntegerField(default=0)
    rows_missing_unique_clicks = models.BigIntegerField(default=0)
    folded_at = models.DateTimeField()

    class Meta:
        db_table = "warehouse_email_history_daily"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "date"], name="warehouse_email_history_daily_natural_key"
            )
        ]
        indexes = [models.Index(fields=["organization", "date"], name="wh_email_hist_org_date")]


class AbmEngagementHistoryDaily(WarehouseRow):
    """The engagement of one connection's accounts on one day, added up."""

    date = models.DateField()
    accounts = models.BigIntegerField()  # accounts with a row that day
    engagement_minutes = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    engagement_points = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    page_views = models.BigIntegerField(null=True, blank=True)
    people_researching = models.BigIntegerField(null=True, blank=True)
    rows_missing_engagement_minutes = models.BigIntegerField(default=0)
    rows_missing_engagement_points = models.BigIntegerField(default=0)
    rows_missing_page_views = models.BigIntegerField(default=0)
    folded_at = models.DateTimeField()

    class Meta:
        db_table = "warehouse_abm_engagement_history_daily"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "date"], name="warehouse_abm_engagement_history_daily_natural_key"
            )
        ]
        indexes = [models.Index(fields=["organization", "date"], name="wh_abm_hist_org_date")]


class RestatementBatch(models.Model):
    """The figures of one metric, one day, that one run's re-read changed: the values the warehouse
    held and the values the load brought, for each record, as parallel arrays.

    Written by the load, set-based (``etl.restatement_log``), for the day-keyed fact tables: one row
    per (run, connection, dataset, day, metric), so a restatement of every row costs a few rows, not
    one per figure. A record the platform stopped reporting inside the window has a new value of
    null. Values are the warehouse's exact decimals (JSON numbers on PostgreSQL, strings on SQLite). Read
    one figure at a time through ``etl.restatement_log.restatement_entries``. Pruned with the rows it
    describes (by ``day``).
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    platform = models.CharField(max_length=32)
    dataset = models.CharField(max_length=64)
    day = models.DateField()
    metric = models.CharField(max_length=64)
    # JSON arrays kept as text: PostgreSQL's json_agg writes them without a jsonb conversion, which
    # costs the load more than the rest of the log (bench/restatement_log.py). The record ids are the
    # natural key besides the day: campaign ids (ad performance), account ids (engagement).
    record_ids = models.TextField()
    old_values = models.TextField()
    new_values = models.TextField()
    entries = models.PositiveIntegerField()  # the length of each array
    sync_run_id = models.BigIntegerField()
    changed_at = models.DateTimeField()

    class Meta:
        db_table = "etl_restatement_batch"
        # One index, in the order batches are written (a few per restated day and metric: cheap to
        # keep up, bench/restatement_log.py); every reader asks for one organization's recent batches.
        indexes = [models.Index(fields=["organization", "changed_at"], name="restatement_org_changed")]

    def __str__(self) -> str:
        return f"{self.platform} {self.day} {self.metric}: {self.entries} changed by run {self.sync_run_id}"


class BeatHeartbeat(models.Model):
    """The scheduler's sign of life: beat records each tick here (``etl.beat``), one row per beat
    process's host, so Sync health can tell whether the next scheduled run will happen."""

    hostname = models.CharField(max_length=255, unique=True)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    ticked_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)  # set when beat shut down cleanly

    class Meta:
        db_table = "etl_beat_heartbeat"

    def __str__(self) -> str:
        return f"beat on {self.hostname}, last tick {self.ticked_at:%Y-%m-%d %H:%M:%S}"


class WorkerHeartbeat(models.Model):
    """A worker's sign of life, recorded by the worker itself (``etl.worker_lifecycle``) every
    ``WORKER_HEARTBEAT_SECONDS``: its node name, the queues it consumes and its pool size."""

    hostname = models.CharField(max_length=255, unique=True)  # the node name: celery@host
    pid = models.IntegerField()
    queues = models.JSONField(default=list)
    concurrency = models.IntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)  # set when the worker shut down cleanly

    class Meta:
        db_table = "etl_worker_heartbeat"

    def __str__(self) -> str:
        return f"{self.hostname}, last seen {self.seen_at:%Y-%m-%d %H:%M:%S}"

"""Read-only admin views of the pipeline's runs, quarantine and warehouse rows.

These rows are written only by the pipeline; the admin is for looking, never for editing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from etl.models import (
    AbmAccount,
    AbmEngagementDaily,
    AbmEngagementHistoryDaily,
    AdCampaignHistoryDaily,
    AdPerformanceDaily,
    CrmDeal,
    CrmLead,
    EmailCampaign,
    EmailHistoryDaily,
    QuarantinedRecord,
    SyncRun,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and detail pages only: no add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "connection",
        "status",
        "step",
        "trigger",
        "window_start",
        "window_end",
        "rows_loaded_display",
        "duration_display",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "step", "trigger", "is_backfill", "connection__platform")
    search_fields = ("connection__account_id", "connection__name", "error_message")
    list_select_related = ("connection",)
    date_hierarchy = "created_at"
    fields = (
        "connection",
        "status",
        "step",
        "trigger",
        "is_backfill",
        ("window_start", "window_end"),
        ("created_at", "started_at", "finished_at"),
        "rows",
        "timings",
        "notes",
        "task_ids",
        "error_class",
        "error_message",
    )

    @admin.display(description="Rows loaded")
    def rows_loaded_display(self, obj: SyncRun) -> int:
        return obj.rows_loaded

    @admin.display(description="Duration (s)")
    def duration_display(self, obj: SyncRun) -> str:
        seconds = obj.duration_seconds
        return "—" if seconds is None else f"{seconds:.1f}"


@admin.register(QuarantinedRecord)
class QuarantinedRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "connection", "sync_run", "stream", "reason", "created_at")
    list_filter = ("stream", "connection__platform")
    search_fields = ("reason", "connection__account_id")
    list_select_related = ("connection",)
    date_hierarchy = "created_at"
    fields = ("connection", "sync_run", "stream", "reason", "record", "created_at")


@admin.register(AdPerformanceDaily)
class AdPerformanceDailyAdmin(ReadOnlyAdmin):
    list_display = (
        "date",
        "organization",
        "platform",
        "account_id",
        "campaign_name",
        "currency",
        "spend",
        "impressions",
        "clicks",
        "conversions",
        "conversion_value",
        "synced_at",
    )
    list_filter = ("platform", "date", "currency", "organization")
    search_fields = ("campaign_id", "campaign_name", "account_id", "account_name")
    list_select_related = ("organization",)
    date_hierarchy = "date"
    ordering = ("-date", "platform", "account_id", "campaign_id")
    show_full_result_count = False


class WarehouseAdmin(ReadOnlyAdmin):
    """Warehouse rows, for looking: BI tools and the dashboard read the same tables."""

    list_select_related = ("organization",)
    show_full_result_count = False
    list_per_page = 50


@admin.register(EmailCampaign)
class EmailCampaignAdmin(WarehouseAdmin):
    list_display = (
        "send_time",
        "organization",
        "campaign_title",
        "list_name",
        "emails_sent",
        "unique_opens",
        "unique_clicks",
        "unsubscribes",
        "synced_at",
    )
    list_filter = ("organization",)
    search_fields = ("campaign_id", "campaign_title", "subject", "list_name")
    date_hierarchy = "send_time"
    ordering = ("-send_time",)


@admin.register(CrmLead)
class CrmLeadAdmin(WarehouseAdmin):
    list_display = (
        "created_time",
        "organization",
        "lead_id",
        "company",
        "lead_source",
        "status",
        "campaign_name",
        "utm_campaign",
        "converted",
    )
    list_filter = ("organization", "converted", "lead_source")
    search_fields = ("lead_id", "company", "campaign_name", "utm_campaign")
    ordering = ("-created_time",)


@admin.register(CrmDeal)
class CrmDealAdmin(WarehouseAdmin):
    list_display = (
        "created_time",
        "organization",
        "deal_id",
        "deal_name",
        "stage",
        "amount",
        "currency",
        "lead_source",
        "campaign_name",
    )
    list_filter = ("organization", "stage", "currency")
    search_fields = ("deal_id", "deal_name", "account_name", "campaign_name", "utm_campaign")
    ordering = ("-created_time",)


@admin.register(AbmAccount)
class AbmAccountAdmin(WarehouseAdmin):
    list_display = (
        "name",
        "organization",
        "domain",
        "industry",
        "journey_stage",
        "engagement_points_30d",
        "intent_score",
        "synced_at",
    )
    list_filter = ("organization", "journey_stage")
    search_fields = ("account_id", "name", "domain")
    ordering = ("-engagement_points_30d",)


@admin.register(AbmEngagementDaily)
class AbmEngagementDailyAdmin(WarehouseAdmin):
    list_display = (
        "date",
        "organization",
        "account_id",
        "domain",
        "engagement_minutes",
        "engagement_points",
        "page_views",
        "intent_strength",
    )
    list_filter = ("organization", "intent_strength")
    search_fields = ("account_id", "domain", "intent_keywords")
    date_hierarchy = "date"
    ordering = ("-date",)


# The daily history of days past the retention (etl/history.py).


@admin.register(AdCampaignHistoryDaily)
class AdCampaignHistoryDailyAdmin(WarehouseAdmin):
    list_display = (
        "date",
        "organization",
        "platform",
        "account_id",
        "campaign_name",
        "currency",
        "spend",
        "impressions",
        "clicks",
        "conversions",
        "folded_at",
    )
    list_filter = ("platform", "currency", "organization")
    search_fields = ("campaign_id", "campaign_name", "account_id")
    date_hierarchy = "date"
    ordering = ("-date", "platform", "account_id", "campaign_id")


@admin.register(EmailHistoryDaily)
class EmailHistoryDailyAdmin(WarehouseAdmin):
    list_display = (
        "date",
        "organization",
        "campaigns",
        "emails_sent",
        "unique_opens",
        "unique_clicks",
        "folded_at",
    )
    list_filter = ("organization",)
    date_hierarchy = "date"
    ordering = ("-date",)


@admin.register(AbmEngagementHistoryDaily)
class AbmEngagementHistoryDailyAdmin(WarehouseAdmin):
    list_display = (
        "date",
        "organization",
        "accounts",
        "engagement_minutes",
        "engagement_points",
        "folded_at",
    )
    list_filter = ("organization",)
    date_hierarchy = "date"
    ordering = ("-date",)

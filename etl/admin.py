"""Read-only admin views of the pipeline's runs, quarantine and warehouse rows.

These rows are written only by the pipeline; the admin is for looking, never for editing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from etl.models import AdPerformanceDaily, QuarantinedRecord, SyncRun


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

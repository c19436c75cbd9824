"""Admin for connected accounts, and their list on each organization's page.

The encrypted credentials of a connection are never shown or editable here: the field is
excluded from every form and list, and it is not searchable.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from connectors.models import Connection
from tenancy.admin import OrganizationAdmin
from tenancy.models import Organization


class ConnectionInline(admin.TabularInline):
    model = Connection
    extra = 0
    fields = ("platform", "account_id", "name", "status", "last_success_at")
    readonly_fields = ("platform", "account_id", "name", "status", "last_success_at")
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Organization | None = None) -> bool:
        return False


# The organization's page lists its connected accounts (tenancy, the bottom app, cannot name them).
OrganizationAdmin.inlines = (*OrganizationAdmin.inlines, ConnectionInline)


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "organization",
        "platform",
        "account_id",
        "name",
        "status",
        "last_success_at",
        "token_expires_at",
    )
    list_filter = ("platform", "status", "organization")
    search_fields = ("account_id", "name", "organization__name")
    list_select_related = ("organization",)
    exclude = ("credentials_encrypted",)
    readonly_fields = ("credentials_state", "last_success_at", "token_expires_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("organization", "platform", "account_id", "name", "status", "status_message")}),
        ("Sync settings", {"fields": ("restatement_days", "options")}),
        (
            "Backfill in progress",
            {
                "fields": ("backfill_start", "backfill_end", "backfill_loaded_from"),
                "description": "Read in day-slices, newest first; every day from 'loaded from' to the end "
                "is in. Clear all three to drop the rest of a backfill.",
            },
        ),
        (
            "State",
            {
                "fields": (
                    "credentials_state",
                    "last_success_at",
                    "token_expires_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    @admin.display(description="Credentials")
    def credentials_state(self, obj: Connection) -> str:
        """Whether tokens are stored; never what they are. Reconnect from the dashboard to replace them."""
        if not obj.credentials_encrypted:
            return "None stored: connect the account from the dashboard"
        return (
            "Stored encrypted (not shown). Use Reconnect on the dashboard's Sync health page to replace them."
        )

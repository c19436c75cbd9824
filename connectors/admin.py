"""Admin for organizations, their members and their connected accounts.

The encrypted credentials of a connection are never shown or editable here: the field is
excluded from every form and list, and it is not searchable.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from connectors.models import Connection, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


class ConnectionInline(admin.TabularInline):
    model = Connection
    extra = 0
    fields = ("platform", "account_id", "name", "status", "last_success_at")
    readonly_fields = ("platform", "account_id", "name", "status", "last_success_at")
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Organization | None = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (MembershipInline, ConnectionInline)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role")
    list_filter = ("role", "organization")
    search_fields = ("user__username", "user__email", "organization__name")
    autocomplete_fields = ("user", "organization")


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
    readonly_fields = ("last_success_at", "token_expires_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("organization", "platform", "account_id", "name", "status", "status_message")}),
        ("Sync settings", {"fields": ("restatement_days", "options")}),
        ("State", {"fields": ("last_success_at", "token_expires_at", "created_at", "updated_at")}),
    )

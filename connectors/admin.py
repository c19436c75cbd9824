"""Admin for organizations, their members and their connected accounts.

The encrypted credentials of a connection are never shown or editable here: the field is
excluded from every form and list, and it is not searchable.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from connectors.models import Connection
from tenancy.models import Membership, Organization


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


class UserMembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("organization",)
    verbose_name = "organization membership"
    verbose_name_plural = "organization memberships (who sees which organization's dashboard)"


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserWithMembershipsAdmin(UserAdmin):
    """Django's user admin, plus the organizations the user belongs to."""

    inlines = (UserMembershipInline,)
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "organizations")

    @admin.display(description="Organizations")
    def organizations(self, obj: Any) -> str:
        memberships = Membership.objects.filter(user_id=obj.pk).select_related("organization")
        return ", ".join(f"{m.organization.name} ({m.get_role_display()})" for m in memberships) or "—"


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
        ("State", {"fields": ("credentials_state", "last_success_at", "token_expires_at", "created_at", "updated_at")}),
    )

    @admin.display(description="Credentials")
    def credentials_state(self, obj: Connection) -> str:
        """Whether tokens are stored; never what they are. Reconnect from the dashboard to replace them."""
        if not obj.credentials_encrypted:
            return "None stored: connect the account from the dashboard"
        return "Stored encrypted (not shown). Use Reconnect on the dashboard's Sync health page to replace them."

"""Admin for organizations and their members (a connected account's admin adds its own inline
to the organization's page: see ``connectors.admin``)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from tenancy.models import Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines: ClassVar[tuple[type[InlineModelAdmin[Any, Any]], ...]] = (MembershipInline,)


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

"""Organizations, their members, and the platform accounts they connect.

These sit in ``connectors`` because everything else (the pipeline, the warehouse, the dashboard)
is owned by an organization through its connections, and ``connectors`` is the bottom of the
dependency order (dashboard → etl → connectors).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization}"


class Connection(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
        PAUSED = "paused", "Paused"
        FAILING = "failing", "Failing"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="connections")
    platform = models.CharField(max_length=32, db_index=True)
    account_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    status_message = models.TextField(blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Per-connection override of the platform's restatement window (days re-read every sync).
    restatement_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # Non-secret settings of the account (manager id, data centre, ...).
    options = models.JSONField(default=dict, blank=True)
    # Tokens and secrets, encrypted with FIELD_ENCRYPTION_KEY. Never shown, never logged.
    credentials_encrypted = models.TextField(blank=True, editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "platform", "account_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "platform", "account_id"], name="unique_connection_per_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.account_id} ({self.name or 'unnamed'})"

"""The platform accounts an organization connects (``tenancy`` holds organizations and members)."""

from __future__ import annotations

from django.db import models

from tenancy.models import Organization


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
    token_expires_at = models.DateTimeField(null=True, blank=True)  # the access token's expiry
    # The authorization: when the account was (re)authorized, when that grant ends (None: not
    # known to end), the last successful token refresh, and the last expiry warning mailed.
    authorized_at = models.DateTimeField(null=True, blank=True)
    grant_expires_at = models.DateTimeField(null=True, blank=True)
    token_refreshed_at = models.DateTimeField(null=True, blank=True)
    expiry_warned_at = models.DateTimeField(null=True, blank=True)
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

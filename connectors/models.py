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
    # A backfill in progress (etl.backfill): the days from backfill_start to backfill_end are read
    # in day-slices, newest first; every day from backfill_loaded_from to backfill_end is loaded.
    # All None: no backfill is waiting.
    backfill_start = models.DateField(null=True, blank=True)
    backfill_end = models.DateField(null=True, blank=True)
    backfill_loaded_from = models.DateField(null=True, blank=True)
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


class ApiQuotaSpend(models.Model):
    """What this installation spent of a platform's API budget, per credential and UTC hour.

    A platform's budget belongs to a credential (a Google Cloud project's OAuth client, a LinkedIn
    app, a Zoho CRM organization, a Demandbase tenant), not to one connection, so every worker adds
    to the same row. Hours make both kinds of day answerable: a day that resets at 00:00 UTC is the
    sum since midnight, a rolling 24 hours the sum of the last 24 rows (``connectors.quota``).
    """

    platform = models.CharField(max_length=32)
    credential = models.CharField(max_length=200)  # a label of the credential, never a secret
    hour = models.DateTimeField()  # the UTC hour, truncated
    spent = models.PositiveIntegerField(default=0)  # calls, or credits where the platform charges so

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "credential", "hour"], name="unique_quota_spend_hour")
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.credential} {self.hour:%Y-%m-%d %H}:00 {self.spent}"

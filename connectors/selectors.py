"""Reads on connections."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from connectors.models import Connection


def connection_list_syncable(*, platform: str | None = None, organization_slug: str | None = None) -> QuerySet[Connection]:
    """Connections a scheduled or manual sync should run for (not paused, not awaiting re-authorization)."""
    qs = Connection.objects.filter(status__in=[Connection.Status.ACTIVE, Connection.Status.FAILING])
    if platform:
        qs = qs.filter(platform=platform)
    if organization_slug:
        qs = qs.filter(organization__slug=organization_slug)
    return qs.select_related("organization").order_by("pk")


def connection_list_tokens_expiring(*, within_seconds: int) -> QuerySet[Connection]:
    """Connections whose token expires within the horizon, or whose expiry is unknown."""
    horizon = timezone.now() + timedelta(seconds=within_seconds)
    return (
        Connection.objects.filter(status__in=[Connection.Status.ACTIVE, Connection.Status.FAILING])
        .filter(Q(token_expires_at__lte=horizon) | Q(token_expires_at__isnull=True))
        .order_by("pk")
    )

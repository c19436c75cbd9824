"""The health of every connection's authorization: when it was given, when its access token and the
grant itself expire, its last successful refresh, and a forecast in words when the grant ends
within ``TOKEN_EXPIRY_WARNING_DAYS``.

An unknown moment is None (shown as "—"), never zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from connectors.models import Connection
from connectors.services import connection_grant_expires_at
from dashboard.selectors.common import platform_name

# Connections whose authorization is worth warning about: the others sync no more (paused) or
# already ask to be reconnected.
WARNED_STATUSES = (Connection.Status.ACTIVE, Connection.Status.FAILING)


@dataclass(frozen=True)
class TokenHealth:
    connection: Connection
    platform_name: str
    authorized_at: datetime | None
    access_expires_at: datetime | None
    grant_expires_at: datetime | None
    refreshed_at: datetime | None
    now: datetime

    @property
    def days_left(self) -> int | None:
        """Whole days until the grant ends (negative once it has); None: not known to end."""
        if self.grant_expires_at is None:
            return None
        return (self.grant_expires_at - self.now) // timedelta(days=1)

    @property
    def ending(self) -> bool:
        """The grant ends within the warning period (or has ended) and the connection still syncs."""
        return (
            self.grant_expires_at is not None
            and self.grant_expires_at - self.now <= timedelta(days=settings.TOKEN_EXPIRY_WARNING_DAYS)
            and self.connection.status in WARNED_STATUSES
        )

    @property
    def forecast(self) -> str:
        """"LinkedIn Ads authorization for Northwind DACH expires in 12 days: reconnect"; empty when
        the grant is not ending."""
        if not self.ending or self.grant_expires_at is None:
            return ""
        who = f"{self.platform_name} authorization for {self.connection.name or self.connection.account_id}"
        if self.grant_expires_at <= self.now:
            return f"{who} expired on {self.grant_expires_at:%-d %b %Y}: reconnect"
        days = self.days_left or 0
        when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
        return f"{who} expires {when}: reconnect"


def token_health(connection: Connection, *, now: datetime | None = None) -> TokenHealth:
    return TokenHealth(
        connection=connection,
        platform_name=platform_name(connection.platform),
        authorized_at=connection.authorized_at,
        access_expires_at=connection.token_expires_at,
        grant_expires_at=connection_grant_expires_at(connection),
        refreshed_at=connection.token_refreshed_at,
        now=now or timezone.now(),
    )


def token_health_list(connections: Iterable[Connection], *, now: datetime | None = None) -> list[TokenHealth]:
    moment = now or timezone.now()
    return [token_health(connection, now=moment) for connection in connections]


def token_health_ending(*, now: datetime | None = None) -> list[TokenHealth]:
    """Every organization's connections whose authorization ends within the warning period."""
    connections = (
        Connection.objects.filter(status__in=WARNED_STATUSES)
        .select_related("organization")
        .order_by("organization_id", "pk")
    )
    return [health for health in token_health_list(connections, now=now) if health.ending]

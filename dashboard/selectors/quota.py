"""The daily API budgets the organization's connections spend from, and what is spent of each today.

One row per credential (a Google Cloud project's OAuth client, a LinkedIn app, a Zoho CRM
organization, a Demandbase tenant), for the credentials this organization's connections use. A
budget that belongs to the installation (Google's, LinkedIn's) is shared with every organization it
serves: what is spent of it is the installation's, since that is what decides whether a sync fits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from connectors.models import Connection
from connectors.quota import Credential, quota_spent
from connectors.registry import get_connector_class
from dashboard.selectors.common import platform_name


@dataclass(frozen=True)
class QuotaUsage:
    platform_name: str
    credential: Credential
    connections: list[str]  # the organization's connections that spend from it
    spent: int
    resets_at: datetime

    @property
    def budget(self) -> int | None:
        return self.credential.budget.amount

    @property
    def share(self) -> int | None:
        """Per cent of the budget spent (None: no known budget)."""
        if not self.budget:
            return None
        return min(100, round(100 * self.spent / self.budget))

    @property
    def state(self) -> str:
        """ "ok", "low" (80 % or more spent), "spent", or "unknown" (no published budget)."""
        if self.share is None:
            return "unknown"
        if self.spent >= (self.budget or 0):
            return "spent"
        return "low" if self.share >= 80 else "ok"

    @property
    def day(self) -> str:
        return "in the last 24 hours" if self.credential.budget.rolling else "today (UTC)"


def quota_usage_list(connections: Iterable[Connection], *, now: datetime | None = None) -> list[QuotaUsage]:
    """Per credential the connections use: spent in its budget's day, against the budget."""
    now = now or timezone.now()
    found: dict[tuple[str, str], tuple[Credential, list[str]]] = {}
    for connection in connections:
        credential = get_connector_class(connection.platform).quota_credential(connection.account_id)
        if credential is None:
            continue
        _, names = found.setdefault((credential.platform, credential.label), (credential, []))
        names.append(connection.name or connection.account_id)
    return [
        QuotaUsage(
            platform_name=platform_name(credential.platform),
            credential=credential,
            connections=names,
            spent=quota_spent(credential=credential, now=now),
            resets_at=credential.budget.resets_at(now),
        )
        for credential, names in sorted(found.values(), key=lambda item: (item[0].platform, item[0].label))
    ]

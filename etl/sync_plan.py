"""What a sync or a backfill would cost in API calls, and whether it fits today's budget.

A dry run: no API call is made and no run is created. Each connection's window is the one its next
sync would read (``sync_window_for``: its restatement window, or what is left of a backfill), or the
last N days for a backfill asked for now; its cost is the connector's estimate
(``BaseConnector.estimate_calls``, from what the connection's latest run found, e.g. how many
accounts a Google Ads manager reports). Connections that share a credential share its budget: each
one's verdict counts the connections before it, on top of what the credential spent today.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from connectors.base import Window
from connectors.models import Connection
from connectors.quota import Credential, quota_spent
from connectors.registry import get_connector_class
from etl.models import SyncRun
from etl.services import sync_window_for, today_utc


@dataclass(frozen=True)
class PlanLine:
    connection: Connection
    window: Window
    backfill: bool
    calls: int
    exact: bool  # False: the least it costs (pages depend on the data)
    credential: Credential | None  # None: the platform has no daily budget
    spent_today: int  # what the credential spent in its budget's day, before this plan
    planned_before: int  # what the plan's earlier connections of the same credential cost
    days: int | None  # days it takes within the budget (1: fits today); None: no budget known

    @property
    def fits(self) -> bool | None:
        return None if self.days is None else self.days == 1


def _last_state(connection: Connection) -> dict[str, Any]:
    run = SyncRun.objects.filter(connection=connection).order_by("-created_at").only("state").first()
    return dict(run.state) if run is not None else {}


def sync_plan(
    connections: Iterable[Connection],
    *,
    backfill_days: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> list[PlanLine]:
    """One line per connection: its window, its cost, its credential's budget and the verdict."""
    today = today or today_utc()
    now = now or timezone.now()
    lines: list[PlanLine] = []
    planned: dict[tuple[str, str], int] = {}
    spent: dict[tuple[str, str], int] = {}
    for connection in connections:
        connector_cls = get_connector_class(connection.platform)
        if backfill_days:
            window, backfill = Window(date.fromordinal(today.toordinal() - backfill_days + 1), today), True
        else:
            window, backfill = sync_window_for(connection, today=today)
        last_state = _last_state(connection)
        calls = connector_cls.estimate_calls(window, last_state=last_state)
        credential = connector_cls.quota_credential(connection.account_id)
        key = (connection.platform, credential.label if credential else "")
        before = planned.get(key, 0)
        planned[key] = before + calls
        days = None
        if credential is not None:
            if key not in spent:
                spent[key] = quota_spent(credential=credential, now=now)
            days = credential.budget.days_for(before + calls, spent[key])
        lines.append(
            PlanLine(
                connection=connection,
                window=window,
                backfill=backfill,
                calls=calls,
                # Exact only once a run has found what the estimate counts (e.g. a manager's clients).
                exact=connector_cls.estimate_is_exact and bool(last_state),
                credential=credential,
                spent_today=spent.get(key, 0),
                planned_before=before,
                days=days,
            )
        )
    return lines

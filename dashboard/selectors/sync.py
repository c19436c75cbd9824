"""The health of every sync: each connection's state, its next scheduled run and the run history.

Nothing here is cached: a marketer checking whether a sync finished must see it at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from connectors.models import Connection, Organization
from dashboard.selectors.common import connection_list_for_organization, platform_name
from etl.models import SyncRun

RUN_HISTORY_LIMIT = 50

# Task names of the beat entries that start syncs (see dashboard/tasks.py and dashboard/schedules.py).
SYNC_ALL_TASK = "dashboard.sync_all_platform_data"
SYNC_PLATFORM_TASK = "dashboard.sync_platform_data"

ERROR_CLASS_HINTS = {
    "AuthError": "The platform no longer accepts this connection's sign-in. Reconnect the account.",
    "RateLimited": "The platform asked us to slow down; the next scheduled sync will try again.",
    "TransientError": "The platform did not answer properly; the next scheduled sync will try again.",
    "Abandoned": "The sync stopped making progress and was given up; it will run again.",
}


@dataclass(frozen=True)
class ConnectionOverview:
    connection: Connection
    platform_name: str
    latest_run: SyncRun | None
    next_run_at: datetime | None = None
    schedule_note: str = ""

    @property
    def can_sync(self) -> bool:
        return self.connection.status in (Connection.Status.ACTIVE, Connection.Status.FAILING)

    @property
    def needs_reauth(self) -> bool:
        return self.connection.status == Connection.Status.NEEDS_REAUTH

    @property
    def problem(self) -> str:
        """The most useful plain-words explanation of what is wrong, or an empty string."""
        if self.connection.status_message and self.connection.status != Connection.Status.ACTIVE:
            return self.connection.status_message
        if self.latest_run is not None and self.latest_run.status == SyncRun.Status.FAILED:
            return run_problem(self.latest_run)
        return ""

    @property
    def last_run_rows(self) -> int | None:
        run = self.latest_run
        if run is None or run.status != SyncRun.Status.SUCCEEDED:
            return None
        return run.rows_loaded


def run_problem(run: SyncRun) -> str:
    return (
        run.error_message
        or ERROR_CLASS_HINTS.get(run.error_class, "")
        or ("The sync failed without a message." if run.status == SyncRun.Status.FAILED else "")
    )


def latest_run_per_connection(*, connection_ids: list[int]) -> dict[int, SyncRun]:
    """Each connection's most recent run; the database ranks the history and returns one run each."""
    ranked = (
        SyncRun.objects.filter(connection_id__in=connection_ids)
        .annotate(
            recency=Window(
                RowNumber(),
                partition_by=[F("connection_id")],
                order_by=[F("created_at").desc(), F("pk").desc()],
            )
        )
        .filter(recency=1)
    )
    return {run.connection_id: run for run in ranked}


def overview_connections(
    *, organization: Organization, now: datetime | None = None
) -> list[ConnectionOverview]:
    connections = list(connection_list_for_organization(organization=organization))
    latest = latest_run_per_connection(connection_ids=[c.pk for c in connections])
    next_runs = next_sync_runs(connections=connections, organization=organization, now=now)
    items = []
    for connection in connections:
        next_at, note = next_runs.get(connection.pk, (None, "Not scheduled"))
        items.append(
            ConnectionOverview(
                connection=connection,
                platform_name=platform_name(connection.platform),
                latest_run=latest.get(connection.pk),
                next_run_at=next_at,
                schedule_note=note,
            )
        )
    return items


# --------------------------------------------------------------------------------------------
# Next scheduled run, from django-celery-beat's tables
# --------------------------------------------------------------------------------------------


def _crontab_next(schedule: Any, now: datetime) -> datetime | None:
    """The first minute after ``now`` that the crontab matches, in its own time zone.

    Day of month and day of week must both match, as in Celery's crontab (0 is Sunday).
    """
    tz = getattr(schedule, "tz", None) or UTC
    local = now.astimezone(tz)
    times = sorted((hour, minute) for hour in schedule.hour for minute in schedule.minute)
    for offset in range(0, 367):
        day = (local + timedelta(days=offset)).date()
        if (
            day.month not in schedule.month_of_year
            or day.day not in schedule.day_of_month
            or (day.weekday() + 1) % 7 not in schedule.day_of_week
        ):
            continue
        for hour, minute in times:
            candidate = datetime.combine(day, dt_time(hour, minute), tzinfo=tz)
            if candidate > local:
                return candidate.astimezone(UTC)
    return None


def _next_fire(task: Any, now: datetime) -> datetime | None:
    """When beat will next run this PeriodicTask (crontab or interval schedules), else None."""
    if task.one_off and task.total_run_count:
        return None
    if task.expires and task.expires <= now:
        return None
    start = task.start_time if task.start_time and task.start_time > now else now
    if task.crontab_id is not None:
        return _crontab_next(task.crontab.schedule, start)
    if task.interval_id is not None:
        every: timedelta = task.interval.schedule.run_every
        if every.total_seconds() <= 0:
            return None
        moment = (task.last_run_at or start) + every
        while moment < now:
            moment += every
        return max(moment, start)
    return None


def _kwargs(task: Any) -> dict[str, Any]:
    try:
        found = json.loads(task.kwargs or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def next_sync_runs(
    *, connections: Iterable[Connection], organization: Organization, now: datetime | None = None
) -> dict[int, tuple[datetime | None, str]]:
    """Per connection: the next time an enabled beat entry will sync it, and a note when none will."""
    from django_celery_beat.models import PeriodicTask

    now = now or timezone.now()
    tasks = list(
        PeriodicTask.objects.filter(
            enabled=True, task__in=[SYNC_ALL_TASK, SYNC_PLATFORM_TASK]
        ).select_related("crontab", "interval")
    )
    fires: list[tuple[datetime, str | None, str | None]] = []  # (when, platform or None, org slug or None)
    for task in tasks:
        kwargs = _kwargs(task)
        when = _next_fire(task, now)
        if when is None:
            continue
        platform = kwargs.get("platform") if task.task == SYNC_PLATFORM_TASK else None
        if task.task == SYNC_PLATFORM_TASK and not platform:
            continue
        fires.append((when, platform, kwargs.get("organization_slug")))

    result: dict[int, tuple[datetime | None, str]] = {}
    for connection in connections:
        if connection.status == Connection.Status.PAUSED:
            result[connection.pk] = (None, "Paused")
            continue
        if connection.status == Connection.Status.NEEDS_REAUTH:
            result[connection.pk] = (None, "After it is reconnected")
            continue
        candidates = [
            when
            for when, platform, slug in fires
            if (platform is None or platform == connection.platform)
            and (not slug or slug == organization.slug)
        ]
        result[connection.pk] = (min(candidates), "") if candidates else (None, "Not scheduled")
    return result


# --------------------------------------------------------------------------------------------
# Run history
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    run: SyncRun
    connection: Connection
    platform_name: str
    streams: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def rows_extracted(self) -> int:
        return self.run.rows_extracted

    @property
    def rows_loaded(self) -> int:
        return self.run.rows_loaded

    @property
    def rows_quarantined(self) -> int:
        return sum(int(v.get("quarantined", 0)) for v in self.run.rows.values() if isinstance(v, dict))

    @property
    def problem(self) -> str:
        return run_problem(self.run) if self.run.status == SyncRun.Status.FAILED else ""

    @property
    def in_flight(self) -> bool:
        return self.run.status in SyncRun.IN_FLIGHT


@dataclass(frozen=True)
class SyncHealth:
    organization: Organization
    connections: list[ConnectionOverview]
    runs: list[RunRow]
    connection_filter: Connection | None = None

    @property
    def any_in_flight(self) -> bool:
        return any(row.in_flight for row in self.runs)


def sync_run_history(
    *, organization: Organization, connection_id: int | None = None, limit: int = RUN_HISTORY_LIMIT
) -> list[RunRow]:
    runs = SyncRun.objects.filter(connection__organization_id=organization.pk).select_related("connection")
    if connection_id is not None:
        runs = runs.filter(connection_id=connection_id)
    return [
        RunRow(
            run=run,
            connection=run.connection,
            platform_name=platform_name(run.connection.platform),
            streams=sorted((k, v) for k, v in run.rows.items() if isinstance(v, dict)),
        )
        for run in runs.order_by("-created_at", "-pk")[:limit]
    ]


def sync_health_get(
    *, organization: Organization, connection_id: int | None = None, now: datetime | None = None
) -> SyncHealth:
    connections = overview_connections(organization=organization, now=now)
    selected = next((c.connection for c in connections if c.connection.pk == connection_id), None)
    return SyncHealth(
        organization=organization,
        connections=connections,
        runs=sync_run_history(organization=organization, connection_id=selected.pk if selected else None),
        connection_filter=selected,
    )

"""The health of every sync: each connection's state, its next scheduled run and the run history.

Nothing here is cached: a marketer checking whether a sync finished must see it at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from connectors.api_versions import VersionStatus, api_version_statuses
from connectors.models import Connection
from dashboard.ids import id_in_range
from dashboard.selectors.common import connection_list_for_organization, platform_name
from dashboard.selectors.quota import QuotaUsage, quota_usage_list
from dashboard.selectors.reconciliation import ReconciliationView, reconciliation_view
from dashboard.selectors.tokens import TokenHealth, token_health_list
from etl.lease import clock, stale_reason
from etl.models import SyncRun
from etl.selectors import sync_run_in_flight_for
from tenancy.models import Organization

if TYPE_CHECKING:
    from dashboard.selectors.liveness import Liveness

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


# --------------------------------------------------------------------------------------------
# A run in flight, in plain words
# --------------------------------------------------------------------------------------------

WAITING_PREFIX = re.compile(r"^Waiting until .*? UTC: ")


def time_ago(moment: datetime, now: datetime) -> str:
    """How long ago, as a status line says it: "12 s ago", "3 min ago", "2 h 5 min ago", "3 days ago"."""
    seconds = int((now - moment).total_seconds())
    if seconds < 1:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min ago" if minutes else f"{hours} h ago"
    days = hours // 24
    return f"{days} day{'s' if days != 1 else ''} ago"


@dataclass(frozen=True)
class LiveRun:
    """What a run in flight is doing, who runs it and whether it is alive, in words.

    ``stale`` is ``etl.lease.stale_reason`` at ``now`` (None while the run is alive): it is read
    once, because it may look at the owner process.
    """

    run: SyncRun
    now: datetime
    stale: str | None

    @property
    def step(self) -> str:
        """The step it is at, as the page names it: "Extracting", "Loading"."""
        return SyncRun.Step(self.run.step).label

    @property
    def step_label(self) -> str:
        return f"{self.step}…"

    @property
    def has_owner(self) -> bool:
        return bool(self.run.owner_pid)

    @property
    def owner(self) -> str:
        """Who runs its step now: a worker process, or nobody yet."""
        if not self.run.owner_pid:
            return "waiting for a worker"
        host = f" on {self.run.owner_host}" if self.run.owner_host else ""
        return f"process {self.run.owner_pid}{host}"

    @property
    def owner_detail(self) -> str:
        """The owner with its Celery task, for a tooltip."""
        if self.run.owner_task_id:
            return f"{self.owner}, task {self.run.owner_task_id}"
        return self.owner

    @property
    def last_sign_of_life(self) -> datetime:
        return self.run.heartbeat_at or self.run.created_at

    @property
    def heartbeat_ago(self) -> str:
        return time_ago(self.last_sign_of_life, self.now)

    @property
    def is_waiting(self) -> bool:
        """Waiting on purpose (a rate limit's reset, a retry's countdown) and not dead."""
        return self.stale is None and self.run.waiting_until is not None

    @property
    def waiting(self) -> str:
        """While it waits on purpose: "Waiting until 14:05 UTC: <why>"; else an empty string."""
        if not self.is_waiting or self.run.waiting_until is None:
            return ""
        # A retry's reason already says until when (etl/task_base.py): said once, with today's clock.
        reason = WAITING_PREFIX.sub("", self.run.waiting_reason.strip(), count=1)
        until = f"Waiting until {clock(self.run.waiting_until)}"
        return f"{until}: {reason}" if reason else until

    @property
    def is_stale(self) -> bool:
        return self.stale is not None

    @property
    def warning(self) -> str:
        """When it is dead: "No sign of life since 09:12 UTC: …"; an empty string while it is alive."""
        if self.stale is None:
            return ""
        return (
            f"No sign of life since {clock(self.last_sign_of_life)}: "
            "the next sync (or Sync now) takes it over."
        )

    @property
    def stale_detail(self) -> str:
        return f"{self.stale}." if self.stale else ""

    @property
    def badge(self) -> str:
        """The badge's modifier: ``waiting`` for a deliberate wait, else the run's status."""
        return "waiting" if self.is_waiting else str(self.run.status)

    @property
    def badge_label(self) -> str:
        return "Waiting" if self.is_waiting else self.run.get_status_display()

    @property
    def doing(self) -> str:
        """What it does now, in a sentence's middle: "extracting", "waiting until 14:05 UTC"."""
        if self.is_waiting and self.run.waiting_until is not None:
            return f"{self.step.lower()}, waiting until {clock(self.run.waiting_until)}"
        if self.run.status == SyncRun.Status.QUEUED:
            return "queued, waiting for a worker"
        return self.step.lower()

    @property
    def summary(self) -> str:
        """In a sentence's middle: "run 41, extracting, last heartbeat 12 s ago"."""
        return f"run {self.run.pk}, {self.doing}, last heartbeat {self.heartbeat_ago}"


def live_run(run: SyncRun | None, *, now: datetime | None = None) -> LiveRun | None:
    """The run in words if it is in flight; None for a finished run (or none)."""
    if run is None or run.status not in SyncRun.IN_FLIGHT:
        return None
    now = now or timezone.now()
    return LiveRun(run=run, now=now, stale=stale_reason(run, now=now))


def live_run_for_connection(*, connection_id: int, now: datetime | None = None) -> LiveRun | None:
    """The run holding the connection now, in words; None when nothing is in flight."""
    return live_run(sync_run_in_flight_for(connection_id=connection_id), now=now)


def sync_run_get_for_organization(*, organization: Organization, sync_run_id: int) -> SyncRun | None:
    """The run if its connection belongs to the organization; None otherwise."""
    if not id_in_range(sync_run_id):
        return None
    return (
        SyncRun.objects.filter(pk=sync_run_id, connection__organization_id=organization.pk)
        .select_related("connection")
        .first()
    )


def sync_run_taken_over_reason(*, sync_run_id: int) -> str | None:
    """Why the run was found dead and taken over by a new sync ("the process running this sync
    stopped at 09:12 UTC during extract"); None unless it ended that way."""
    run = SyncRun.objects.filter(
        pk=sync_run_id, status=SyncRun.Status.FAILED, error_class="Abandoned"
    ).first()
    if run is None:
        return None
    # etl.services.sync_runs_take_over_stale writes "<reason>; <what happens next>."
    reason = run.error_message.strip().removesuffix(".").rsplit("; ", 1)[0]
    return reason[:1].lower() + reason[1:] if reason else "it made no progress"


def run_step_note(run: SyncRun) -> str:
    """Where a run that ended early stopped: "while extracting"; empty for the others."""
    if run.status not in SyncRun.ENDED_UNSUCCESSFULLY or run.step == SyncRun.Step.DONE:
        return ""
    return f"while {SyncRun.Step(run.step).label.lower()}"


def run_cancel_note(run: SyncRun) -> str:
    """Why a cancelled run was cancelled (its message); empty for the others."""
    if run.status != SyncRun.Status.CANCELLED:
        return ""
    return run.error_message or "The sync was cancelled."


@dataclass(frozen=True)
class ConnectionOverview:
    connection: Connection
    platform_name: str
    latest_run: SyncRun | None
    next_run_at: datetime | None = None
    schedule_note: str = ""
    live: LiveRun | None = None  # the latest run, when it is in flight
    # In place of the next run when nothing will start or finish it (no scheduler, no worker).
    schedule_warning: str = ""

    @property
    def can_sync(self) -> bool:
        return self.connection.status in (Connection.Status.ACTIVE, Connection.Status.FAILING)

    @property
    def needs_reauth(self) -> bool:
        return self.connection.status == Connection.Status.NEEDS_REAUTH

    @property
    def problem(self) -> str:
        """The most useful plain-words explanation of what is wrong, or an empty string.

        A cancelled run is not a problem of the connection: its row says it was cancelled and why
        (``last_run_note``).
        """
        if self.connection.status_message and self.connection.status != Connection.Status.ACTIVE:
            return self.connection.status_message
        if self.latest_run is not None and self.latest_run.status == SyncRun.Status.FAILED:
            return run_problem(self.latest_run)
        if self.latest_run is not None and self.latest_run.status == SyncRun.Status.PARTIAL:
            return partial_problem(self.latest_run)
        return ""

    @property
    def last_run_note(self) -> str:
        """Why the latest run was cancelled, when it was."""
        return run_cancel_note(self.latest_run) if self.latest_run is not None else ""

    @property
    def last_run_step_note(self) -> str:
        """Where the latest run stopped, when it failed or was cancelled: "while extracting"."""
        return run_step_note(self.latest_run) if self.latest_run is not None else ""

    @property
    def last_run_rows(self) -> int | None:
        run = self.latest_run
        if run is None or run.status not in SyncRun.LOADED:
            return None
        return run.rows_loaded


def partial_problem(run: SyncRun) -> str:
    """What a partial run could not read, in words: the rest of its data was loaded."""
    failed = run.failed_streams
    reasons = "; ".join(f"{stream}: {reason}" for stream, reason in sorted(failed.items()))
    return (
        f"The last sync loaded everything but {', '.join(sorted(failed))} ({reasons}); "
        "it is tried again on the next sync."
    )


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
    *, organization: Organization, now: datetime | None = None, liveness: Liveness | None = None
) -> list[ConnectionOverview]:
    connections = list(connection_list_for_organization(organization=organization))
    latest = latest_run_per_connection(connection_ids=[c.pk for c in connections])
    next_runs = next_sync_runs(connections=connections, organization=organization, now=now)
    moment = now or timezone.now()
    items = []
    for connection in connections:
        next_at, note = next_runs.get(connection.pk, (None, "Not scheduled"))
        run = latest.get(connection.pk)
        items.append(
            ConnectionOverview(
                connection=connection,
                platform_name=platform_name(connection.platform),
                latest_run=run,
                next_run_at=next_at,
                schedule_note=note,
                live=live_run(run, now=moment),
                schedule_warning=(
                    liveness.run_warning(connection.platform) if liveness and next_at is not None else ""
                ),
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
    live: LiveRun | None = None  # set while the run is in flight

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
    def note(self) -> str:
        """Why a cancelled run was cancelled; it is a note, not a problem."""
        return run_cancel_note(self.run)

    @property
    def step_note(self) -> str:
        """Where a failed or cancelled run stopped: "while extracting"."""
        return run_step_note(self.run)

    @property
    def in_flight(self) -> bool:
        return self.run.status in SyncRun.IN_FLIGHT

    @property
    def totals(self) -> ReconciliationView:
        """The platform's totals for the run's window beside the warehouse's (after the load)."""
        return reconciliation_view(self.run)


@dataclass(frozen=True)
class SyncHealth:
    organization: Organization
    connections: list[ConnectionOverview]
    runs: list[RunRow]
    connection_filter: Connection | None = None
    api_versions: list[VersionStatus] = field(default_factory=list)
    tokens: list[TokenHealth] = field(default_factory=list)  # each connection's authorization
    liveness: Liveness | None = None  # the scheduler's and the workers' signs of life
    quotas: list[QuotaUsage] = field(default_factory=list)  # daily API budgets: spent / budget

    @property
    def token_warnings(self) -> list[TokenHealth]:
        """The connections whose authorization ends within TOKEN_EXPIRY_WARNING_DAYS."""
        return [health for health in self.tokens if health.ending]

    @property
    def api_version_warnings(self) -> list[str]:
        """Warnings about the API versions of the platforms this organization has connected."""
        connected = {c.connection.platform for c in self.connections}
        return [v.warning for v in self.api_versions if v.warning and v.platform in connected]

    @property
    def any_in_flight(self) -> bool:
        return any(row.in_flight for row in self.runs)


def sync_run_history(
    *,
    organization: Organization,
    connection_id: int | None = None,
    limit: int = RUN_HISTORY_LIMIT,
    now: datetime | None = None,
) -> list[RunRow]:
    runs = SyncRun.objects.filter(connection__organization_id=organization.pk).select_related("connection")
    if connection_id is not None:
        runs = runs.filter(connection_id=connection_id)
    moment = now or timezone.now()
    return [
        RunRow(
            run=run,
            connection=run.connection,
            platform_name=platform_name(run.connection.platform),
            streams=sorted((k, v) for k, v in run.rows.items() if isinstance(v, dict)),
            live=live_run(run, now=moment),
        )
        for run in runs.order_by("-created_at", "-pk")[:limit]
    ]


def sync_health_get(
    *, organization: Organization, connection_id: int | None = None, now: datetime | None = None
) -> SyncHealth:
    from dashboard.selectors.liveness import liveness_get

    liveness = liveness_get(now=now)
    connections = overview_connections(organization=organization, now=now, liveness=liveness)
    selected = next((c.connection for c in connections if c.connection.pk == connection_id), None)
    return SyncHealth(
        organization=organization,
        connections=connections,
        runs=sync_run_history(
            organization=organization, connection_id=selected.pk if selected else None, now=now
        ),
        connection_filter=selected,
        api_versions=api_version_statuses(today=(now or timezone.now()).date()),
        tokens=token_health_list([c.connection for c in connections], now=now),
        liveness=liveness,
        quotas=quota_usage_list([c.connection for c in connections], now=now),
    )

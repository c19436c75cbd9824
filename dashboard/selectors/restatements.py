"""What re-reads changed (the restatement log), and which days are still settling.

A day is *settling* while a re-read changed one of its figures by more than the metric's relative
threshold (``RESTATEMENT_SETTLING_THRESHOLD``, per metric ``RESTATEMENT_SETTLING_THRESHOLDS``)
within the last ``RESTATEMENT_SETTLING_HOURS``, and the day is still inside its connection's re-read
window; otherwise it is *settled*. What is marked is the figure shown: a campaign's day on its page,
a platform's day in the overview.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Min, QuerySet
from django.utils import timezone

from connectors.models import Connection
from connectors.registry import UnknownPlatform, get_connector_class
from dashboard.selectors.common import platform_name
from etl.models import AdPerformanceDaily, RestatementBatch
from etl.restatement_log import RestatementEntry, batch_entries, restatement_batch_sums, restatement_entries
from tenancy.models import Organization

AD_DATASET = "ad_performance_daily"
ENGAGEMENT_DATASET = "abm_engagement_daily"
LOGGED_DATASETS = (AD_DATASET, ENGAGEMENT_DATASET)
RECENT_CHANGES_LIMIT = 50
LAG_READ_CHUNK = 200  # batches read at a time while looking for a connection's latest significant change
MONEY_METRICS = frozenset({"spend", "conversion_value"})
METRIC_LABELS = {
    "conversion_value": "conversion value",
    "view_through_conversions": "view-through conversions",
}


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def figure(value: Decimal | None, metric: str) -> str:
    """A logged figure in words: money with cents, counts without trailing zeros, a gone row "none"."""
    if value is None:
        return "none"
    if metric in MONEY_METRICS:
        return f"{value:,.2f}"
    normal = value.normalize()
    return f"{normal:,.0f}" if normal == normal.to_integral_value() else f"{normal:,f}"


def threshold(metric: str) -> float:
    return float(
        settings.RESTATEMENT_SETTLING_THRESHOLDS.get(metric, settings.RESTATEMENT_SETTLING_THRESHOLD)
    )


def is_significant_change(metric: str, old: Decimal | None, new: Decimal | None) -> bool:
    """A change beyond its metric's relative threshold (a figure that appeared or went always is)."""
    if old is None or new is None:
        return True
    return abs(new - old) > abs(old) * Decimal(str(threshold(metric)))


def is_significant(entry: RestatementEntry) -> bool:
    return is_significant_change(entry.metric, entry.old, entry.new)


def significant(entries: Iterable[RestatementEntry]) -> Iterator[RestatementEntry]:
    return (entry for entry in entries if is_significant(entry))


def utc_date(moment: datetime) -> date:
    """The UTC calendar day of a moment (the day a re-read ran, as the log's lags count it)."""
    return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()


def restatement_window_days(connection: Connection) -> int:
    """The days the connection re-reads every sync (its own setting, else the platform's; capped)."""
    try:
        connector = get_connector_class(connection.platform)
    except UnknownPlatform:
        return int(connection.restatement_days or 0)
    days = connection.restatement_days or connector.restatement_days()
    if connector.max_restatement_days:
        days = min(days, connector.max_restatement_days)
    return max(1, days)


# --------------------------------------------------------------------------------------------
# Settling days
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settling:
    """The organization's settling days, at each level a page marks them."""

    records: frozenset[tuple[int, str, date]] = frozenset()  # (connection, record id, day)
    platform_days: frozenset[tuple[str, date]] = frozenset()

    def day(self, day: date, platforms: Iterable[str] | None = None) -> bool:
        wanted = None if platforms is None else set(platforms)
        return any(d == day and (wanted is None or p in wanted) for p, d in self.platform_days)

    def platform(self, platform: str, start: date, end: date) -> bool:
        return any(p == platform and start <= d <= end for p, d in self.platform_days)

    def record(self, connection_id: int, record_id: str, start: date, end: date) -> bool:
        return any(c == connection_id and r == record_id and start <= d <= end for c, r, d in self.records)

    def record_day(self, connection_id: int, record_id: str, day: date) -> bool:
        return (connection_id, record_id, day) in self.records

    @property
    def platforms(self) -> list[str]:
        return sorted({p for p, _ in self.platform_days})

    def days_of(self, platform: str) -> list[date]:
        return sorted(d for p, d in self.platform_days if p == platform)


@dataclass(frozen=True)
class SettlingNote:
    """One platform's settling days in the period, for the note above a page's figures."""

    platform: str
    platform_name: str
    days: list[date]

    DAYS_NAMED = 8

    @property
    def hours(self) -> int:
        return int(settings.RESTATEMENT_SETTLING_HOURS)

    @property
    def days_text(self) -> str:
        """ "3 Dec", "3 Dec and 4 Dec", "1 Dec, 2 Dec, ... and 4 more days"."""
        named = [f"{d.day} {d:%b}" for d in self.days[: self.DAYS_NAMED]]
        rest = len(self.days) - len(named)
        if rest:
            return f"{', '.join(named)} and {rest} more day{'s' if rest > 1 else ''}"
        return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"


def settling_get(*, organization: Organization, dataset: str, now: datetime | None = None) -> Settling:
    """The days a recent re-read changed beyond the threshold, inside their connection's window."""
    now = now or timezone.now()
    since = now - timedelta(hours=settings.RESTATEMENT_SETTLING_HOURS)
    connections = {c.pk: c for c in Connection.objects.filter(organization_id=organization.pk)}
    window_start = {
        pk: now.date() - timedelta(days=restatement_window_days(c) - 1) for pk, c in connections.items()
    }
    if not window_start:
        return Settling()
    batches = RestatementBatch.objects.filter(
        organization_id=organization.pk,
        dataset=dataset,
        changed_at__gte=since,
        day__gte=min(window_start.values()),
    )
    records, platform_days = set(), set()
    for entry in significant(restatement_entries(batches)):
        if entry.connection_id in window_start and entry.day >= window_start[entry.connection_id]:
            records.add((entry.connection_id, entry.record_id, entry.day))
            platform_days.add((entry.platform, entry.day))
    return Settling(frozenset(records), frozenset(platform_days))


def settling_notes(settling: Settling, start: date, end: date) -> list[SettlingNote]:
    notes = []
    for platform in settling.platforms:
        days = [d for d in settling.days_of(platform) if start <= d <= end]
        if days:
            notes.append(SettlingNote(platform, platform_name(platform), days))
    return notes


# --------------------------------------------------------------------------------------------
# The changes, in words
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeLine:
    platform: str
    platform_name: str
    connection_id: int
    dataset: str
    record_id: str
    record_name: str
    day: date
    metric: str
    old_value: Decimal | None
    new_value: Decimal | None
    sync_run_id: int
    changed_at: datetime

    @property
    def metric_label(self) -> str:
        return metric_label(self.metric)

    @property
    def old(self) -> str:
        return figure(self.old_value, self.metric)

    @property
    def new(self) -> str:
        return figure(self.new_value, self.metric)

    @property
    def gone(self) -> bool:
        return self.new_value is None

    @property
    def days_after(self) -> int:
        return (timezone.localtime(self.changed_at).date() - self.day).days

    @property
    def record_label(self) -> str:
        return self.record_name or self.record_id

    @property
    def sentence(self) -> str:
        """ "LinkedIn Ads conversions for 3 Dec: 41 → 47, changed by the sync of 5 Dec 08:00"."""
        when = timezone.localtime(self.changed_at)
        new = "none (no longer reported)" if self.gone else self.new
        return (
            f"{self.platform_name} {self.metric_label} for {self.day.day} {self.day:%b}: {self.old} → {new}, "
            f"changed by the sync of {when.day} {when:%b %H:%M}"
        )


def _record_names(changes: list[RestatementEntry]) -> dict[tuple[int, str], str]:
    """Each changed campaign's name (its latest day's); other records go by their id."""
    wanted = {(c.connection_id, c.record_id) for c in changes if c.dataset == AD_DATASET}
    if not wanted:
        return {}
    rows = (
        AdPerformanceDaily.objects.filter(
            connection_id__in={c for c, _ in wanted}, campaign_id__in={r for _, r in wanted}
        )
        .order_by("connection_id", "campaign_id", "-date")
        .values_list("connection_id", "campaign_id", "campaign_name")
    )
    names: dict[tuple[int, str], str] = {}
    for connection_id, campaign_id, name in rows:
        names.setdefault((connection_id, campaign_id), name or "")
    return names


def restatement_changes(
    *,
    organization: Organization,
    connection_id: int | None = None,
    dataset: str | None = None,
    record_id: str | None = None,
    since: date | None = None,
    limit: int | None = RECENT_CHANGES_LIMIT,
) -> list[ChangeLine]:
    """The organization's logged changes, newest first (one connection's, one record's if given)."""
    batches = RestatementBatch.objects.filter(organization_id=organization.pk)
    if connection_id is not None:
        batches = batches.filter(connection_id=connection_id)
    if dataset is not None:
        batches = batches.filter(dataset=dataset)
    if since is not None:
        batches = batches.filter(day__gte=since)
    if record_id is not None:  # the batches whose arrays name the record (exactly: after exploding)
        batches = batches.filter(record_ids__contains=json.dumps(record_id, ensure_ascii=False))
    found = _newest(batches.order_by("-changed_at", "pk"), record_id=record_id, limit=limit)
    names = _record_names(found)
    return [
        ChangeLine(
            platform=c.platform,
            platform_name=platform_name(c.platform),
            connection_id=c.connection_id,
            dataset=c.dataset,
            record_id=c.record_id,
            record_name=names.get((c.connection_id, c.record_id), ""),
            day=c.day,
            metric=c.metric,
            old_value=c.old,
            new_value=c.new,
            sync_run_id=c.sync_run_id,
            changed_at=c.changed_at,
        )
        for c in found
    ]


def _newest(
    batches: QuerySet[RestatementBatch], *, record_id: str | None, limit: int | None
) -> list[RestatementEntry]:
    """The first ``limit`` entries (one record's if given) in the order the pages list changes:
    newest first, then by platform, record, latest day, metric. Batches come newest first, so the
    reading stops after the first moment that completes the count."""
    found: list[RestatementEntry] = []
    for entry in restatement_entries(batches):
        if limit is not None and len(found) >= limit and entry.changed_at < found[-1].changed_at:
            break
        if record_id is None or entry.record_id == record_id:
            found.append(entry)
    found.sort(key=lambda e: (e.platform, e.record_id, -e.day.toordinal(), e.metric))
    found.sort(key=lambda e: e.changed_at, reverse=True)
    return found if limit is None else found[:limit]


# --------------------------------------------------------------------------------------------
# How much re-reads moved the numbers, and how late
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricMovement:
    metric: str
    changes: int
    net: Decimal  # the sum of new - old (a figure that went counts as its old value, removed)
    before: Decimal | None  # the sum of the old values that changed

    @property
    def label(self) -> str:
        return metric_label(self.metric)

    @property
    def net_text(self) -> str:
        sign = "+" if self.net > 0 else ("−" if self.net < 0 else "±")
        return f"{sign}{figure(abs(self.net), self.metric)}"

    @property
    def percent(self) -> Decimal | None:
        """The net change as a share of the figures it changed; None when they added up to nothing."""
        if not self.before:
            return None
        return self.net * 100 / abs(self.before)


@dataclass(frozen=True)
class PlatformMovement:
    platform: str
    platform_name: str
    changes: int
    days: int  # distinct days changed
    latest_lag: int  # the most days after the fact a re-read still changed something
    metrics: list[MetricMovement] = field(default_factory=list)
    lags: dict[int, int] = field(default_factory=dict)  # days after the fact -> changes

    @property
    def lag_share_within_week(self) -> Decimal | None:
        total = sum(self.lags.values())
        if not total:
            return None
        return Decimal(sum(n for lag, n in self.lags.items() if lag <= 7) * 100) / total


def restatement_movement(
    *, organization: Organization, now: datetime | None = None, lookback_days: int | None = None
) -> list[PlatformMovement]:
    """Per platform, over the last ``RESTATEMENT_LOOKBACK_DAYS``: how many figures re-reads changed,
    by how much in all per metric, and how many days after the fact they still changed them."""
    now = now or timezone.now()
    lookback = lookback_days or settings.RESTATEMENT_LOOKBACK_DAYS
    batches = RestatementBatch.objects.filter(
        organization_id=organization.pk, changed_at__gte=now - timedelta(days=lookback)
    )
    counts: dict[tuple[str, str], int] = defaultdict(int)
    new_sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    old_sums: dict[tuple[str, str], Decimal | None] = defaultdict(lambda: None)
    lags: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    days: dict[str, set[date]] = defaultdict(set)
    # A batch is one run's changes of one metric on one day: its figures share their lag.
    for batch in restatement_batch_sums(batches):
        key = (batch.platform, batch.metric)
        counts[key] += batch.entries
        if batch.new_sum is not None:
            new_sums[key] += batch.new_sum
        if batch.old_sum is not None:
            old_sums[key] = (old_sums[key] or Decimal(0)) + batch.old_sum
        lags[batch.platform][(utc_date(batch.changed_at) - batch.day).days] += batch.entries
        days[batch.platform].add(batch.day)
    metrics: dict[str, list[MetricMovement]] = defaultdict(list)
    for platform, metric in sorted(counts):
        old = old_sums[(platform, metric)]
        net = new_sums[(platform, metric)] - (old or Decimal(0))
        metrics[platform].append(MetricMovement(metric, counts[(platform, metric)], net, old))
    return [
        PlatformMovement(
            platform=platform,
            platform_name=platform_name(platform),
            changes=sum(m.changes for m in metrics[platform]),
            days=len(days[platform]),
            latest_lag=max(lags[platform], default=0),
            metrics=metrics[platform],
            lags=dict(sorted(lags[platform].items())),
        )
        for platform in sorted(metrics)
    ]


# --------------------------------------------------------------------------------------------
# A connection's re-read window, measured
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowAdvice:
    """How far back re-reads of one connection still changed something, and the window it suggests."""

    connection: Connection
    platform_name: str
    current_days: int
    observed_lag: int | None  # None: no re-read changed anything beyond the threshold
    history_days: int  # how many days of re-reads the log covers for this connection
    minimum_days: int
    minimum_source: str
    suggested_days: int | None  # None: not enough history to suggest anything

    @property
    def offers_change(self) -> bool:
        return self.suggested_days is not None and self.suggested_days != self.current_days

    @property
    def evidence_days(self) -> int:
        return int(settings.RESTATEMENT_EVIDENCE_DAYS)

    @property
    def enough_history(self) -> bool:
        return self.history_days >= self.evidence_days


def latest_significant_lag(batches: QuerySet[RestatementBatch]) -> dict[int, int]:
    """Per connection, the most days after the fact at which one of ``batches`` changed a figure
    beyond its threshold. A batch's figures share their lag, so each connection's batches are read
    latest first and the first one with a significant change decides: the records of the rest are
    not read."""
    heads = batches.values_list("pk", "connection_id", "day", "changed_at")
    latest_first: dict[int, list[tuple[int, int]]] = defaultdict(list)  # connection -> [(lag, batch)]
    for pk, connection_id, day, changed_at in heads:
        latest_first[connection_id].append(((utc_date(changed_at) - day).days, pk))
    found: dict[int, int] = {}
    for connection_id, lagged in latest_first.items():
        lagged.sort(reverse=True)
        for start in range(0, len(lagged), LAG_READ_CHUNK):
            chunk = lagged[start : start + LAG_READ_CHUNK]
            read = RestatementBatch.objects.in_bulk([pk for _, pk in chunk])
            late = next(
                (
                    lag
                    for lag, pk in chunk
                    if any(
                        is_significant_change(read[pk].metric, old, new)
                        for _, old, new in batch_entries(read[pk])
                    )
                ),
                None,
            )
            if late is not None:
                found[connection_id] = late
                break
    return found


def window_advice(*, organization: Organization, now: datetime | None = None) -> list[WindowAdvice]:
    """Per connection whose platform writes a logged table: the longest delay (days after the fact)
    at which a re-read changed a figure beyond its threshold in the last ``RESTATEMENT_LOOKBACK_DAYS``,
    and the window that covers it, never below the platform's documented minimum nor above its cap
    or the retention. Suggested only once ``RESTATEMENT_EVIDENCE_DAYS`` of re-reads are on record."""
    from etl.models import SyncRun

    now = now or timezone.now()
    since = now - timedelta(days=settings.RESTATEMENT_LOOKBACK_DAYS)
    connections = list(Connection.objects.filter(organization_id=organization.pk).order_by("platform", "pk"))
    lag = latest_significant_lag(
        RestatementBatch.objects.filter(organization_id=organization.pk, changed_at__gte=since)
    )
    first_at = dict(
        SyncRun.objects.filter(
            connection__organization_id=organization.pk, status__in=SyncRun.LOADED, is_backfill=False
        )
        .values("connection_id")
        .annotate(first=Min("created_at"))
        .values_list("connection_id", "first")
    )
    advice = []
    for connection in connections:
        try:
            connector = get_connector_class(connection.platform)
        except UnknownPlatform:
            continue
        if not any(s.dataset in LOGGED_DATASETS for s in connector.streams):
            continue
        current = restatement_window_days(connection)
        started = first_at.get(connection.pk)
        history = 0 if started is None else max(0, (now - started).days)
        observed = lag.get(connection.pk)
        cap = min(connector.max_restatement_days or settings.RETENTION_DAYS, settings.RETENTION_DAYS)
        suggested = None
        if history >= settings.RESTATEMENT_EVIDENCE_DAYS:
            suggested = min(cap, max(connector.min_restatement_days, (observed or 0) + 1))
        advice.append(
            WindowAdvice(
                connection=connection,
                platform_name=platform_name(connection.platform),
                current_days=current,
                observed_lag=observed,
                history_days=history,
                minimum_days=connector.min_restatement_days,
                minimum_source=connector.min_restatement_source,
                suggested_days=suggested,
            )
        )
    return advice


@dataclass(frozen=True)
class RestatementReport:
    """Sync health's account of re-reads: what they changed lately, by how much, and how late."""

    changes: list[ChangeLine]
    movement: list[PlatformMovement]
    windows: list[WindowAdvice]
    lookback_days: int
    settling_hours: int

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)


def restatement_report(*, organization: Organization, connection_id: int | None = None) -> RestatementReport:
    return RestatementReport(
        changes=restatement_changes(organization=organization, connection_id=connection_id),
        movement=restatement_movement(organization=organization),
        windows=window_advice(organization=organization),
        lookback_days=settings.RESTATEMENT_LOOKBACK_DAYS,
        settling_hours=settings.RESTATEMENT_SETTLING_HOURS,
    )

"""History past the retention: settled days folded into daily aggregates before their raw rows go.

Retention removes raw rows older than ``RETENTION_DAYS``. Before it does, each day of a daily table
about to go is folded into that table's history (``warehouse_*_history_daily``, etl/models.py), one
connection and one day at a time, and the day's raw rows are deleted in the same short transaction:
a day is in the raw table or in its history, never in both and never in neither, and folding a day
again (a retried prune, the daily clean-up racing a sync's prune) replaces it rather than adding to
it.

Only settled days are folded. A later sync can re-read (and so restate) a day only inside its
window, and ``etl.services.sync_window_for`` never reaches before the retention start, whatever a
platform's or a connection's re-read window says (a first sync's backfill included): every day
before the retention start is past every re-read and settled. ``settled_before`` says so in one
place, so the fold cannot drift from the window.

Figures missing from raw rows stay missing: a sum is NULL when no folded row reported the figure,
and ``rows_missing_*`` counts the rows that did not, so a partly missing sum is flagged, not
completed with zeros. The per-platform daily figures are not a table of their own: they are the
per-campaign table grouped by platform, day and currency (a few thousand rows a day at most).

Leads and deals are records, not daily figures: the CRM keeps them and every sync reads the ones
modified in its window, so they are not folded (see docs/warehouse.md).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from etl.data_version import data_version_bump
from etl.models import (
    AbmEngagementDaily,
    AbmEngagementHistoryDaily,
    AdCampaignHistoryDaily,
    AdPerformanceDaily,
    EmailCampaign,
    EmailHistoryDaily,
    WarehouseRow,
)

_SYSTEM = ("organization_id", "platform")


def settled_before(retention_start: date) -> date:
    """The first day a sync from now on may still re-read; every day before it is settled.

    ``sync_window_for`` starts every window at the retention start or later (the first sync's
    backfill and a partial run's reach-back included), whatever the re-read window: so the days
    settled are exactly those that retention removes.
    """
    return retention_start


def history_start(today: date) -> date:
    """The oldest day the history keeps: HISTORY_RETENTION_MONTHS calendar months before today."""
    return months_before(today, int(settings.HISTORY_RETENTION_MONTHS))


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter)."""
    year, month_index = divmod(day.year * 12 + day.month - 1 - months, 12)
    last_day = calendar.monthrange(year, month_index + 1)[1]
    return date(year, month_index + 1, min(day.day, last_day))


@dataclass(frozen=True)
class Fold:
    """How one daily table folds into its history table."""

    raw: type[WarehouseRow]
    history: type[WarehouseRow]
    # The raw rows of one connection's day (the day column or the day of a timestamp).
    day_filter: Callable[[date], dict[str, Any]]
    # The distinct days of raw rows older than a cutoff, as an expression and a filter.
    day_expression: Any
    older_than: Callable[[date], dict[str, Any]]
    # The history rows of one connection's day, from its raw rows.
    rows: Callable[[models.QuerySet[Any], date], list[dict[str, Any]]]


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _ad_rows(raw: models.QuerySet[Any], day: date) -> list[dict[str, Any]]:
    columns = (
        "organization_id", "platform", "sync_run_id", "synced_at", "account_id", "account_name",
        "campaign_id", "campaign_name", "campaign_status", "date", "currency", "impressions",
        "clicks", "spend", "conversions", "conversion_value",
    )  # fmt: skip
    return list(raw.values(*columns))


def _summed(
    raw: models.QuerySet[Any], day: date, *, count_as: str, sums: tuple[str, ...], missing: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One row for the connection's day: the sums (NULL when no row has the figure), the row count,
    and per flagged figure how many rows lack it."""
    aggregates: dict[str, Any] = {
        count_as: Count("pk"),
        "sync_run_id": Max("sync_run_id"),
        "synced_at": Max("synced_at"),
        **{f"sum_{name}": Sum(name) for name in sums},
        **{f"has_{name}": Count(name) for name in missing},
    }
    rows = []
    for total in raw.values(*_SYSTEM).annotate(**aggregates).order_by():
        row = {name: total[name] for name in (*_SYSTEM, count_as, "sync_run_id", "synced_at")}
        row.update({name: total[f"sum_{name}"] for name in sums})
        row.update({f"rows_missing_{name}": total[count_as] - total[f"has_{name}"] for name in missing})
        rows.append({**row, "date": day})
    return rows


def _email_rows(raw: models.QuerySet[Any], day: date) -> list[dict[str, Any]]:
    return _summed(
        raw,
        day,
        count_as="campaigns",
        sums=("emails_sent", "opens", "unique_opens", "clicks", "unique_clicks", "bounces", "unsubscribes"),
        missing=("emails_sent", "unique_opens", "unique_clicks"),
    )


def _engagement_rows(raw: models.QuerySet[Any], day: date) -> list[dict[str, Any]]:
    return _summed(
        raw,
        day,
        count_as="accounts",
        sums=("engagement_minutes", "engagement_points", "page_views", "people_researching"),
        missing=("engagement_minutes", "engagement_points", "page_views"),
    )


FOLDS: dict[str, Fold] = {
    "ad_performance_daily": Fold(
        raw=AdPerformanceDaily,
        history=AdCampaignHistoryDaily,
        day_filter=lambda day: {"date": day},
        day_expression=models.F("date"),
        older_than=lambda cutoff: {"date__lt": cutoff},
        rows=_ad_rows,
    ),
    # Campaigns by the day they were sent (UTC), as retention prunes them (by send time).
    "email_campaign": Fold(
        raw=EmailCampaign,
        history=EmailHistoryDaily,
        day_filter=lambda day: {
            "send_time__gte": _utc_midnight(day),
            "send_time__lt": _utc_midnight(day + timedelta(days=1)),
        },
        day_expression=TruncDate("send_time", tzinfo=UTC),
        older_than=lambda cutoff: {"send_time__lt": _utc_midnight(cutoff)},
        rows=_email_rows,
    ),
    "abm_engagement_daily": Fold(
        raw=AbmEngagementDaily,
        history=AbmEngagementHistoryDaily,
        day_filter=lambda day: {"date": day},
        day_expression=models.F("date"),
        older_than=lambda cutoff: {"date__lt": cutoff},
        rows=_engagement_rows,
    ),
}


def days_to_fold(fold: Fold, *, cutoff: date, connection_id: int | None = None) -> list[tuple[int, date]]:
    """The (connection, day) pairs with raw rows before ``cutoff``, oldest first."""
    raw = fold.raw._default_manager.filter(**fold.older_than(cutoff))
    if connection_id is not None:
        raw = raw.filter(connection_id=connection_id)
    pairs = raw.annotate(fold_day=fold.day_expression).values_list("connection_id", "fold_day").distinct()
    return sorted({(int(c), d) for c, d in pairs}, key=lambda pair: (pair[1], pair[0]))


def fold_day(fold: Fold, *, connection_id: int, day: date, folded_at: datetime | None = None) -> int:
    """Fold one connection's day into its history and delete its raw rows, in one transaction.

    Returns the raw rows removed. The day's raw rows are locked first, so of two folds of the same
    day (the daily clean-up and a sync's prune) the second finds them gone and does nothing.
    """
    folded_at = folded_at or timezone.now()
    with transaction.atomic():
        raw = fold.raw._default_manager.filter(connection_id=connection_id, **fold.day_filter(day))
        if not list(raw.select_for_update().values_list("pk", flat=True)):
            return 0
        rows = fold.rows(raw, day)
        fold.history._default_manager.filter(connection_id=connection_id, **{"date": day}).delete()
        fold.history._default_manager.bulk_create(
            fold.history(**{**row, "connection_id": connection_id, "folded_at": folded_at}) for row in rows
        )
        removed = int(raw.delete()[0])
        # The pages read the day from the history now (and what the warehouse reaches back to).
        for organization_id in {row["organization_id"] for row in rows}:
            transaction.on_commit(partial(data_version_bump, organization_id))
        return removed


def history_fold(dataset: str, *, retention_start: date, connection_id: int | None = None) -> int:
    """Fold every settled day of a daily table older than the retention start into its history,
    removing the day's raw rows with it; returns the raw rows removed (0 for other tables)."""
    fold = FOLDS.get(dataset)
    if fold is None:
        return 0
    cutoff = settled_before(retention_start)
    folded_at = timezone.now()
    return sum(
        fold_day(fold, connection_id=connection, day=day, folded_at=folded_at)
        for connection, day in days_to_fold(fold, cutoff=cutoff, connection_id=connection_id)
    )


def history_prune(*, today: date) -> int:
    """Remove history older than HISTORY_RETENTION_MONTHS; returns the rows removed."""
    oldest = history_start(today)
    removed = 0
    for fold in FOLDS.values():
        removed += fold.history._default_manager.filter(**{"date__lt": oldest}).delete()[0]
    return removed

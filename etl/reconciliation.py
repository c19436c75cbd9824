"""Reconciliation: after a load, the totals the platform itself reports for the sync's window beside
the warehouse's sums of the same rows.

Each connector declares what its platform reports (``BaseConnector.platform_totals``: an
account-level or un-pivoted query, a report list's own count) or why it reports nothing
independent (``TotalsNotCompared``); this module sums the warehouse side generically, for the
run's connection, over the same days and, for money, per currency, and records the comparison on
the run (``reconciliation_status`` and ``reconciliation``). A difference beyond rounding marks the
run "loaded, totals differ"; its data stays loaded. A totals query that fails is noted as "could
not be compared" and never fails the sync.

The compared days are the run's window up to two days before the sync's own day: the days after
that may still be in progress in the account's time zone (UTC-12 to UTC+14), and their figures move
by the minute between the read and the check.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Any

from django.db import connection as db

from connectors.base import BaseConnector, PlatformTotal, TotalsNotCompared, Window
from connectors.errors import ConnectorError
from connectors.redaction import redact
from connectors.services import connector_for
from etl.models import Reconciliation, SyncRun
from etl.schema import Dataset, get_dataset

logger = logging.getLogger(__name__)

# Days at the end of a sync's window left out of the comparison (still in progress somewhere).
DAYS_IN_PROGRESS = 2
# Money agrees to the cent; fractional counts (conversions) to a hundredth or a millionth of the
# total, whichever is larger; whole numbers (impressions, clicks, rows) exactly.
MONEY_COLUMNS = frozenset({"spend", "conversion_value", "amount"})
CENT = Decimal("0.01")
WAREHOUSE_SCALE = Decimal("0.000001")  # numeric(20, 6), the warehouse's decimal columns
RELATIVE_EPSILON = Decimal("0.000001")


@dataclass(frozen=True)
class Figure:
    """One total side by side: the platform's, the warehouse's, and whether they agree."""

    dataset: str
    metric: str
    currency: str | None
    platform: Decimal
    warehouse: Decimal
    without: int  # warehouse rows of the window that have no value for the metric (NULL, not 0)
    scope: str

    @property
    def difference(self) -> Decimal:
        return self.warehouse - self.platform

    @property
    def agrees(self) -> bool:
        return within_rounding(self.metric, self.platform, self.warehouse)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "metric": self.metric,
            "currency": self.currency,
            "platform": _text(self.platform),
            "warehouse": _text(self.warehouse),
            "difference": _text(self.difference),
            "agrees": self.agrees,
            "without": self.without,
            "scope": self.scope,
        }


def within_rounding(metric: str, platform: Decimal, warehouse: Decimal) -> bool:
    """Whether two totals of ``metric`` are equal but for rounding (see the tolerances above)."""
    difference = abs(warehouse - platform)
    if metric in MONEY_COLUMNS:
        return difference < CENT
    if platform == platform.to_integral_value() and warehouse == warehouse.to_integral_value():
        return difference == 0
    return difference <= max(CENT, abs(platform) * RELATIVE_EPSILON)


def compared_window(run: SyncRun) -> Window | None:
    """The run's window without the days that may still be in progress; None when nothing is left."""
    sync_day = (run.started_at or run.created_at).astimezone(UTC).date()
    end = min(run.window_end, sync_day - timedelta(days=DAYS_IN_PROGRESS))
    return Window(run.window_start, end) if end >= run.window_start else None


def sync_run_reconcile(run: SyncRun, connector: BaseConnector | None = None) -> str:
    """Compare the platform's totals for a loaded run's window with the warehouse; record the outcome
    on the run and return it. Never raises for the platform's sake: a failed totals query is the
    outcome "could not be compared", with its reason."""
    started = time.monotonic()
    window = compared_window(run)
    record: dict[str, Any] = {}
    try:
        if window is None:
            raise TotalsNotCompared(
                f"the window holds only days still in progress (the last {DAYS_IN_PROGRESS} are not compared)"
            )
        record["window"] = {"start": window.start.isoformat(), "end": window.end.isoformat()}
        connector = connector or connector_for(run.connection, state=run.state, sync_key=f"sync-{run.pk}")
        figures = [_figure(run, total, window) for total in connector.platform_totals(window)]
        figures += _unreported_currencies(run, figures, window)
        record["figures"] = [figure.as_dict() for figure in figures]
        record["explanations"] = explanations(run, figures)
        # A metric some rows lack (NULL, not 0) is shown but decides nothing: its sum cannot be whole.
        differs = any(not f.agrees and not f.without for f in figures)
        status = Reconciliation.DIFFER if differs else Reconciliation.EQUAL
    except TotalsNotCompared as exc:
        status, record["reason"] = Reconciliation.NOT_COMPARED, str(exc)
    except ConnectorError as exc:
        status, record["reason"] = Reconciliation.FAILED, redact(exc.message)
    except Exception as exc:  # the check must never fail the sync it checks
        logger.warning("sync.reconcile_failed", extra={"sync_run_id": run.pk, "error": type(exc).__name__})
        status, record["reason"] = Reconciliation.FAILED, redact(f"{type(exc).__name__}: {exc}")[:500]
    record["seconds"] = round(time.monotonic() - started, 3)
    SyncRun.objects.filter(pk=run.pk).update(reconciliation_status=status, reconciliation=record)
    run.reconciliation_status, run.reconciliation = status, record
    if status == Reconciliation.DIFFER:
        logger.warning("sync.totals_differ", extra={"sync_run_id": run.pk, "connection_id": run.connection_id})
    return str(status)


def _figure(run: SyncRun, total: PlatformTotal, window: Window) -> Figure:
    dataset = get_dataset(total.dataset)
    warehouse, without = warehouse_total(
        dataset,
        connection_id=run.connection_id,
        metric=total.metric,
        window=window,
        window_column=total.window_column or dataset.window_column,
        currency=total.currency,
    )
    return Figure(dataset.name, total.metric, total.currency, total.value, warehouse, without, total.scope)


def _unreported_currencies(run: SyncRun, figures: list[Figure], window: Window) -> list[Figure]:
    """Rows the warehouse holds in a currency the platform reported no total for: their platform
    total is zero (an account-level query leaves out an account with no activity)."""
    extra: list[Figure] = []
    compared = {(f.dataset, f.metric) for f in figures if f.currency is not None}
    for dataset_name, metric in sorted(compared):
        dataset = get_dataset(dataset_name)
        reported = {f.currency for f in figures if (f.dataset, f.metric) == (dataset_name, metric)}
        scope = next(f.scope for f in figures if (f.dataset, f.metric) == (dataset_name, metric))
        for currency in warehouse_currencies(dataset, run.connection_id, window) - reported:
            warehouse, without = warehouse_total(
                dataset,
                connection_id=run.connection_id,
                metric=metric,
                window=window,
                window_column=dataset.window_column,
                currency=currency,
            )
            extra.append(Figure(dataset_name, metric, currency, Decimal(0), warehouse, without, scope))
    return extra


def _bounds(dataset: Dataset, column: str, window: Window) -> tuple[str, list[Any]]:
    """The SQL condition putting ``column`` inside the window's days (a datetime: UTC days)."""
    if dataset.column(column).kind == "datetime":
        start = datetime.combine(window.start, clock_time.min, tzinfo=UTC)
        end = datetime.combine(window.end + timedelta(days=1), clock_time.min, tzinfo=UTC)
        adapt = db.ops.adapt_datetimefield_value
        return f"{column} >= %s AND {column} < %s", [adapt(start), adapt(end)]
    adapt_date = db.ops.adapt_datefield_value
    return f"{column} BETWEEN %s AND %s", [adapt_date(window.start), adapt_date(window.end)]


def warehouse_total(
    dataset: Dataset,
    *,
    connection_id: int,
    metric: str,
    window: Window,
    window_column: str | None,
    currency: str | None = None,
) -> tuple[Decimal, int]:
    """The warehouse's sum of ``metric`` (or its row count, ``PlatformTotal.ROWS``) over the
    connection's rows of the window, in ``currency`` when given; and how many of those rows have no
    value for the metric."""
    if window_column is None:
        raise TotalsNotCompared(f"the {dataset.name} rows have no date to bound a window")
    where, params = _bounds(dataset, window_column, window)
    conditions = [f"connection_id = %s AND {where}"]
    params = [connection_id, *params]
    if currency is not None:
        conditions.append("currency = %s")
        params.append(currency)
    if metric == PlatformTotal.ROWS:
        select = "COUNT(*), 0"
    else:
        dataset.column(metric)  # a column of the dataset, or StopIteration: a connector's mistake
        select = f"SUM({metric}), COUNT(*) - COUNT({metric})"
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {select} FROM {dataset.table} WHERE {' AND '.join(conditions)}", params)
        total, without = cursor.fetchone()
    if isinstance(total, float):  # SQLite sums decimals as floats: back to the columns' six places
        return Decimal(repr(total)).quantize(WAREHOUSE_SCALE), int(without or 0)
    return Decimal(str(total or 0)), int(without or 0)


def warehouse_currencies(dataset: Dataset, connection_id: int, window: Window) -> set[str]:
    if dataset.window_column is None or "currency" not in dataset.column_names:
        return set()
    where, params = _bounds(dataset, dataset.window_column, window)
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT currency FROM {dataset.table} WHERE connection_id = %s AND {where}",
            [connection_id, *params],
        )
        return {str(row[0]) for row in cursor.fetchall()}


def explanations(run: SyncRun, figures: list[Figure]) -> list[str]:
    """What the run itself knows that explains a difference: rows it quarantined, rows without a metric."""
    said = []
    quarantined = sum(int(stats.get("quarantined", 0)) for stats in run.rows.values() if isinstance(stats, dict))
    if quarantined and any(not f.agrees for f in figures):
        said.append(f"{quarantined} row(s) quarantined by normalization are not in the warehouse")
    for figure in figures:
        if figure.without:
            said.append(
                f"{figure.without} {figure.dataset} row(s) have no {figure.metric} (empty, not 0): "
                "the warehouse's sum leaves them out"
            )
    return said


def _text(value: Decimal) -> str:
    """A total as text: whole numbers without decimals, others without trailing zeros."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")

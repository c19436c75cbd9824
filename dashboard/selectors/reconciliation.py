"""A run's reconciliation in words and figures: the platform's totals for the window beside the
warehouse's, as Sync health and ``start_background_syncs`` show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from etl.models import Reconciliation, SyncRun

METRIC_LABELS = {"spend": "spend", "conversion_value": "conversion value"}
MONEY = frozenset({"spend", "conversion_value", "amount"})


@dataclass(frozen=True)
class FigureRow:
    metric: str
    currency: str  # the currency of the rows totalled ("" when the rows are not split by currency)
    money: bool
    platform: str
    warehouse: str
    difference: str  # "" when they agree
    agrees: bool
    without: int  # warehouse rows lacking the metric (empty, not 0): the figure decides nothing
    scope: str

    @property
    def label(self) -> str:
        """"spend USD"; a count of the rows in one currency: "impressions (USD accounts)"."""
        if not self.currency:
            return self.metric
        return f"{self.metric} {self.currency}" if self.money else f"{self.metric} ({self.currency} accounts)"


@dataclass(frozen=True)
class ReconciliationView:
    status: str
    window: str = ""
    reason: str = ""
    figures: list[FigureRow] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)

    @property
    def shown(self) -> bool:
        return self.status != Reconciliation.PENDING

    @property
    def differs(self) -> bool:
        return self.status == Reconciliation.DIFFER

    @property
    def badge(self) -> str:
        return {
            Reconciliation.EQUAL: "succeeded",
            Reconciliation.DIFFER: "partial",
            Reconciliation.FAILED: "failed",
        }.get(Reconciliation(self.status), "queued")

    @property
    def headline(self) -> str:
        """One line: "Totals agree (3 Nov – 5 Dec)", "Loaded, totals differ ...", "Not compared: why"."""
        if self.status == Reconciliation.NOT_COMPARED:
            return f"Totals not compared: {self.reason}"
        if self.status == Reconciliation.FAILED:
            return f"Totals could not be compared: {self.reason}"
        label = Reconciliation(self.status).label
        return f"{label} ({self.window})" if self.window else str(label)

    def lines(self) -> list[str]:
        """The headline, then each figure side by side, then what explains a difference."""
        said = [self.headline]
        for f in self.figures:
            gap = f" (difference {f.difference})" if f.difference else ""
            lacking = f"; {f.without} row(s) without it, not compared" if f.without else ""
            said.append(f"{f.label}: platform {f.platform} · warehouse {f.warehouse}{gap}{lacking}")
        return said + self.explanations


def reconciliation_view(run: SyncRun) -> ReconciliationView:
    record: dict[str, Any] = run.reconciliation if isinstance(run.reconciliation, dict) else {}
    window = record.get("window") or {}
    figures = [_figure_row(item) for item in record.get("figures", []) if isinstance(item, dict)]
    return ReconciliationView(
        status=run.reconciliation_status,
        window=_window_text(window.get("start"), window.get("end")),
        reason=str(record.get("reason", "")),
        figures=figures,
        explanations=[str(line) for line in record.get("explanations", [])],
    )


def _figure_row(item: dict[str, Any]) -> FigureRow:
    metric = str(item.get("metric", ""))
    agrees = bool(item.get("agrees"))
    dataset = str(item.get("dataset", "")).replace("_", " ")
    return FigureRow(
        metric=f"{dataset} records" if metric == "rows" else METRIC_LABELS.get(metric, metric),
        currency=str(item.get("currency") or ""),
        money=metric in MONEY,
        platform=amount_text(item.get("platform"), money=metric in MONEY),
        warehouse=amount_text(item.get("warehouse"), money=metric in MONEY),
        difference="" if agrees else amount_text(item.get("difference"), money=metric in MONEY, signed=True),
        agrees=agrees,
        without=int(item.get("without") or 0),
        scope=str(item.get("scope", "")),
    )


def amount_text(raw: Any, *, money: bool = False, signed: bool = False) -> str:
    """1234567 → "1,234,567"; money to the cent; "—" when there is no figure."""
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return "—"
    sign = "+" if signed and value > 0 else ""
    if money:
        return f"{sign}{value:,.2f}"
    if value == value.to_integral_value():
        return f"{sign}{value:,.0f}"
    return f"{sign}{value.normalize():,f}"


def _window_text(start: Any, end: Any) -> str:
    try:
        first, last = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    except ValueError:
        return ""
    return f"{first:%-d %b} – {last:%-d %b %Y}"

"""Restate on request: a fake serves different figures for chosen days from the next read on.

``POST /_sandbox/restatements`` with ``{"days": ["2026-12-03", ...], "metric": "<the platform's
metric name>", "factor": 1.2}`` (or ``"delta": 6``; optionally ``"campaign": "<id>"``) makes every
later read of those days serve the metric multiplied (or moved) for every campaign (or the one
named), as a platform does when it revises the past. ``/_sandbox/reset`` forgets them. A fake
that restates mixes in :class:`RestatingApi`, names its ``restatable_metrics`` and passes each
campaign-day's metrics through :meth:`RestatingApi.restated`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar

from sandbox.core import FakeApi, SandboxRequest, SandboxResponse, json_response, route


@dataclass(frozen=True)
class Restatement:
    days: frozenset[date]
    metric: str
    factor: Decimal | None = None
    delta: Decimal | None = None
    campaign: str | None = None

    def applies(self, day: date, campaign_id: str, metric: str) -> bool:
        return metric == self.metric and day in self.days and self.campaign in (None, campaign_id)

    def apply(self, value: int | Decimal | float) -> int | Decimal | float:
        exact = Decimal(str(value))
        moved = exact * self.factor if self.factor is not None else exact + (self.delta or Decimal(0))
        moved = max(moved, Decimal(0))
        if isinstance(value, int):
            return int(moved.to_integral_value(ROUND_HALF_UP))
        if isinstance(value, Decimal):
            places = exact.as_tuple().exponent
            return moved.quantize(Decimal(1).scaleb(places if isinstance(places, int) else -2))
        return float(moved)

    def describe(self) -> dict[str, Any]:
        return {
            "days": sorted(d.isoformat() for d in self.days),
            "metric": self.metric,
            "factor": None if self.factor is None else str(self.factor),
            "delta": None if self.delta is None else str(self.delta),
            "campaign": self.campaign,
        }


class Restatements:
    """The restatements a fake applies, in the order they were asked for (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Restatement] = []

    def add(self, restatement: Restatement) -> None:
        with self._lock:
            self._items.append(restatement)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.describe() for r in self._items]

    def apply(self, day: date, campaign_id: str, metrics: Mapping[str, Any]) -> Mapping[str, Any]:
        with self._lock:
            items = list(self._items)
        if not any(day in r.days for r in items):
            return metrics
        changed = dict(metrics)
        for restatement in items:
            for name, value in changed.items():
                if restatement.applies(day, campaign_id, name) and value is not None:
                    changed[name] = restatement.apply(value)
        return changed


def parse_restatement(spec: Any, metrics: frozenset[str]) -> Restatement | str:
    """The restatement a control POST asks for, or the reason it makes no sense."""
    if not isinstance(spec, dict):
        return "The body must be a JSON object"
    days_spec = spec.get("days")
    if not isinstance(days_spec, list) or not days_spec or not all(isinstance(d, str) for d in days_spec):
        return "'days' must be a non-empty list of dates (YYYY-MM-DD)"
    try:
        days = frozenset(date.fromisoformat(d) for d in days_spec)
    except ValueError:
        return "'days' must be a non-empty list of dates (YYYY-MM-DD)"
    metric = spec.get("metric")
    if metric not in metrics:
        return f"'metric' must be one of: {', '.join(sorted(metrics))}"
    factor, delta = spec.get("factor"), spec.get("delta")
    if (factor is None) == (delta is None):
        return "Give either 'factor' or 'delta'"
    amounts: list[Decimal | None] = []
    for amount in (factor, delta):
        if amount is None:
            amounts.append(None)
            continue
        if isinstance(amount, bool) or not isinstance(amount, int | float | str):
            return "'factor' and 'delta' are numbers"
        try:
            amounts.append(Decimal(str(amount)))
        except InvalidOperation:
            return "'factor' and 'delta' are numbers"
    if amounts[0] is not None and amounts[0] < 0:
        return "'factor' must not be negative"
    campaign = spec.get("campaign")
    if campaign is not None and not isinstance(campaign, str | int):
        return "'campaign' is a campaign id"
    return Restatement(days, str(metric), amounts[0], amounts[1], None if campaign is None else str(campaign))


class RestatingApi(FakeApi):
    """A fake that can restate figures on request (see the module's docstring)."""

    restatable_metrics: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self.restatements = Restatements()
        super().__init__()

    def restated(self, day: date, campaign_id: str, metrics: Mapping[str, Any]) -> Mapping[str, Any]:
        """One campaign-day's metrics as the restatements asked for so far change them."""
        return self.restatements.apply(day, campaign_id, metrics)

    def reset(self) -> None:
        self.restatements.clear()
        super().reset()

    @route("POST", r"^/_sandbox/restatements$")
    def control_restate(self, request: SandboxRequest) -> SandboxResponse:
        found = parse_restatement(request.json_or_none(), self.restatable_metrics)
        if isinstance(found, str):
            return self.error_response(400, "BAD_RESTATEMENT", found)
        self.restatements.add(found)
        return json_response(201, {"restatements": self.restatements.describe()})

    @route("GET", r"^/_sandbox/restatements$")
    def control_restatements(self, request: SandboxRequest) -> SandboxResponse:
        return json_response(200, {"restatements": self.restatements.describe()})

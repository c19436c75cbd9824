"""The sandbox's accounts, campaigns and daily numbers: deterministic, the same in every process.

Accounts form two manager (MCC) hierarchies and a few stand-alone advertisers, in several
currencies and time zones. Each campaign × day gets impressions, clicks and cost (integer micros)
from a hash-seeded generator. Conversions, their value and view-through conversions are credited to
the day of the click and keep arriving for ``MATURITY_DAYS``: the figure served for a day grows
with the account's local "today", so a day read again tomorrow shows more conversions (Google's
restatement), while any one today always gives the same numbers.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo

from sandbox.core import seeded_rng as _rng

MATURITY_DAYS: Final = 14
FIRST_MATURITY_PERCENT: Final = 55  # share of a day's final conversions reported on the day itself


@dataclass(frozen=True)
class SandboxCustomer:
    id: str
    name: str
    currency: str
    time_zone: str
    campaign_count: int = 0
    manager: bool = False
    status: str = "ENABLED"  # ENABLED | CANCELED | SUSPENDED | CLOSED
    parent: str | None = None  # the manager this account is a client of
    accessible: bool = False  # the sandbox's Google user can open it without a manager
    active: bool = True  # False: campaigns exist but never deliver

    def local_today(self, now: float) -> date:
        return datetime.fromtimestamp(now, ZoneInfo(self.time_zone)).date()


NORTHWIND_MCC: Final = "5550001000"
LITWARE_MCC: Final = "5550006000"
LITWARE_EMEA_MCC: Final = "5550006100"


def _customers(*items: SandboxCustomer) -> Mapping[str, SandboxCustomer]:
    return MappingProxyType({item.id: item for item in items})


CUSTOMERS: Final = _customers(
    SandboxCustomer(
        NORTHWIND_MCC, "Northwind Agency (MCC)", "USD", "America/New_York", manager=True, accessible=True
    ),
    SandboxCustomer(
        "5550001001", "Northwind – US Search", "USD", "America/New_York", 12, parent=NORTHWIND_MCC
    ),
    SandboxCustomer("5550001002", "Northwind – DACH", "EUR", "Europe/Berlin", 8, parent=NORTHWIND_MCC),
    SandboxCustomer(
        "5550001003",
        "Northwind – Legacy Brand",
        "USD",
        "America/Chicago",
        4,
        parent=NORTHWIND_MCC,
        status="CANCELED",
    ),
    SandboxCustomer(
        "5550002001", "Contoso – Always-On Global", "USD", "America/Los_Angeles", 450, accessible=True
    ),
    SandboxCustomer("5550003001", "Fabrikam UK", "GBP", "Europe/London", 6, accessible=True),
    SandboxCustomer(
        "5550004001", "Tailspin – Test Lab", "USD", "America/New_York", 3, accessible=True, active=False
    ),
    SandboxCustomer(
        LITWARE_MCC, "Litware Holdings (MCC)", "USD", "America/New_York", manager=True, accessible=True
    ),
    SandboxCustomer("5550006001", "Litware US", "USD", "America/Denver", 5, parent=LITWARE_MCC),
    SandboxCustomer(
        "5550006002", "Litware Outlet", "USD", "America/Denver", 3, parent=LITWARE_MCC, status="SUSPENDED"
    ),
    SandboxCustomer(
        LITWARE_EMEA_MCC, "Litware EMEA (MCC)", "EUR", "Europe/Paris", manager=True, parent=LITWARE_MCC
    ),
    SandboxCustomer("5550006101", "Litware Nordics", "SEK", "Europe/Stockholm", 4, parent=LITWARE_EMEA_MCC),
    SandboxCustomer(
        "5550006102",
        "Litware Benelux",
        "EUR",
        "Europe/Amsterdam",
        2,
        parent=LITWARE_EMEA_MCC,
        status="CLOSED",
    ),
    SandboxCustomer("5550009001", "Woodgrove Bank (another agency)", "USD", "America/New_York", 5),
)


def accessible_customers() -> list[SandboxCustomer]:
    """What ListAccessibleCustomers answers for the sandbox's one Google user."""
    return [c for c in CUSTOMERS.values() if c.accessible]


def hierarchy(manager_id: str) -> list[tuple[SandboxCustomer, int]]:
    """The manager itself (level 0) and every account below it, with its depth."""
    found: list[tuple[SandboxCustomer, int]] = []
    queue = [(CUSTOMERS[manager_id], 0)]
    while queue:
        customer, level = queue.pop(0)
        found.append((customer, level))
        queue += [(child, level + 1) for child in CUSTOMERS.values() if child.parent == customer.id]
    return found


def is_under(customer_id: str, manager_id: str) -> bool:
    return any(c.id == customer_id for c, _ in hierarchy(manager_id)) if manager_id in CUSTOMERS else False


# =========================================================================== campaigns


@dataclass(frozen=True)
class Channel:
    name: str
    weight: float
    impressions: tuple[int, int]
    ctr: tuple[float, float]
    cpc: tuple[float, float]  # currency units per click (or per thousand impressions when cpm)
    cpm: bool
    view_through_rate: float


CHANNELS: Final = (
    Channel("SEARCH", 0.45, (300, 6_000), (0.03, 0.09), (0.8, 4.5), False, 0.0),
    Channel("PERFORMANCE_MAX", 0.2, (2_000, 20_000), (0.01, 0.03), (0.5, 2.0), False, 0.00004),
    Channel("DISPLAY", 0.15, (5_000, 60_000), (0.002, 0.008), (1.5, 6.0), True, 0.00008),
    Channel("VIDEO", 0.1, (2_000, 30_000), (0.001, 0.005), (4.0, 12.0), True, 0.0001),
    Channel("DEMAND_GEN", 0.1, (3_000, 25_000), (0.005, 0.015), (0.3, 1.5), False, 0.00005),
)
_STATUS_CYCLE: Final = ("ENABLED", "ENABLED", "PAUSED", "ENABLED", "REMOVED", "ENABLED", "ENABLED", "PAUSED")
_THEMES: Final = (
    "Brand – Exact",
    "Generic – Analytics Software",
    "Competitor Conquesting",
    "Retargeting – Site Visitors",
    "Webinar Promotion",
    "Free Trial – Always On",
    "Product Launch Q4",
    "Customer Stories",
)
_MARKETS: Final = ("US", "UK", "DE", "FR", "Nordics", "APAC", "LATAM")


@dataclass(frozen=True)
class SandboxCampaign:
    id: int
    customer_id: str
    name: str
    status: str
    channel: Channel
    start: date
    last_delivery: date | None  # the last day with any delivery (None: still running)
    daily_impressions: int
    ctr: float
    unit_cost_micros: int
    conversion_rate: float
    value_per_conversion: float
    idle_share: float
    active: bool

    def runs_on(self, day: date) -> bool:
        return self.active and self.start <= day and (self.last_delivery is None or day <= self.last_delivery)


def _between(rng: random.Random, bounds: tuple[float, float]) -> float:
    return bounds[0] + (bounds[1] - bounds[0]) * rng.random()


def _channel(rng: random.Random) -> Channel:
    roll = rng.random() * sum(c.weight for c in CHANNELS)
    for channel in CHANNELS:
        roll -= channel.weight
        if roll < 0:
            return channel
    return CHANNELS[-1]


def _status(rng: random.Random, number: int, many: bool) -> str:
    if not many:
        return _STATUS_CYCLE[(number - 1) % len(_STATUS_CYCLE)]
    roll = rng.random()
    return "ENABLED" if roll < 0.9 else ("PAUSED" if roll < 0.96 else "REMOVED")


def _last_delivery(rng: random.Random, status: str) -> date | None:
    """Paused campaigns stopped between mid-2025 and late 2026, removed ones earlier; a few
    enabled ones are flights with an end date."""
    if status == "PAUSED":
        return date(2025, 6, 1) + timedelta(days=int(rng.random() * 540))
    if status == "REMOVED":
        return date(2024, 6, 1) + timedelta(days=int(rng.random() * 700))
    if rng.random() < 0.1:
        return date(2026, 3, 1) + timedelta(days=int(rng.random() * 400))
    return None


def _make_campaign(customer: SandboxCustomer, number: int) -> SandboxCampaign:
    rng = _rng("gads-campaign", customer.id, number)
    channel = _channel(rng)
    status = _status(rng, number, customer.campaign_count > 100)
    theme = _THEMES[number % len(_THEMES)]
    market = _MARKETS[number % len(_MARKETS)]
    return SandboxCampaign(
        id=21_000_000_000 + int(customer.id[4:]) * 1_000 + number,
        customer_id=customer.id,
        name=f"{theme} – {market} #{number}",
        status=status,
        channel=channel,
        start=date(2024, 1, 1) + timedelta(days=int(rng.random() * 700)),
        last_delivery=_last_delivery(rng, status),
        daily_impressions=int(
            _between(rng, channel.impressions) * (0.3 if customer.campaign_count > 100 else 1)
        ),
        ctr=_between(rng, channel.ctr),
        unit_cost_micros=int(_between(rng, channel.cpc) * 1_000_000),
        conversion_rate=0.01 + 0.09 * rng.random(),
        value_per_conversion=20 + 280 * rng.random(),
        idle_share=0.02 + 0.06 * rng.random(),
        active=customer.active,
    )


@functools.cache
def campaigns_for(customer_id: str) -> tuple[SandboxCampaign, ...]:
    """The campaigns of one account, by id (none for a manager or an unknown id)."""
    customer = CUSTOMERS.get(customer_id)
    if customer is None or customer.manager:
        return ()
    return tuple(_make_campaign(customer, number) for number in range(1, customer.campaign_count + 1))


# =========================================================================== daily numbers


@dataclass(frozen=True)
class DayMetrics:
    """One campaign's numbers for one day, as integers (hundredths for conversions and value)."""

    impressions: int
    clicks: int
    cost_micros: int
    conversions_hundredths: int
    value_hundredths: int
    view_through: int

    def __add__(self, other: DayMetrics) -> DayMetrics:
        return DayMetrics(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.impressions,
            self.clicks,
            self.cost_micros,
            self.conversions_hundredths,
            self.value_hundredths,
            self.view_through,
        )

    def metric(self, name: str) -> int | float:
        """A metric as the API types it: int64 counts and micros, doubles for the rest."""
        if name == "impressions":
            return self.impressions
        if name == "clicks":
            return self.clicks
        if name == "cost_micros":
            return self.cost_micros
        if name == "conversions":
            return self.conversions_hundredths / 100
        if name == "conversions_value":
            return self.value_hundredths / 100
        if name == "view_through_conversions":
            return self.view_through
        if name == "ctr":
            return self.clicks / self.impressions if self.impressions else 0.0
        if name == "average_cpc":
            return self.cost_micros / self.clicks if self.clicks else 0.0
        raise KeyError(name)


ZERO: Final = DayMetrics(0, 0, 0, 0, 0, 0)
METRIC_NAMES: Final = (
    "impressions",
    "clicks",
    "cost_micros",
    "conversions",
    "conversions_value",
    "view_through_conversions",
    "ctr",
    "average_cpc",
)


@functools.lru_cache(maxsize=262_144)
def final_metrics(campaign: SandboxCampaign, day: date) -> DayMetrics | None:
    """The campaign's numbers for the day once every conversion is in; None on a day without delivery."""
    if not campaign.runs_on(day):
        return None
    rng = _rng("gads-day", campaign.id, day.isoformat())
    if rng.random() < campaign.idle_share:
        return None
    weekday = 0.6 if day.weekday() >= 5 else 1.0
    impressions = max(1, int(campaign.daily_impressions * weekday * (0.55 + 0.9 * rng.random())))
    clicks = min(impressions, int(impressions * campaign.ctr * (0.6 + 0.8 * rng.random())))
    jitter = 0.7 + 0.6 * rng.random()
    if campaign.channel.cpm:
        cost = int(impressions * campaign.unit_cost_micros / 1000 * jitter)
    else:
        cost = int(clicks * campaign.unit_cost_micros * jitter)
    conversions = int(clicks * campaign.conversion_rate * (0.5 + rng.random()) * 100)
    value = int(conversions * campaign.value_per_conversion * (0.7 + 0.6 * rng.random()))
    view_through = int(impressions * campaign.channel.view_through_rate * (0.5 + rng.random()))
    return DayMetrics(impressions, clicks, cost, conversions, value, view_through)


def _matured(amount: int, age_days: int) -> int:
    if age_days >= MATURITY_DAYS:
        return amount
    share = FIRST_MATURITY_PERCENT * MATURITY_DAYS + (100 - FIRST_MATURITY_PERCENT) * max(0, age_days)
    return amount * share // (100 * MATURITY_DAYS)


def day_metrics(campaign: SandboxCampaign, day: date, today: date) -> DayMetrics | None:
    """What the API reports for the day when the account's local date is ``today``."""
    if day > today:
        return None
    final = final_metrics(campaign, day)
    if final is None:
        return None
    age = (today - day).days
    return DayMetrics(
        final.impressions,
        final.clicks,
        final.cost_micros,
        _matured(final.conversions_hundredths, age),
        _matured(final.value_hundredths, age),
        _matured(final.view_through, age),
    )


def days(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def expected_daily_rows(
    customer_id: str, start: date, end: date, *, today: date | None = None, now: float | None = None
) -> list[dict[str, Any]]:
    """Exactly the campaign × day rows the API serves for the range (days without delivery are
    left out), in date then campaign order. ``today`` is the account's local date; by default the
    one at ``now`` (epoch seconds, default the current time)."""
    customer = CUSTOMERS[customer_id]
    if today is None:
        today = customer.local_today(time.time() if now is None else now)
    rows = []
    for day in days(start, min(end, today)):
        for campaign in campaigns_for(customer_id):
            metrics = day_metrics(campaign, day, today)
            if metrics is None:
                continue
            rows.append(
                {
                    "customer_id": customer_id,
                    "currency": customer.currency,
                    "time_zone": customer.time_zone,
                    "campaign_id": str(campaign.id),
                    "campaign_name": campaign.name,
                    "campaign_status": campaign.status,
                    "channel": campaign.channel.name,
                    "date": day,
                    "impressions": metrics.impressions,
                    "clicks": metrics.clicks,
                    "cost_micros": metrics.cost_micros,
                    "cost": Decimal(metrics.cost_micros).scaleb(-6),
                    "conversions": Decimal(repr(metrics.metric("conversions"))),
                    "conversion_value": Decimal(repr(metrics.metric("conversions_value"))),
                    "view_through_conversions": metrics.view_through,
                }
            )
    return rows

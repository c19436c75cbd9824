"""The LinkedIn sandbox's data: its ad accounts, their campaigns and every campaign's metrics by day.

The accounts are a fixed catalogue (the benchmarks add their own with :func:`add_accounts`); campaigns and
their daily numbers come from a hash-seeded generator, so every call and every process sees the same
data. :func:`expected_daily_rows` says exactly what the API serves for an account and a date range.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from sandbox.core import seeded_rng as _rng
from sandbox.core import weighted_pick as _pick

USD_PER_EUR: Final = Decimal("1.0832")
ORGANIZATION_ID: Final = 74_110_001  # the company page every account and campaign belongs to


# =========================================================================== accounts and campaigns


@dataclass(frozen=True)
class SandboxAccount:
    id: int
    name: str
    currency: str
    campaign_count: int
    has_activity: bool = True

    @property
    def urn(self) -> str:
        return f"urn:li:sponsoredAccount:{self.id}"


def _account(account: SandboxAccount) -> tuple[str, SandboxAccount]:
    return str(account.id), account


_CATALOGUE: dict[str, SandboxAccount] = dict(
    [
        _account(SandboxAccount(508000001, "Northwind – Demand Gen", "USD", 12)),
        _account(SandboxAccount(508000002, "Northwind – DACH", "EUR", 40)),
        _account(SandboxAccount(508000003, "Northwind – Always-On Global", "USD", 700)),
        _account(SandboxAccount(508000004, "Northwind – Test Lab", "USD", 3, has_activity=False)),
    ]
)
ACCOUNTS: Final[Mapping[str, SandboxAccount]] = MappingProxyType(_CATALOGUE)


@dataclass(frozen=True)
class SandboxCampaign:
    id: int
    account_id: int
    group_id: int
    name: str
    status: str
    type: str
    cost_type: str
    objective: str
    currency: str
    daily_budget: Decimal
    unit_cost: Decimal
    start: date
    end: date | None  # last scheduled day, inclusive
    last_delivery: date | None  # the last day with any delivery (the end, or the day before a pause)
    created_ms: int
    last_modified_ms: int
    version_tag: str
    daily_impressions: int
    ctr: float
    conversion_rate: float
    value_per_conversion: float
    idle_share: float
    video: bool
    active: bool

    @property
    def urn(self) -> str:
        return f"urn:li:sponsoredCampaign:{self.id}"

    @property
    def group_urn(self) -> str:
        return f"urn:li:sponsoredCampaignGroup:{self.group_id}"

    def runs_on(self, day: date) -> bool:
        return self.active and self.start <= day and (self.last_delivery is None or day <= self.last_delivery)


_STATUS_CYCLE: Final = ("ACTIVE", "ACTIVE", "PAUSED", "ACTIVE", "COMPLETED", "ACTIVE", "ARCHIVED", "PAUSED")
_BIG_ACCOUNT_STATUSES: Final = (("ACTIVE", 0.9), ("PAUSED", 0.04), ("COMPLETED", 0.04), ("ARCHIVED", 0.02))
_OBJECTIVES: Final = (
    ("WEBSITE_VISIT", 0.3),
    ("LEAD_GENERATION", 0.25),
    ("BRAND_AWARENESS", 0.15),
    ("WEBSITE_CONVERSION", 0.15),
    ("VIDEO_VIEW", 0.1),
    ("ENGAGEMENT", 0.05),
)
_THEMES: Final = (
    "Data Platform Launch",
    "Analytics Suite Trial",
    "Partner Summit",
    "Webinar: Pipeline Hygiene",
    "Customer Stories",
    "Pricing Retargeting",
    "Brand Always-On",
    "Ebook: Forecasting 101",
)
_AUDIENCES: Final = (
    "IT Directors",
    "CFOs",
    "Marketing Ops",
    "Mid-Market EMEA",
    "Enterprise NA",
    "Lookalikes",
)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_DAY_MS: Final = 86_400_000


def epoch_ms(day: date) -> int:
    return (day.toordinal() - _EPOCH_ORDINAL) * _DAY_MS


def _cents(amount: float) -> Decimal:
    return Decimal(int(amount * 100)).scaleb(-2)


def _status(rng: random.Random, account: SandboxAccount, number: int) -> str:
    if account.campaign_count <= 100:
        return _STATUS_CYCLE[(number - 1) % len(_STATUS_CYCLE)]
    return _pick(rng, _BIG_ACCOUNT_STATUSES)


def _flight(rng: random.Random, first: date, spread_days: int) -> tuple[date, date]:
    start = first + timedelta(days=int(rng.random() * spread_days))
    return start, start + timedelta(days=14 + int(rng.random() * 106))


def _schedule(rng: random.Random, status: str) -> tuple[date, date | None, date | None]:
    """Run schedule (start, end) and the last day with delivery, consistent with the status.

    Completed and archived campaigns are flights that ended before mid-2026; paused ones stopped
    delivering on a day between 2024 and mid-2026. Active campaigns mostly run open-ended since 2023-24;
    a few are flights anywhere from mid-2024 to 2027, with or without an end date.
    """
    if status in ("COMPLETED", "ARCHIVED"):
        start, end = _flight(rng, date(2023, 1, 2), 1150)
        return start, end, end
    evergreen_start = date(2023, 1, 2) + timedelta(days=int(rng.random() * 700))
    if status == "PAUSED":
        paused_on = max(evergreen_start, date(2024, 1, 1)) + timedelta(days=int(rng.random() * 500))
        return evergreen_start, None, paused_on - timedelta(days=1)
    if rng.random() < 0.92:
        return evergreen_start, None, None
    start, end = _flight(rng, date(2024, 6, 1), 1125)
    open_ended = rng.random() < 0.3
    return start, (None if open_ended else end), (None if open_ended else end)


def _cost_type(objective: str) -> str:
    return {"BRAND_AWARENESS": "CPM", "ENGAGEMENT": "CPM", "VIDEO_VIEW": "CPV"}.get(objective, "CPC")


def _unit_cost(rng: random.Random, cost_type: str) -> Decimal:
    low, high = {"CPM": (18.0, 60.0), "CPC": (3.0, 12.0), "CPV": (0.05, 0.3)}[cost_type]
    return _cents(low + (high - low) * rng.random())


def _make_campaign(account: SandboxAccount, number: int) -> SandboxCampaign:
    rng = _rng("li-campaign", account.id, number)
    account_index = account.id % 1000
    objective = _pick(rng, _OBJECTIVES)
    cost_type = _cost_type(objective)
    status = _status(rng, account, number)
    start, end, last_delivery = _schedule(rng, status)
    created = epoch_ms(start) - int((3 + rng.random() * 27) * _DAY_MS)
    many_campaigns = account.campaign_count > 100
    return SandboxCampaign(
        id=400_000_000 + account_index * 100_000 + number,
        account_id=account.id,
        group_id=600_000_000 + account_index * 10_000 + (number - 1) // 6 + 1,
        name=f"{_THEMES[number % len(_THEMES)]} – {_AUDIENCES[number % len(_AUDIENCES)]} #{number}",
        status=status,
        type="DYNAMIC" if number % 11 == 0 else ("TEXT_AD" if number % 7 == 0 else "SPONSORED_UPDATES"),
        cost_type=cost_type,
        objective=objective,
        currency=account.currency,
        daily_budget=Decimal(50 + 10 * int(rng.random() * 45)).quantize(Decimal("0.01")),
        unit_cost=_unit_cost(rng, cost_type),
        start=start,
        end=end,
        last_delivery=last_delivery,
        created_ms=created,
        last_modified_ms=created + int(rng.random() * 60 * _DAY_MS),
        version_tag=str(1 + int(rng.random() * 6)),
        daily_impressions=int((150 if many_campaigns else 400) + rng.random() ** 2 * 12_000),
        ctr=0.003 + 0.012 * rng.random(),
        conversion_rate=0.02 + 0.08 * rng.random(),
        value_per_conversion=40 + 260 * rng.random(),
        idle_share=0.02 + 0.05 * rng.random(),
        video=objective == "VIDEO_VIEW" or rng.random() < 0.15,
        active=account.has_activity,
    )


@functools.cache
def campaigns_for(account_id: str) -> tuple[SandboxCampaign, ...]:
    """The campaigns of one catalogue account, ordered by id (empty for an unknown account)."""
    account = ACCOUNTS.get(str(account_id))
    if account is None:
        return ()
    return tuple(_make_campaign(account, number) for number in range(1, account.campaign_count + 1))


def add_accounts(accounts: Iterable[SandboxAccount]) -> None:
    """Extend the catalogue (the benchmarks add accounts with thousands of campaigns)."""
    _CATALOGUE.update(_account(account) for account in accounts)
    campaigns_for.cache_clear()


def all_campaigns() -> Iterator[SandboxCampaign]:
    for account_id in ACCOUNTS:
        yield from campaigns_for(account_id)


# =========================================================================== metrics

MONEY_METRICS: Final = frozenset({"costInLocalCurrency", "costInUsd", "conversionValueInLocalCurrency"})
METRICS: Final = (
    "impressions",
    "clicks",
    "landingPageClicks",
    "costInLocalCurrency",
    "costInUsd",
    "externalWebsiteConversions",
    "externalWebsitePostClickConversions",
    "externalWebsitePostViewConversions",
    "oneClickLeads",
    "oneClickLeadFormOpens",
    "conversionValueInLocalCurrency",
    "approximateMemberReach",
    "likes",
    "comments",
    "shares",
    "follows",
    "reactions",
    "otherEngagements",
    "totalEngagements",
    "companyPageClicks",
    "videoStarts",
    "videoViews",
    "videoCompletions",
    "viralImpressions",
    "viralClicks",
)
STRUCTURAL_FIELDS: Final = ("pivotValues", "dateRange")

Metrics: TypeAlias = Mapping[str, int | Decimal]


def _share(rng: random.Random, amount: int, low: float, high: float) -> int:
    return int(amount * (low + (high - low) * rng.random()))


def _engagement(rng: random.Random, impressions: int, clicks: int, video: bool) -> dict[str, int]:
    likes = _share(rng, impressions, 0.0, 0.004)
    comments = _share(rng, likes, 0.0, 0.15)
    shares = _share(rng, likes, 0.0, 0.1)
    follows = _share(rng, impressions, 0.0, 0.0006)
    other = _share(rng, impressions, 0.0, 0.002)
    reactions = likes + _share(rng, likes, 0.0, 0.25)
    video_starts = _share(rng, impressions, 0.25, 0.45) if video else 0
    video_views = _share(rng, video_starts, 0.4, 0.7)
    viral_impressions = _share(rng, impressions, 0.0, 0.03)
    return {
        "likes": likes,
        "comments": comments,
        "shares": shares,
        "follows": follows,
        "reactions": reactions,
        "otherEngagements": other,
        "totalEngagements": clicks + reactions + comments + shares + follows + other,
        "companyPageClicks": _share(rng, clicks, 0.0, 0.06),
        "videoStarts": video_starts,
        "videoViews": video_views,
        "videoCompletions": _share(rng, video_views, 0.3, 0.7),
        "viralImpressions": viral_impressions,
        "viralClicks": _share(rng, viral_impressions, 0.0, 0.01),
    }


def _money(rng: random.Random, amount: float) -> Decimal:
    """Two decimals as a rule, three now and then (LinkedIn serves values like "209.449")."""
    places = 3 if rng.random() < 0.1 else 2
    return Decimal(int(amount * 10**places)).scaleb(-places)


def _spend(
    rng: random.Random, campaign: SandboxCampaign, impressions: int, clicks: int, views: int
) -> Decimal:
    unit = float(campaign.unit_cost)
    billable = {"CPM": impressions / 1000, "CPC": float(clicks), "CPV": float(views)}[campaign.cost_type]
    return _money(rng, billable * unit * (0.8 + 0.35 * rng.random()))


@functools.lru_cache(maxsize=262_144)
def day_metrics(campaign: SandboxCampaign, day: date) -> Metrics | None:
    """Every supported metric of one campaign on one day, or ``None`` when it had no activity."""
    if not campaign.runs_on(day):
        return None
    rng = _rng("li-day", campaign.id, day.isoformat())
    if rng.random() < campaign.idle_share:
        return None
    weekday_factor = 0.55 if day.weekday() >= 5 else 1.0
    impressions = max(1, int(campaign.daily_impressions * weekday_factor * (0.6 + 0.8 * rng.random())))
    clicks = min(impressions, _share(rng, impressions, 0.5 * campaign.ctr, 1.5 * campaign.ctr))
    post_click = min(
        clicks, _share(rng, clicks, 0.3 * campaign.conversion_rate, 1.7 * campaign.conversion_rate)
    )
    post_view = min(clicks - post_click, _share(rng, impressions, 0.0, 0.0006))
    conversions = post_click + post_view
    lead_gen = campaign.objective == "LEAD_GENERATION"
    form_opens = _share(rng, clicks, 0.2, 0.5) if lead_gen else 0
    engagement = _engagement(rng, impressions, clicks, campaign.video)
    cost = _spend(rng, campaign, impressions, clicks, engagement["videoViews"])
    cost_usd = cost if campaign.currency == "USD" else (cost * USD_PER_EUR).quantize(Decimal("0.001"))
    value = _cents(conversions * campaign.value_per_conversion * (0.7 + 0.6 * rng.random()))
    metrics: dict[str, int | Decimal] = {
        "impressions": impressions,
        "clicks": clicks,
        "landingPageClicks": _share(rng, clicks, 0.7, 1.0),
        "costInLocalCurrency": cost,
        "costInUsd": cost_usd,
        "externalWebsiteConversions": conversions,
        "externalWebsitePostClickConversions": post_click,
        "externalWebsitePostViewConversions": post_view,
        "oneClickLeadFormOpens": form_opens,
        "oneClickLeads": _share(rng, form_opens, 0.2, 0.5),
        "conversionValueInLocalCurrency": value,
        "approximateMemberReach": max(1, _share(rng, impressions, 0.55, 0.9)),
        **engagement,
    }
    return MappingProxyType(metrics)


def days(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def expected_daily_rows(account_id: str, start: date, end: date) -> list[dict[str, Any]]:
    """The true per-campaign, per-day numbers the API serves for this range, ignoring the row cap.

    Rows come in the API's order (date, then campaign id); days without activity are left out.
    """
    rows: list[dict[str, Any]] = []
    campaigns = campaigns_for(str(account_id))
    for day in days(start, end):
        for campaign in campaigns:
            metrics = day_metrics(campaign, day)
            if metrics is None:
                continue
            rows.append(
                {
                    "campaign_id": str(campaign.id),
                    "date": day,
                    "impressions": metrics["impressions"],
                    "clicks": metrics["clicks"],
                    "cost": metrics["costInLocalCurrency"],
                    "conversions": metrics["externalWebsiteConversions"],
                    "conversion_value": metrics["conversionValueInLocalCurrency"],
                }
            )
    return rows

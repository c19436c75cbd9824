"""Target accounts (Demandbase): the most engaged accounts, engagement per day, intent keywords.

The account list is the platform's latest snapshot (engagement over its last 7 and 30 days, as
Demandbase computes it); engagement per day and intent keywords cover the selected period.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet, Sum

from connectors.models import Organization
from dashboard.cache import cached
from dashboard.charts import BarChart, ChartPoint, bar_chart
from dashboard.periods import DateRange, Period
from dashboard.selectors.common import Restatement, organization_platforms, restatement_windows
from etl.models import AbmAccount, AbmEngagementDaily

ABM_PLATFORMS = ("demandbase",)
TOP_ACCOUNTS = 25
TOP_KEYWORDS = 30
STRENGTH_ORDER = {"HIGH": 3, "MED": 2, "MEDIUM": 2, "LOW": 1}


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    name: str
    domain: str
    industry: str
    journey_stage: str
    engagement_points_7d: Decimal | None
    engagement_points_30d: Decimal | None
    engagement_minutes_7d: Decimal | None
    engagement_minutes_30d: Decimal | None
    intent_score: Decimal | None
    intent_keyword_count: int | None


@dataclass(frozen=True)
class EngagementDay:
    day: date
    minutes: Decimal
    points: Decimal
    web_minutes: Decimal
    email_minutes: Decimal
    ad_minutes: Decimal
    page_views: int
    accounts: int  # accounts with engagement minutes or page views that day
    intent_accounts: int = 0  # accounts researching intent keywords that day
    people_researching: int = 0
    provisional: bool = False


@dataclass(frozen=True)
class KeywordRow:
    keyword: str
    accounts: int
    strongest: str  # HIGH / MED / LOW, as the platform reported, or ""
    days: int


@dataclass
class _KeywordTally:
    label: str
    accounts: set[str] = field(default_factory=set)
    days: int = 0
    strongest: str = ""


@dataclass(frozen=True)
class StageCount:
    stage: str
    accounts: int


@dataclass(frozen=True)
class AccountsReport:
    period: Period
    connected: bool
    account_count: int
    snapshot_at: datetime | None
    top_accounts: list[AccountRow]
    days: list[EngagementDay]
    chart: BarChart  # engagement minutes per day
    keywords: list[KeywordRow]
    stages: list[StageCount]
    restatement: Restatement | None = None
    intent_chart: BarChart | None = None  # accounts researching intent keywords per day
    intent_account_count: int = 0

    @property
    def has_data(self) -> bool:
        return bool(self.account_count or any(d.accounts or d.intent_accounts for d in self.days))

    @property
    def has_minutes(self) -> bool:
        return any(d.minutes for d in self.days)

    @property
    def has_intent_days(self) -> bool:
        return any(d.intent_accounts for d in self.days)

    @property
    def total_minutes(self) -> Decimal:
        return sum((d.minutes for d in self.days), Decimal("0"))

    @property
    def engaged_accounts(self) -> int:
        return max((d.accounts for d in self.days), default=0)


def _accounts(organization: Organization) -> QuerySet[AbmAccount]:
    return AbmAccount.objects.filter(organization_id=organization.pk)


def _engagement(organization: Organization, date_range: DateRange) -> QuerySet[AbmEngagementDaily]:
    return AbmEngagementDaily.objects.filter(
        organization_id=organization.pk, date__gte=date_range.start, date__lte=date_range.end
    )


def top_accounts(*, organization: Organization, limit: int = TOP_ACCOUNTS) -> list[AccountRow]:
    rows = _accounts(organization).order_by(
        F("engagement_points_30d").desc(nulls_last=True),
        F("engagement_minutes_30d").desc(nulls_last=True),
        F("intent_score").desc(nulls_last=True),
        "name",
    )[:limit]
    return [
        AccountRow(
            account_id=row.account_id,
            name=row.name or row.domain or row.account_id,
            domain=row.domain or "",
            industry=row.industry or "",
            journey_stage=row.journey_stage or "",
            engagement_points_7d=row.engagement_points_7d,
            engagement_points_30d=row.engagement_points_30d,
            engagement_minutes_7d=row.engagement_minutes_7d,
            engagement_minutes_30d=row.engagement_minutes_30d,
            intent_score=row.intent_score,
            intent_keyword_count=row.intent_keyword_count,
        )
        for row in rows
    ]


def journey_stages(*, organization: Organization) -> list[StageCount]:
    rows = (
        _accounts(organization)
        .values("journey_stage")
        .annotate(n=Count("id"))
        .order_by("-n", "journey_stage")
    )
    return [StageCount(row["journey_stage"] or "(not set)", row["n"]) for row in rows]


def engagement_per_day(*, organization: Organization, date_range: DateRange) -> list[EngagementDay]:
    rows = (
        _engagement(organization, date_range)
        .values("date")
        .annotate(
            minutes=Sum("engagement_minutes"),
            points=Sum("engagement_points"),
            web=Sum("web_minutes"),
            email=Sum("email_minutes"),
            ad=Sum("ad_minutes"),
            views=Sum("page_views"),
            people=Sum("people_researching"),
            intent=Count(
                "account_id",
                distinct=True,
                filter=Q(intent_keywords__isnull=False) & ~Q(intent_keywords=""),
            ),
            engaged=Count(
                "account_id", distinct=True, filter=Q(engagement_minutes__gt=0) | Q(page_views__gt=0)
            ),
        )
        .order_by("date")
    )
    found = {row["date"]: row for row in rows}
    zero = Decimal("0")
    days = []
    for day in date_range.dates():
        row: dict[str, Any] = found.get(day) or {}
        days.append(
            EngagementDay(
                day=day,
                minutes=row.get("minutes") or zero,
                points=row.get("points") or zero,
                web_minutes=row.get("web") or zero,
                email_minutes=row.get("email") or zero,
                ad_minutes=row.get("ad") or zero,
                page_views=int(row.get("views") or 0),
                accounts=int(row.get("engaged") or 0),
                intent_accounts=int(row.get("intent") or 0),
                people_researching=int(row.get("people") or 0),
            )
        )
    return days


def _keyword_rows(organization: Organization, date_range: DateRange) -> list[dict[str, Any]]:
    """Each account's distinct keyword lists of the period with their strength and number of days."""
    return list(
        _engagement(organization, date_range)
        .exclude(intent_keywords__isnull=True)
        .exclude(intent_keywords="")
        .values("account_id", "intent_keywords", "intent_strength")
        .annotate(days=Count("id"))
        .order_by()
    )


def intent_keywords(
    *, organization: Organization, date_range: DateRange, limit: int = TOP_KEYWORDS
) -> list[KeywordRow]:
    """Keywords by how many accounts researched them in the period."""
    return _rank_keywords(_keyword_rows(organization, date_range), limit=limit)


def _rank_keywords(rows: list[dict[str, Any]], *, limit: int = TOP_KEYWORDS) -> list[KeywordRow]:
    """The database grouped identical keyword lists first; only the distinct lists are split here."""
    tally: dict[str, _KeywordTally] = {}
    for row in rows:
        strength = (row["intent_strength"] or "").upper()
        for raw in row["intent_keywords"].split(","):
            keyword = raw.strip()
            if not keyword:
                continue
            entry = tally.setdefault(keyword.lower(), _KeywordTally(label=keyword))
            entry.accounts.add(row["account_id"])
            entry.days += row["days"]
            if STRENGTH_ORDER.get(strength, 0) > STRENGTH_ORDER.get(entry.strongest, 0):
                entry.strongest = strength
    ranked = sorted(tally.items(), key=lambda item: (-len(item[1].accounts), -item[1].days, item[0]))[:limit]
    return [KeywordRow(e.label, len(e.accounts), e.strongest, e.days) for _, e in ranked]


def accounts_report(*, organization: Organization, period: Period) -> AccountsReport:
    date_range = period.current

    def compute() -> dict[str, Any]:
        snapshot = _accounts(organization).aggregate(n=Count("id"), at=Max("synced_at"))
        keyword_rows = _keyword_rows(organization, date_range)
        return {
            "account_count": snapshot["n"],
            "snapshot_at": snapshot["at"],
            "top_accounts": top_accounts(organization=organization),
            "days": engagement_per_day(organization=organization, date_range=date_range),
            "keywords": _rank_keywords(keyword_rows),
            # The same rows hold every account that researched a keyword: no second query.
            "intent_account_count": len({row["account_id"] for row in keyword_rows}),
            "stages": journey_stages(organization=organization),
        }

    data = cached(
        organization_id=organization.pk,
        name="accounts",
        params=(date_range.start, date_range.end),
        compute=compute,
    )
    windows = restatement_windows(organization=organization, today=period.today)
    restatement = next((windows[p] for p in ABM_PLATFORMS if p in windows), None)
    if restatement is not None and not restatement.overlaps(date_range):
        restatement = None
    since = restatement.since if restatement else None
    days = [replace(d, provisional=since is not None and d.day >= since) for d in data.pop("days")]
    chart = bar_chart([ChartPoint(d.day, d.minutes, d.provisional) for d in days], unit="minutes")
    intent_chart = bar_chart(
        [ChartPoint(d.day, Decimal(d.intent_accounts), d.provisional) for d in days], unit="accounts"
    )
    platforms = organization_platforms(organization=organization)
    return AccountsReport(
        period=period,
        connected=any(p in platforms for p in ABM_PLATFORMS) or bool(data["account_count"]),
        days=days,
        chart=chart,
        intent_chart=intent_chart,
        restatement=restatement,
        **data,
    )

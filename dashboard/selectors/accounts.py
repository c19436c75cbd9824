"""Target accounts (Demandbase): the most engaged accounts, engagement per day, intent keywords.

The account list is the platform's latest snapshot (engagement over its last 7 and 30 days, as
Demandbase computes it); engagement per day and intent keywords cover the selected period. The
period's engagement minutes and page views are compared with the previous period, the same dates a
month and a year earlier, from the raw rows and, for days past the retention, the daily history.

Missing figures are never zeros. A figure a tenant does not report (NULL in every row of the
period) is ``None`` on every day, and the page says so in words instead of a column of dashes. A
day whose rows all leave a reported figure out is ``None`` ("—") for that figure. A day without any
row is a day without engagement (Demandbase sends a row for an account that did something), so it
reads 0 for the figures the tenant reports. Totals over the period add up the days that have the
figure and say how many days of the period are without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Sum

from connectors.registry import platforms_feeding
from dashboard.cache import cached
from dashboard.charts import BarChart, ChartPoint, bar_chart
from dashboard.periods import DateRange, Period
from dashboard.selectors.common import organization_platforms, percent_change
from dashboard.selectors.comparison import PREVIOUS, Comparison, comparisons_for
from dashboard.selectors.restatements import ENGAGEMENT_DATASET, SettlingNote, settling_get, settling_notes
from etl.models import AbmAccount, AbmEngagementDaily, AbmEngagementHistoryDaily
from tenancy.models import Organization

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
    """One day's engagement of every account; ``None`` where no row of the day reported the figure."""

    day: date
    minutes: Decimal | None
    points: Decimal | None
    web_minutes: Decimal | None
    email_minutes: Decimal | None
    ad_minutes: Decimal | None
    page_views: int | None
    accounts: int | None  # accounts with engagement minutes or page views that day
    intent_accounts: int | None = 0  # accounts researching intent keywords that day
    people_researching: int | None = 0
    provisional: bool = False


# EngagementDay attribute -> what the page calls it when the tenant never reports it
ENGAGEMENT_FIGURES: dict[str, str] = {
    "minutes": "engagement minutes",
    "points": "engagement points",
    "web_minutes": "web minutes",
    "email_minutes": "email minutes",
    "ad_minutes": "ad minutes",
    "page_views": "page views",
    "accounts": "engaged accounts (minutes or page views)",
    "intent_accounts": "intent keywords",
    "people_researching": "people researching",
}


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
class EngagementTotals:
    """A period's engagement added up over its account days (an account's row on a day): the figures
    of the rows that have them, None when none has. A row without minutes is not counted as missing
    data: an account researching a keyword has a row on a day it did nothing else (its intent), and
    the page's own figures read such a day as one without engagement."""

    account_days: int
    minutes: Decimal | None
    page_views: int | None


@dataclass(frozen=True)
class EngagementCompared:
    """The period's engagement against one compared period (``then`` None: not compared)."""

    comparison: Comparison
    then: EngagementTotals | None
    minutes_change: Decimal | None = None


def _plus(a: Any, b: Any) -> Any:
    """A sum of two parts where None is "no part had the figure", not 0."""
    return b if a is None else a if b is None else a + b


def engagement_totals(*, organization: Organization, date_range: DateRange) -> EngagementTotals:
    """The range's engagement: the raw rows, and for the days folded into
    ``warehouse_abm_engagement_history_daily`` its day sums (a connection's day from one or the
    other, never both)."""
    raw = _engagement(organization, date_range).aggregate(
        days=Count("id"),
        minutes=Sum("engagement_minutes"),
        views=Sum("page_views"),
    )
    still_raw = AbmEngagementDaily.objects.filter(
        connection_id=OuterRef("connection_id"), date=OuterRef("date")
    )
    folded = (
        AbmEngagementHistoryDaily.objects.filter(
            organization_id=organization.pk, date__gte=date_range.start, date__lte=date_range.end
        )
        .exclude(Exists(still_raw))
        .aggregate(
            days=Sum("accounts"),
            minutes=Sum("engagement_minutes"),
            views=Sum("page_views"),
        )
    )
    minutes = _plus(raw["minutes"], folded["minutes"])
    views = _plus(raw["views"], folded["views"])
    return EngagementTotals(
        account_days=int(raw["days"] or 0) + int(folded["days"] or 0),
        minutes=None if minutes is None else Decimal(minutes),
        page_views=None if views is None else int(views),
    )


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
    restatements: list[SettlingNote] = field(default_factory=list)  # the engagement days still settling
    intent_chart: BarChart | None = None  # accounts researching intent keywords per day
    intent_account_count: int = 0
    # The previous period, a month and a year earlier (dashboard/selectors/comparison.py).
    comparisons: list[EngagementCompared] = field(default_factory=list)

    @property
    def previous_comparison(self) -> Comparison | None:
        return next((c.comparison for c in self.comparisons if c.comparison.key == PREVIOUS), None)

    @property
    def has_data(self) -> bool:
        return bool(self.account_count or any(d.accounts or d.intent_accounts for d in self.days))

    @property
    def has_minutes(self) -> bool:
        return any(d.minutes for d in self.days)

    @property
    def has_intent_days(self) -> bool:
        return any(d.intent_accounts for d in self.days)

    def _reported(self, attribute: str) -> list[Any]:
        return [getattr(d, attribute) for d in self.days if getattr(d, attribute) is not None]

    @property
    def reported_figures(self) -> set[str]:
        """The ``EngagementDay`` figures that at least one day of the period has."""
        return {name for name in ENGAGEMENT_FIGURES if self._reported(name)}

    @property
    def unreported_figures(self) -> list[str]:
        """What the tenant reported on no day of the period, in words ("engagement minutes", ...)."""
        reported = self.reported_figures
        return [label for name, label in ENGAGEMENT_FIGURES.items() if name not in reported]

    @property
    def total_minutes(self) -> Decimal | None:
        """The minutes of the days that have them; None when no day has any."""
        found = self._reported("minutes")
        return sum(found, Decimal("0")) if found else None

    @property
    def days_without_minutes(self) -> int:
        """Days of the period whose rows all leave the engagement minutes out (0 if none has any)."""
        if self.total_minutes is None:
            return 0
        return sum(1 for d in self.days if d.minutes is None)

    @property
    def engaged_accounts(self) -> int | None:
        return max(self._reported("accounts"), default=None)

    @property
    def days_without_engaged_accounts(self) -> int:
        if self.engaged_accounts is None:
            return 0
        return sum(1 for d in self.days if d.accounts is None)


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
    """Every day of the range; see the module docstring for days and figures without data."""
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
            intent_reported=Count("id", filter=Q(intent_keywords__isnull=False)),
            engaged=Count(
                "account_id", distinct=True, filter=Q(engagement_minutes__gt=0) | Q(page_views__gt=0)
            ),
            engaged_reported=Count(
                "id", filter=Q(engagement_minutes__isnull=False) | Q(page_views__isnull=False)
            ),
        )
        .order_by("date")
    )
    found: dict[date, dict[str, Any]] = {}
    for row in rows:
        # A count over rows that all leave its inputs out is unknown, not zero.
        row["engaged"] = row["engaged"] if row["engaged_reported"] else None
        row["intent"] = row["intent"] if row["intent_reported"] else None
        found[row["date"]] = row
    names = ("minutes", "points", "web", "email", "ad", "views", "engaged", "intent", "people")
    # A day without rows is a day without engagement: 0 for what the tenant reports in the range.
    quiet: dict[str, Any] = {
        name: 0 if any(row[name] is not None for row in found.values()) else None for name in names
    }

    def decimal(value: Any) -> Decimal | None:
        return None if value is None else Decimal(value)

    def integer(value: Any) -> int | None:
        return None if value is None else int(value)

    days = []
    for day in date_range.dates():
        row = found.get(day) or quiet
        days.append(
            EngagementDay(
                day=day,
                minutes=decimal(row["minutes"]),
                points=decimal(row["points"]),
                web_minutes=decimal(row["web"]),
                email_minutes=decimal(row["email"]),
                ad_minutes=decimal(row["ad"]),
                page_views=integer(row["views"]),
                accounts=integer(row["engaged"]),
                intent_accounts=integer(row["intent"]),
                people_researching=integer(row["people"]),
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
            "now": engagement_totals(organization=organization, date_range=date_range),
            "compared": {
                c.key: engagement_totals(organization=organization, date_range=c.date_range)
                for c in comparisons
                if c.available
            },
        }

    comparisons = comparisons_for(organization=organization, period=period, history=AbmEngagementHistoryDaily)
    data = cached(
        organization_id=organization.pk,
        name="accounts",
        params=(date_range.start, date_range.end, tuple(c.available for c in comparisons)),
        compute=compute,
    )
    now, compared = data.pop("now"), data.pop("compared")
    feeding = platforms_feeding("abm_account", "abm_engagement_daily")  # the platforms this page speaks of
    settling = settling_get(organization=organization, dataset=ENGAGEMENT_DATASET)
    days = [replace(d, provisional=settling.day(d.day)) for d in data.pop("days")]
    chart = bar_chart([ChartPoint(d.day, d.minutes, d.provisional) for d in days], unit="minutes")
    intent_chart = bar_chart(
        [
            ChartPoint(
                d.day, None if d.intent_accounts is None else Decimal(d.intent_accounts), d.provisional
            )
            for d in days
        ],
        unit="accounts",
    )
    platforms = organization_platforms(organization=organization)
    return AccountsReport(
        period=period,
        connected=any(p in platforms for p in feeding) or bool(data["account_count"]),
        days=days,
        chart=chart,
        intent_chart=intent_chart,
        restatements=settling_notes(settling, date_range.start, date_range.end),
        comparisons=[
            EngagementCompared(
                c,
                then := compared.get(c.key),
                percent_change(now.minutes, then.minutes) if then is not None else None,
            )
            for c in comparisons
        ],
        **data,
    )


"""The funnel: ad spend → email engagement → leads → deals → target accounts, for one period.

Each stage is read from its own platform's table for the period: ads by day, email campaigns by
send time, leads and deals by creation time (the deals are those created in the period; the won
ones are those of them at the stage "Closed Won" now), target accounts with engagement on a day of
the period. Money stays in its currency: ad spend per ad currency, deal amounts per deal currency.

Stages are joined only where records say how they belong together, and the page says how many
matched and by which rule:

- leads → ad campaigns, and won deals → ad campaigns: the Pipeline page's rules
  (``dashboard.selectors.pipeline``: UTM campaign = ad campaign ID, or = its name, or CRM campaign =
  its name). Cost per lead is the spend of the campaigns leads matched divided by those leads; cost
  per won deal likewise with won deals, each in the ad campaign's currency.
- won deals → target accounts: the deal's account name equals a Demandbase account's name, compared
  without case, spaces or punctuation.

A stage whose platform is not connected (and holds no rows) is missing, not zero: its figures are
``None`` ("—") and the page says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Round

from connectors.registry import platforms_feeding
from dashboard.cache import cached
from dashboard.periods import DateRange, Period
from dashboard.selectors.ads import Metrics, overview_totals
from dashboard.selectors.common import organization_platforms
from dashboard.selectors.email import EmailTotals, email_totals
from dashboard.selectors.pipeline import (
    MATCH_RULES,
    CostPerLead,
    MatchSummary,
    cost_per_lead,
    match_key,
    match_to_ad_campaigns,
)
from etl.models import AbmAccount, AbmEngagementDaily, CrmDeal
from tenancy.models import Organization

WON_STAGE = "Closed Won"
ACCOUNT_RULE = "deal account name = target account name (without case, spaces or punctuation)"


@dataclass(frozen=True)
class Join:
    """How records of one stage were joined to another: how many matched, of how many, and how."""

    key: str
    title: str
    of: int  # records that could be joined
    matched: int
    rules: list[str]
    ambiguous: int = 0  # matched several candidates, so counted for none
    unmatched: int = 0  # named a campaign or account that matched none
    without_key: int = 0  # named no campaign or account at all


@dataclass(frozen=True)
class AdStage:
    """One ad currency: what was spent, and what the joined leads and won deals cost."""

    totals: Metrics
    lead_spend: Decimal | None = None  # spend of the campaigns leads matched
    leads: int = 0  # leads matched to those campaigns
    won_spend: Decimal | None = None
    won_deals: int = 0

    @property
    def currency(self) -> str:
        return self.totals.currency

    @property
    def cost_per_lead(self) -> Decimal | None:
        return self.lead_spend / self.leads if self.lead_spend is not None and self.leads else None

    @property
    def cost_per_won_deal(self) -> Decimal | None:
        return self.won_spend / self.won_deals if self.won_spend is not None and self.won_deals else None


@dataclass(frozen=True)
class DealStage:
    """Deals created in the period in one currency ("" when Zoho sent none), and the won ones."""

    currency: str
    deals: int
    won: int
    won_amount: Decimal | None  # None: no won deal has an amount
    won_without_amount: int = 0


@dataclass(frozen=True)
class AccountStage:
    target_accounts: int
    engaged: int  # target accounts with engagement on a day of the period


@dataclass(frozen=True)
class FunnelReport:
    period: Period
    ads: list[AdStage] | None  # None: no ad platform connected
    email: EmailTotals | None  # None: no email platform connected
    leads: int | None  # None: no CRM connected
    deals: list[DealStage] | None
    accounts: AccountStage | None  # None: no ABM platform connected
    joins: list[Join] = field(default_factory=list)

    @property
    def won_deals(self) -> int | None:
        return sum(d.won for d in self.deals) if self.deals is not None else None

    @property
    def has_data(self) -> bool:
        return any(
            (
                self.ads,
                self.email is not None and self.email.campaigns,
                self.leads,
                self.deals,
                self.accounts is not None and self.accounts.target_accounts,
            )
        )


def _bounds(date_range: DateRange) -> tuple[datetime, datetime]:
    start = datetime.combine(date_range.start, time.min, tzinfo=UTC)
    return start, datetime.combine(date_range.end + timedelta(days=1), time.min, tzinfo=UTC)


def _deals(organization: Organization, date_range: DateRange) -> QuerySet[CrmDeal]:
    start, end = _bounds(date_range)
    return CrmDeal.objects.filter(
        organization_id=organization.pk, created_time__gte=start, created_time__lt=end
    )


def _won(deals: QuerySet[CrmDeal]) -> QuerySet[CrmDeal]:
    return deals.filter(stage__iexact=WON_STAGE)


def deal_stages(deals: QuerySet[CrmDeal]) -> list[DealStage]:
    won = Q(stage__iexact=WON_STAGE)
    rows = (
        deals.values("currency")
        .annotate(
            n=Count("id"),
            n_won=Count("id", filter=won),
            won_total=Sum(Round("amount", 2), filter=won),
            won_without=Count("id", filter=won & Q(amount__isnull=True)),
        )
        .order_by("currency")
    )
    return [
        DealStage(row["currency"] or "", row["n"], row["n_won"], row["won_total"], row["won_without"])
        for row in rows
    ]


def _join_of(key: str, title: str, summary: MatchSummary) -> Join:
    return Join(
        key=key,
        title=title,
        of=summary.matched_leads
        + summary.ambiguous_leads
        + summary.unmatched_leads
        + summary.leads_without_campaign,
        matched=summary.matched_leads,
        rules=list(MATCH_RULES.values()),
        ambiguous=summary.ambiguous_leads,
        unmatched=summary.unmatched_leads,
        without_key=summary.leads_without_campaign,
    )


def _spend_and_count(rows: Iterable[CostPerLead]) -> dict[str, tuple[Decimal, int]]:
    """Per ad currency: the spend of the matched campaigns and the records matched to them."""
    found: dict[str, tuple[Decimal, int]] = {}
    for row in rows:
        spend, count = found.get(row.currency, (Decimal("0"), 0))
        found[row.currency] = (spend + row.spend, count + row.leads)
    return found


def _won_deal_groups(won: QuerySet[CrmDeal]) -> list[dict[str, Any]]:
    """Won deals grouped as leads are, for the Pipeline page's matching rules."""
    return [
        {**row, "converted": 0, "unknown": 0}
        for row in won.values("campaign_name", "utm_campaign", "utm_source")
        .annotate(leads=Count("id"))
        .order_by()
    ]


def _account_join(organization: Organization, won: QuerySet[CrmDeal]) -> Join:
    names = {
        match_key(name)
        for name in AbmAccount.objects.filter(organization_id=organization.pk).values_list("name", flat=True)
        if match_key(name)
    }
    matched = without = of = 0
    for account_name, n in won.values_list("account_name").annotate(n=Count("id")).order_by():
        of += n
        key = match_key(account_name)
        if not key:
            without += n
        elif key in names:
            matched += n
    return Join(
        key="won_accounts",
        title="Won deals → target accounts",
        of=of,
        matched=matched,
        rules=[ACCOUNT_RULE],
        unmatched=of - matched - without,
        without_key=without,
    )


def _compute(organization: Organization, date_range: DateRange) -> dict[str, Any]:
    platforms = organization_platforms(organization=organization)

    def connected(*datasets: str) -> bool:
        return any(p in platforms for p in platforms_feeding(*datasets))

    ad_totals = overview_totals(organization=organization, date_range=date_range)
    deals = _deals(organization, date_range)
    won = _won(deals)
    lead_rows, lead_match = cost_per_lead(organization=organization, date_range=date_range)
    won_rows, won_match = match_to_ad_campaigns(
        organization=organization, date_range=date_range, groups=_won_deal_groups(won)
    )
    by_lead, by_won = _spend_and_count(lead_rows), _spend_and_count(won_rows)
    ads = [
        AdStage(
            totals=m,
            lead_spend=by_lead.get(m.currency, (None, 0))[0],
            leads=by_lead.get(m.currency, (None, 0))[1],
            won_spend=by_won.get(m.currency, (None, 0))[0],
            won_deals=by_won.get(m.currency, (None, 0))[1],
        )
        for m in ad_totals
    ]
    crm = connected("crm_lead", "crm_deal")
    abm = connected("abm_account", "abm_engagement_daily")
    engaged = (
        AbmEngagementDaily.objects.filter(
            organization_id=organization.pk, date__gte=date_range.start, date__lte=date_range.end
        )
        .values("account_id")
        .distinct()
        .count()
    )
    target_accounts = AbmAccount.objects.filter(organization_id=organization.pk).count()
    leads_total = _join_of("leads", "", lead_match).of
    return {
        "ads": ads if ads or connected("ad_performance_daily") else None,
        "email": email_totals(organization=organization, date_range=date_range)
        if connected("email_campaign")
        else None,
        "leads": leads_total if crm or leads_total else None,
        "deals": deal_stages(deals) if crm or deals.exists() else None,
        "accounts": AccountStage(target_accounts, engaged) if abm or target_accounts else None,
        "joins": [
            _join_of("leads", "Leads → ad campaigns", lead_match),
            _join_of("won_deals", "Won deals → ad campaigns", won_match),
            _account_join(organization, won),
        ],
    }


def funnel_report(*, organization: Organization, period: Period) -> FunnelReport:
    """The funnel page's figures for the period (cached)."""
    date_range = period.current
    data = cached(
        organization_id=organization.pk,
        name="funnel",
        params=(date_range.start, date_range.end),
        compute=lambda: _compute(organization, date_range),
    )
    return FunnelReport(period=period, **data)

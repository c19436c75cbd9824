"""Pipeline (Zoho CRM): leads and deals by source and campaign, deal amounts by stage, and the cost
per lead of the ad campaigns that CRM records can be matched to.

How leads are matched to ad campaigns (the page says the same): a CRM lead belongs to an ad
campaign when, comparing without case, spaces or punctuation,

1. its UTM campaign equals the ad campaign's ID, or else
2. its UTM campaign equals the ad campaign's name, or else
3. its CRM campaign name equals the ad campaign's name.

The first rule that finds an ad campaign decides. When a rule finds campaigns on several platforms,
the UTM source (``linkedin``, ``google``, ...) picks the platform; leads that still match several
campaigns are counted as ambiguous rather than twice. Leads are those created in the period; spend
is the matched campaign's spend in the same period, in its own currency.

Leads and deals by campaign are grouped by the CRM campaign, else the UTM campaign. A UTM campaign
often holds an ad campaign's id (a marketer's UTM template writes it so); such a group is shown by
the ad campaign's name, with the id and platform beside it (on hover and in the CSV).

What Zoho did not send is never counted as zero. A deal without an amount adds nothing to a total
and the total says how many of its deals have none; a total whose deals all lack an amount is
``None`` ("—"). A lead without a conversion status (``converted`` NULL) is neither converted nor
not: converted counts are ``None`` when no lead of the group has a status, and conversion rates are
taken over the leads that have one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, NullIf, Round

from connectors.registry import platforms_feeding
from dashboard.cache import cache_scope, cached
from dashboard.charts import BarChart, ChartPoint, bar_chart
from dashboard.periods import DateRange, Period
from dashboard.selectors.ads import AdCampaignName, ad_campaign_names, campaign_totals
from dashboard.selectors.common import (
    Restatement,
    organization_platforms,
    parse_day,
    platform_name,
    restatement_windows,
    utc_day,
)
from dashboard.selectors.paging import RowsPage, rows_page
from etl.models import CrmDeal, CrmLead
from tenancy.models import Organization

NONE_LABEL = "(not set)"
TOP_GROUPS = 25

MATCH_RULES = {
    "utm_id": "UTM campaign = ad campaign ID",
    "utm_name": "UTM campaign = ad campaign name",
    "crm_name": "CRM campaign = ad campaign name",
}

# Words in a UTM source that point to an ad platform.
SOURCE_HINTS = {
    "linkedin_ads": ("linkedin", "lnkd", "li"),
    "google_ads": ("google", "adwords", "gads"),
}


def match_key(value: str | None) -> str:
    """Lower case, every run of spaces and punctuation turned into one space."""
    return re.sub(r"[\W_]+", " ", (value or "").lower()).strip()


def _converted_percent(converted: int | None, leads: int, unknown: int) -> Decimal | None:
    known = leads - unknown
    if converted is None or known <= 0:
        return None
    return Decimal(converted) * 100 / Decimal(known)


@dataclass(frozen=True)
class LeadGroup:
    label: str
    leads: int
    converted: int | None  # None: no lead of the group has a conversion status
    unknown: int = 0  # leads without a conversion status
    ad_campaign_id: str = ""  # the group named an ad campaign by this id; ``label`` is its name
    ad_platform_name: str = ""  # that ad campaign's platform

    @property
    def conversion_percent(self) -> Decimal | None:
        """Converted leads of the leads whose status is known."""
        return _converted_percent(self.converted, self.leads, self.unknown)


@dataclass(frozen=True)
class DealGroup:
    label: str
    currency: str
    deals: int
    amount: Decimal | None  # None: no deal of the group has an amount
    without_amount: int = 0  # deals of the group without an amount
    ad_campaign_id: str = ""  # the group named an ad campaign by this id; ``label`` is its name
    ad_platform_name: str = ""


Group = TypeVar("Group", LeadGroup, DealGroup)


@dataclass(frozen=True)
class CostPerLead:
    platform: str
    platform_name: str
    connection_id: int
    campaign_id: str
    campaign_name: str
    currency: str
    spend: Decimal
    leads: int
    converted: int | None
    matched_by: list[str]
    unknown: int = 0  # matched leads without a conversion status

    @property
    def cost_per_lead(self) -> Decimal | None:
        return self.spend / Decimal(self.leads) if self.leads else None


@dataclass(frozen=True)
class MatchSummary:
    matched_leads: int = 0
    ambiguous_leads: int = 0
    unmatched_leads: int = 0  # had campaign or UTM information that matched no ad campaign
    leads_without_campaign: int = 0
    campaigns_without_leads: int = 0


@dataclass(frozen=True)
class DealTotals:
    currency: str
    deals: int
    amount: Decimal | None  # None: no deal has an amount
    without_amount: int = 0


@dataclass(frozen=True)
class PipelineReport:
    period: Period
    connected: bool
    leads: int
    converted: int | None
    previous_leads: int | None
    deals: list[DealTotals]
    leads_by_source: list[LeadGroup]
    leads_by_campaign: list[LeadGroup]
    deals_by_stage: list[DealGroup]
    deals_by_source: list[DealGroup]
    deals_by_campaign: list[DealGroup]
    cost_per_lead_shown: RowsPage[CostPerLead]  # the page of the cost-per-lead table shown
    match: MatchSummary
    chart: BarChart
    restatement: Restatement | None = None
    match_rules: dict[str, str] = field(default_factory=lambda: dict(MATCH_RULES))
    every_cost_per_lead: Callable[[], list[CostPerLead]] = field(default=list, repr=False, compare=False)
    converted_unknown: int = 0  # leads of the period without a conversion status

    @property
    def cost_per_lead(self) -> list[CostPerLead]:
        """Every matched campaign (the CSV download); read only when asked for."""
        return self.every_cost_per_lead()

    @property
    def has_data(self) -> bool:
        return bool(self.leads or self.deals)

    @property
    def leads_change_percent(self) -> Decimal | None:
        if self.previous_leads is None or not self.previous_leads:
            return None
        return Decimal(self.leads - self.previous_leads) * 100 / Decimal(self.previous_leads)


def _bounds(date_range: DateRange) -> tuple[datetime, datetime]:
    start = datetime.combine(date_range.start, time.min, tzinfo=UTC)
    return start, datetime.combine(date_range.end + timedelta(days=1), time.min, tzinfo=UTC)


def _leads(organization: Organization, date_range: DateRange) -> QuerySet[CrmLead]:
    start, end = _bounds(date_range)
    return CrmLead.objects.filter(
        organization_id=organization.pk, created_time__gte=start, created_time__lt=end
    )


def _deals(organization: Organization, date_range: DateRange) -> QuerySet[CrmDeal]:
    start, end = _bounds(date_range)
    return CrmDeal.objects.filter(
        organization_id=organization.pk, created_time__gte=start, created_time__lt=end
    )


def _label(field_name: str) -> Any:
    return Coalesce(NullIf(field_name, Value("")), Value(NONE_LABEL))


def _campaign_label() -> Any:
    return Coalesce(NullIf("campaign_name", Value("")), NullIf("utm_campaign", Value("")), Value(NONE_LABEL))


# "unknown" comes before the "converted" alias, whose filters would read the aggregate otherwise.
_LEAD_COUNTS: dict[str, Any] = {
    "leads": Count("id"),
    "unknown": Count("id", filter=Q(converted__isnull=True)),
    "converted": Count("id", filter=Q(converted=True)),
}


def _converted(row: dict[str, Any]) -> int | None:
    return None if row["unknown"] >= row["leads"] else row["converted"]


def leads_grouped(rows: QuerySet[CrmLead], label: Any, limit: int = TOP_GROUPS) -> list[LeadGroup]:
    grouped = (
        rows.annotate(group_label=label)
        .values("group_label")
        .annotate(**_LEAD_COUNTS)
        .order_by("-leads", "group_label")[:limit]
    )
    return [LeadGroup(row["group_label"], row["leads"], _converted(row), row["unknown"]) for row in grouped]


def _amount_sum() -> Sum:
    """Deal amounts added up in cents: each deal rounded to the cent first (half away from zero), so
    the amounts by stage add up to the total to the cent. NULL stays NULL."""
    return Sum(Round("amount", 2))


def deals_grouped(rows: QuerySet[CrmDeal], label: Any, limit: int = TOP_GROUPS) -> list[DealGroup]:
    grouped = (
        rows.annotate(group_label=label)
        .values("group_label", "currency")
        .annotate(deals=Count("id"), total=_amount_sum(), without=Count("id", filter=Q(amount__isnull=True)))
        .order_by("currency", F("total").desc(nulls_last=True), "group_label")[:limit]
    )
    return [
        DealGroup(row["group_label"], row["currency"] or "", row["deals"], row["total"], row["without"])
        for row in grouped
    ]


def deal_totals(rows: QuerySet[CrmDeal]) -> list[DealTotals]:
    grouped = (
        rows.values("currency")
        .annotate(deals=Count("id"), total=_amount_sum(), without=Count("id", filter=Q(amount__isnull=True)))
        .order_by("currency")
    )
    return [DealTotals(row["currency"] or "", row["deals"], row["total"], row["without"]) for row in grouped]


def named_by_ad_campaign(groups: list[Group], names: dict[str, list[AdCampaignName]]) -> list[Group]:
    """Groups labelled with an ad campaign's id, labelled with that campaign's name instead (the id
    and platform kept beside it). ``names`` is ``ad_campaign_names`` of the labels."""
    found = []
    for group in groups:
        campaigns = names.get(group.label.strip())
        if not campaigns:
            found.append(group)
            continue
        found.append(
            replace(
                group,
                label=" / ".join(sorted({c.name for c in campaigns})),
                ad_campaign_id=group.label.strip(),
                ad_platform_name=", ".join(sorted({c.platform_name for c in campaigns})),
            )
        )
    return found


def leads_per_day(rows: QuerySet[CrmLead]) -> dict[date, int]:
    grouped = rows.annotate(day=utc_day("created_time")).values("day").annotate(n=Count("id")).order_by("day")
    found: dict[date, int] = {}
    for row in grouped:
        day = parse_day(row["day"])
        if day is not None:
            found[day] = found.get(day, 0) + row["n"]
    return found


# --------------------------------------------------------------------------------------------
# Cost per lead
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AdCampaign:
    platform: str
    connection_id: int
    campaign_id: str
    campaign_name: str
    currency: str
    spend: Decimal


def _ad_campaigns(organization: Organization, date_range: DateRange) -> list[_AdCampaign]:
    """Each ad campaign's spend in the range, per currency (from the cached campaign totals)."""
    grouped: dict[tuple[int, str, str, str], tuple[str, Decimal]] = {}
    for row in campaign_totals(organization=organization, date_range=date_range):
        key = (row["connection_id"], row["campaign_id"], row["currency"], row["platform"])
        name, spend = grouped.get(key, ("", Decimal("0")))
        grouped[key] = (max(name, row["campaign_label"] or ""), spend + (row["sum_spend"] or Decimal("0")))
    return [
        _AdCampaign(platform, connection_id, campaign_id, name, currency, spend)
        for (connection_id, campaign_id, currency, platform), (name, spend) in grouped.items()
    ]


def _narrow_by_source(found: list[_AdCampaign], utm_source: str | None) -> list[_AdCampaign]:
    if len(found) < 2:
        return found
    platforms = {c.platform for c in found}
    if len(platforms) < 2:
        return found
    words = set(match_key(utm_source).split())
    hinted = {p for p, hints in SOURCE_HINTS.items() if words & set(hints)}
    narrowed = [c for c in found if c.platform in hinted]
    return narrowed or found


def match_leads(
    ad_campaigns: Iterable[_AdCampaign], lead_groups: Iterable[dict[str, Any]]
) -> tuple[list[CostPerLead], MatchSummary]:
    """Assign grouped leads to ad campaigns by the rules in the module docstring."""
    campaigns = list(ad_campaigns)
    keys: dict[str | None, str] = {}  # the same names and sources recur in many groups

    def key_of(value: str | None) -> str:
        found = keys.get(value)
        if found is None:
            found = keys[value] = match_key(value)
        return found

    by_id: dict[str, list[_AdCampaign]] = {}
    by_name: dict[str, list[_AdCampaign]] = {}
    for campaign in campaigns:
        by_id.setdefault(key_of(campaign.campaign_id), []).append(campaign)
        if key_of(campaign.campaign_name):
            by_name.setdefault(key_of(campaign.campaign_name), []).append(campaign)

    counts: dict[tuple[int, str, str], list[int]] = {}
    rules_used: dict[tuple[int, str, str], set[str]] = {}
    summary = {"matched": 0, "ambiguous": 0, "unmatched": 0, "none": 0}
    for group in lead_groups:
        utm, crm = key_of(group.get("utm_campaign")), key_of(group.get("campaign_name"))
        leads, converted = int(group["leads"]), int(group["converted"])
        unknown = int(group.get("unknown") or 0)
        if not utm and not crm:
            summary["none"] += leads
            continue
        found, rule = [], ""
        for rule_name, key, index in (
            ("utm_id", utm, by_id),
            ("utm_name", utm, by_name),
            ("crm_name", crm, by_name),
        ):
            if key and index.get(key):
                found, rule = index[key], rule_name
                break
        found = _narrow_by_source(found, group.get("utm_source"))
        if not found:
            summary["unmatched"] += leads
            continue
        if len(found) > 1:
            summary["ambiguous"] += leads
            continue
        target = found[0]
        key3 = (target.connection_id, target.campaign_id, target.currency)
        total = counts.setdefault(key3, [0, 0, 0])
        total[0] += leads
        total[1] += converted
        total[2] += unknown
        rules_used.setdefault(key3, set()).add(MATCH_RULES[rule])
        summary["matched"] += leads

    rows = []
    for campaign in campaigns:
        key3 = (campaign.connection_id, campaign.campaign_id, campaign.currency)
        if key3 not in counts:
            continue
        leads, converted, unknown = counts[key3]
        rows.append(
            CostPerLead(
                platform=campaign.platform,
                platform_name=platform_name(campaign.platform),
                connection_id=campaign.connection_id,
                campaign_id=campaign.campaign_id,
                campaign_name=campaign.campaign_name,
                currency=campaign.currency,
                spend=campaign.spend,
                leads=leads,
                converted=None if unknown >= leads else converted,
                matched_by=sorted(rules_used[key3]),
                unknown=unknown,
            )
        )
    rows.sort(key=lambda r: (r.currency, -r.leads, r.campaign_name))
    with_spend = sum(1 for c in campaigns if c.spend > 0)
    return rows, MatchSummary(
        matched_leads=summary["matched"],
        ambiguous_leads=summary["ambiguous"],
        unmatched_leads=summary["unmatched"],
        leads_without_campaign=summary["none"],
        campaigns_without_leads=max(0, with_spend - sum(1 for r in rows if r.spend > 0)),
    )


def cost_per_lead(
    *, organization: Organization, date_range: DateRange
) -> tuple[list[CostPerLead], MatchSummary]:
    groups = (
        _leads(organization, date_range)
        .values("campaign_name", "utm_campaign", "utm_source")
        .annotate(**_LEAD_COUNTS)
    )
    return match_leads(_ad_campaigns(organization, date_range), groups)


def match_to_ad_campaigns(
    *, organization: Organization, date_range: DateRange, groups: Iterable[dict[str, Any]]
) -> tuple[list[CostPerLead], MatchSummary]:
    """CRM records grouped as for leads (``campaign_name``, ``utm_campaign``, ``utm_source``,
    ``leads``, ``converted``, ``unknown``) matched to the range's ad campaigns by the same rules:
    the funnel matches won deals this way."""
    return match_leads(_ad_campaigns(organization, date_range), groups)


def _cost_per_lead_cached(
    organization: Organization, date_range: DateRange, scope: str
) -> tuple[list[CostPerLead], MatchSummary]:
    return cached(
        organization_id=organization.pk,
        name="pipeline-cost-per-lead",
        params=(date_range.start, date_range.end),
        compute=lambda: cost_per_lead(organization=organization, date_range=date_range),
        scope=scope,
    )


def cost_per_lead_page(
    *, organization: Organization, date_range: DateRange, page: int, scope: str
) -> RowsPage[CostPerLead]:
    """One page of the cost-per-lead table, cached on its own: showing it reads 50 lines, not all."""
    return cached(
        organization_id=organization.pk,
        name="pipeline-cost-per-lead-page",
        params=(date_range.start, date_range.end, page),
        compute=lambda: rows_page(_cost_per_lead_cached(organization, date_range, scope)[0], page),
        scope=scope,
    )


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def pipeline_report(*, organization: Organization, period: Period, page: int = 1) -> PipelineReport:
    """The pipeline page's figures; ``page`` is the page of the cost-per-lead table shown."""
    date_range = period.current
    scope = cache_scope(organization.pk)

    def compute() -> dict[str, Any]:
        leads = _leads(organization, date_range)
        deals = _deals(organization, date_range)
        counts = leads.aggregate(**_LEAD_COUNTS)
        _, match = _cost_per_lead_cached(organization, date_range, scope)
        leads_by_campaign = leads_grouped(leads, _campaign_label())
        deals_by_campaign = deals_grouped(deals, _campaign_label())
        names = ad_campaign_names(
            organization=organization,
            campaign_ids=[
                *(g.label.strip() for g in leads_by_campaign),
                *(g.label.strip() for g in deals_by_campaign),
            ],
        )
        return {
            "leads": counts["leads"],
            "converted": _converted(counts),
            "converted_unknown": counts["unknown"],
            "previous_leads": _leads(organization, period.previous).count() if period.comparable else None,
            "deals": deal_totals(deals),
            "leads_by_source": leads_grouped(leads, _label("lead_source")),
            "leads_by_campaign": named_by_ad_campaign(leads_by_campaign, names),
            "deals_by_stage": deals_grouped(deals, _label("stage"), limit=100),
            "deals_by_source": deals_grouped(deals, _label("lead_source")),
            "deals_by_campaign": named_by_ad_campaign(deals_by_campaign, names),
            "match": match,
            "per_day": leads_per_day(leads),
        }

    data = cached(
        organization_id=organization.pk,
        name="pipeline-summary",  # without the cost-per-lead lines, which are cached apart
        params=(date_range.start, date_range.end, period.comparable),
        compute=compute,
        scope=scope,
    )
    windows = restatement_windows(organization=organization, today=period.today)
    feeding = platforms_feeding("crm_lead", "crm_deal")  # the platforms this page speaks of
    restatement = next((windows[p] for p in feeding if p in windows), None)
    if restatement is not None and not restatement.overlaps(date_range):
        restatement = None
    since = restatement.since if restatement else None
    per_day = data.pop("per_day")
    chart = bar_chart(
        [
            ChartPoint(d, Decimal(per_day.get(d, 0)), since is not None and d >= since)
            for d in date_range.dates()
        ],
        unit="leads",
    )
    platforms = organization_platforms(organization=organization)
    return PipelineReport(
        period=period,
        connected=any(p in platforms for p in feeding) or bool(data["leads"] or data["deals"]),
        chart=chart,
        restatement=restatement,
        cost_per_lead_shown=cost_per_lead_page(
            organization=organization, date_range=date_range, page=page, scope=scope
        ),
        every_cost_per_lead=lambda: _cost_per_lead_cached(organization, date_range, scope)[0],
        **data,
    )

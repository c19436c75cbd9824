"""CSV exports: every table the pages show, as the same selectors compute it.

``export_table(name, organization=..., params=...)`` returns the header and rows of one table for
the period and filters in ``params`` (the page's own query string). Money keeps its currency in a
column of its own; ratios are plain numbers; nothing is converted or summed across currencies.
A figure the platform did not report is an empty cell, never 0; a group whose figure adds up only
some of its records says in a column of its own how many records lack it. In the ad tables the
records are campaign days (one campaign on one day): each line says how many it adds up
(``campaign_days``) and how many of them lack conversions or their value, and the totals table says
it per metric, in a count and in words. Money is the same cent-exact sums the pages show, so the
lines of a table add up to its total to the cent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dashboard.downloads import filename_part
from dashboard.ids import id_from_param
from dashboard.periods import Period, period_from_params
from dashboard.selectors import (
    CampaignFilters,
    Metrics,
    accounts_report,
    campaign_detail,
    campaign_list_all,
    email_report,
    funnel_report,
    overview_get,
    pipeline_report,
    sync_health_get,
)
from dashboard.selectors.restatements import AD_DATASET, restatement_changes
from tenancy.models import Organization

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MONEY = Decimal("0.01")
RATIO = Decimal("0.0001")


class UnknownExport(LookupError):
    pass


@dataclass(frozen=True)
class ExportTable:
    name: str
    header: list[str]
    rows: list[list[Any]]
    period: Period | None = None

    @property
    def filename(self) -> str:
        if self.period is None:
            return f"{self.name}.csv"
        return (
            f"{self.name}_{self.period.current.start.isoformat()}_{self.period.current.end.isoformat()}.csv"
        )


def cell(value: Any, *, places: Decimal | None = None) -> str:
    """One CSV cell: numbers plain, dates ISO, text protected against spreadsheet formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return str(value.quantize(places) if places is not None else value.normalize())
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def money(value: Decimal | None) -> str:
    return cell(value, places=MONEY)


def settled(settling: bool) -> str:
    """Whether a recent re-read changed the figures (settling) or re-reads stopped changing them."""
    return "settling" if settling else "settled"


def ratio(value: Decimal | None) -> str:
    return cell(value, places=RATIO)


AD_METRIC_HEADER = [
    "currency",
    "spend",
    "impressions",
    "clicks",
    "ctr_percent",
    "cpc",
    "conversions",
    "cost_per_conversion",
    "conversion_value",
    "roas",
    "campaign_days",
    "campaign_days_without_conversions",
    "campaign_days_without_conversion_value",
]


def _ad_metrics(m: Metrics) -> list[str]:
    return [
        cell(m.currency),
        money(m.spend),
        cell(m.impressions),
        cell(m.clicks),
        ratio(m.ctr_percent),
        money(m.cpc),
        ratio(m.conversions),
        money(m.cost_per_conversion),
        money(m.conversion_value),
        ratio(m.roas),
        cell(m.rows),
        cell(m.rows - m.rows_with_conversions),
        cell(m.rows - m.rows_with_value),
    ]


# KPI -> the campaign days it cannot count: those without conversions, or without their value
_KPI_NEEDS = {
    "conversions": "conversions",
    "cost_per_conversion": "conversions",
    "conversion_value": "conversion value",
    "roas": "conversion value",
}


def _without_data(m: Metrics, kpi: str) -> tuple[int, str]:
    """How many of the campaign days behind a KPI lack what it adds up, and a note in words."""
    needs = _KPI_NEEDS.get(kpi)
    if needs is None:
        return 0, ""
    missing = m.rows - (m.rows_with_conversions if needs == "conversions" else m.rows_with_value)
    if not missing:
        return 0, ""
    if missing >= m.rows:
        return missing, f"no campaign day has {needs}"
    return missing, f"{missing} of {m.rows} campaign days without {needs}; the figure counts the others"


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _overview_totals(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    overview = overview_get(organization=organization, period=period)
    header = [
        "metric",
        "currency",
        "value",
        "previous_period_value",
        "change_percent",
        "campaign_days",
        "campaign_days_without_data",
        "note",
    ]
    rows = []
    for group in overview.currencies:
        for kpi in group.kpis:
            missing, note = _without_data(group.current, kpi.key)
            places = (
                MONEY
                if kpi.kind == "money"
                else RATIO
                if kpi.kind in ("percent", "ratio", "decimal")
                else None
            )
            rows.append(
                [
                    cell(kpi.key),
                    cell(group.currency),
                    cell(kpi.value, places=places),
                    cell(kpi.previous, places=places),
                    ratio(kpi.change_percent),
                    cell(group.current.rows),
                    cell(missing),
                    cell(note),
                ]
            )
    return ExportTable("overview_totals", header, rows, period)


def _overview_platforms(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    overview = overview_get(organization=organization, period=period)
    rows = [[cell(p.platform_name), *_ad_metrics(p), settled(p.provisional)] for p in overview.by_platform]
    return ExportTable("overview_by_platform", ["platform", *AD_METRIC_HEADER, "figures"], rows, period)


def _overview_daily(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    overview = overview_get(organization=organization, period=period)
    rows = [[cell(d.day), *_ad_metrics(d), settled(d.provisional)] for s in overview.daily for d in s.days]
    return ExportTable("overview_daily", ["date", *AD_METRIC_HEADER, "figures"], rows, period)


def _campaigns(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    filters = CampaignFilters.from_params(params)
    header = [
        "platform",
        "account_id",
        "account_name",
        "campaign_id",
        "campaign_name",
        "status",
        *AD_METRIC_HEADER,
    ]
    rows = [
        [
            cell(c.platform_name),
            cell(c.account_id),
            cell(c.account_name),
            cell(c.campaign_id),
            cell(c.campaign_name),
            cell(c.status),
            *_ad_metrics(c),
        ]
        for c in campaign_list_all(organization=organization, period=period, filters=filters)
    ]
    return ExportTable("campaigns", header, rows, period)


def _campaign_daily(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    connection_id = id_from_param(params.get("connection"))
    if connection_id is None:
        raise UnknownExport("campaign_daily needs ?connection=<id>&campaign=<id>")
    detail = campaign_detail(
        organization=organization,
        connection_id=connection_id,
        campaign_id=params.get("campaign", ""),
        period=period,
    )
    if detail is None:
        raise UnknownExport("No such campaign")
    rows = [[cell(d.day), *_ad_metrics(d), settled(d.provisional)] for s in detail.series for d in s.days]
    name = f"campaign_{filename_part(detail.campaign_id)}_daily"  # the id as a safe part of the file name
    return ExportTable(name, ["date", *AD_METRIC_HEADER, "figures"], rows, period)


def _email_campaigns(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    report = email_report(organization=organization, period=period)
    header = [
        "send_time",
        "campaign_id",
        "title",
        "subject",
        "list",
        "emails_sent",
        "delivered",
        "unique_opens",
        "open_rate_percent",
        "unique_clicks",
        "click_rate_percent",
        "unsubscribes",
        "unsubscribe_rate_percent",
        "bounces",
        "still_updating",
    ]
    rows = [
        [
            cell(c.send_time),
            cell(c.campaign_id),
            cell(c.title),
            cell(c.subject),
            cell(c.list_name),
            cell(c.emails_sent),
            cell(c.delivered),
            cell(c.unique_opens),
            ratio(c.shown_open_rate_percent),
            cell(c.unique_clicks),
            ratio(c.shown_click_rate_percent),
            cell(c.unsubscribes),
            ratio(c.unsubscribe_rate_percent),
            cell(c.bounces),
            cell(c.provisional),
        ]
        for c in report.campaigns
    ]
    return ExportTable("email_campaigns", header, rows, period)


FUNNEL_HEADER = ["stage", "currency", "metric", "value", "of", "note"]


def _funnel(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    """The funnel page in one long table: a line per stage, currency and figure, then how each
    join matched (``value`` matched of ``of``). A stage whose platform is not connected is one
    line with an empty value and the reason, never 0."""
    report = funnel_report(organization=organization, period=period)
    rows: list[list[str]] = []

    def line(
        stage: str, metric: str, value: Any, *, currency: str = "", of: Any = None, note: str = ""
    ) -> None:
        places = MONEY if isinstance(value, Decimal) else None
        rows.append([stage, cell(currency), metric, cell(value, places=places), cell(of), cell(note)])

    if report.ads is None:
        line("ads", "spend", None, note="No ad platform is connected.")
    for ad in report.ads or []:
        for metric, value in (
            ("spend", ad.totals.spend),
            ("impressions", ad.totals.impressions),
            ("clicks", ad.totals.clicks),
            ("cost_per_lead", ad.cost_per_lead),
            ("cost_per_won_deal", ad.cost_per_won_deal),
        ):
            line("ads", metric, value, currency=ad.currency)
        line(
            "ads",
            "matched_leads_spend",
            ad.lead_spend,
            currency=ad.currency,
            of=ad.leads,
            note="spend of the campaigns leads matched; of: those leads",
        )
        line(
            "ads",
            "matched_won_deals_spend",
            ad.won_spend,
            currency=ad.currency,
            of=ad.won_deals,
            note="spend of the campaigns won deals matched; of: those deals",
        )
    email = report.email
    if email is None:
        line("email", "emails_sent", None, note="No email platform is connected.")
    else:
        line("email", "campaigns", email.campaigns)
        for metric in ("emails_sent", "unique_opens", "unique_clicks"):
            line("email", metric, getattr(email, metric), note=email.notes.get(metric, ""))
    if report.leads is None:
        line("leads", "leads", None, note="No CRM is connected.")
    else:
        line("leads", "leads", report.leads)
    if report.deals is None:
        line("deals", "deals", None, note="No CRM is connected.")
    for deal in report.deals or []:
        line("deals", "deals", deal.deals, currency=deal.currency)
        line("deals", "won", deal.won, currency=deal.currency)
        without = (
            f"{deal.won_without_amount} of {deal.won} won deals without amount"
            if deal.won_without_amount
            else ""
        )
        line("deals", "won_amount", deal.won_amount, currency=deal.currency, note=without)
    if report.accounts is None:
        line("accounts", "target_accounts", None, note="No ABM platform is connected.")
    else:
        line("accounts", "target_accounts", report.accounts.target_accounts)
        line("accounts", "engaged_accounts", report.accounts.engaged, note="with engagement in the period")
    for join in report.joins:
        rule = "; else ".join(join.rules)
        parts = [
            f"{n} {what}"
            for n, what in (
                (join.ambiguous, "matched several and counted for none"),
                (join.unmatched, "named one that matched nothing"),
                (join.without_key, "named none"),
            )
            if n
        ]
        line(
            f"join:{join.key}", "matched", join.matched, of=join.of, note=" · ".join([*parts, f"by: {rule}"])
        )
    return ExportTable("funnel", FUNNEL_HEADER, rows, period)


# By campaign, a group that named an ad campaign by its id is shown by the campaign's name; the
# export keeps the id and platform in columns of their own.
AD_CAMPAIGN_HEADER = ["ad_campaign_id", "ad_platform"]


def _lead_groups(
    attribute: str, name: str, *, by_campaign: bool = False
) -> Callable[[Organization, Period, Mapping[str, str]], ExportTable]:
    def export(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
        report = pipeline_report(organization=organization, period=period)
        rows = [
            [
                cell(g.label),
                cell(g.leads),
                cell(g.converted),
                ratio(g.conversion_percent),
                cell(g.unknown),
                *([cell(g.ad_campaign_id), cell(g.ad_platform_name)] if by_campaign else []),
            ]
            for g in getattr(report, attribute)
        ]
        header = ["group", "leads", "converted", "converted_percent", "leads_without_status"]
        return ExportTable(name, header + (AD_CAMPAIGN_HEADER if by_campaign else []), rows, period)

    return export


def _deal_groups(
    attribute: str, name: str, *, by_campaign: bool = False
) -> Callable[[Organization, Period, Mapping[str, str]], ExportTable]:
    def export(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
        report = pipeline_report(organization=organization, period=period)
        rows = [
            [
                cell(g.label),
                cell(g.currency),
                cell(g.deals),
                money(g.amount),
                cell(g.without_amount),
                *([cell(g.ad_campaign_id), cell(g.ad_platform_name)] if by_campaign else []),
            ]
            for g in getattr(report, attribute)
        ]
        header = ["group", "currency", "deals", "amount", "deals_without_amount"]
        return ExportTable(name, header + (AD_CAMPAIGN_HEADER if by_campaign else []), rows, period)

    return export


def _cost_per_lead(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    report = pipeline_report(organization=organization, period=period)
    header = [
        "platform",
        "campaign_id",
        "campaign_name",
        "currency",
        "spend",
        "leads",
        "converted",
        "cost_per_lead",
        "matched_by",
    ]
    rows = [
        [
            cell(r.platform_name),
            cell(r.campaign_id),
            cell(r.campaign_name),
            cell(r.currency),
            money(r.spend),
            cell(r.leads),
            cell(r.converted),
            money(r.cost_per_lead),
            cell("; ".join(r.matched_by)),
        ]
        for r in report.cost_per_lead
    ]
    return ExportTable("pipeline_cost_per_lead", header, rows, period)


def _accounts_top(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    report = accounts_report(organization=organization, period=period)
    header = [
        "account_id",
        "name",
        "domain",
        "industry",
        "journey_stage",
        "engagement_points_7d",
        "engagement_points_30d",
        "engagement_minutes_7d",
        "engagement_minutes_30d",
        "intent_score",
        "intent_keyword_count",
    ]
    rows = [
        [
            cell(a.account_id),
            cell(a.name),
            cell(a.domain),
            cell(a.industry),
            cell(a.journey_stage),
            ratio(a.engagement_points_7d),
            ratio(a.engagement_points_30d),
            ratio(a.engagement_minutes_7d),
            ratio(a.engagement_minutes_30d),
            ratio(a.intent_score),
            cell(a.intent_keyword_count),
        ]
        for a in report.top_accounts
    ]
    return ExportTable("accounts_top_engaged", header, rows, period)


def _accounts_engagement(
    organization: Organization, period: Period, params: Mapping[str, str]
) -> ExportTable:
    report = accounts_report(organization=organization, period=period)
    header = [
        "date",
        "engagement_minutes",
        "engagement_points",
        "web_minutes",
        "email_minutes",
        "ad_minutes",
        "page_views",
        "accounts_engaged",
        "accounts_with_intent",
        "people_researching",
        "figures",
    ]
    rows = [
        [
            cell(d.day),
            ratio(d.minutes),
            ratio(d.points),
            ratio(d.web_minutes),
            ratio(d.email_minutes),
            ratio(d.ad_minutes),
            cell(d.page_views),
            cell(d.accounts),
            cell(d.intent_accounts),
            cell(d.people_researching),
            settled(d.provisional),
        ]
        for d in report.days
    ]
    return ExportTable("accounts_engagement_daily", header, rows, period)


def _accounts_keywords(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    report = accounts_report(organization=organization, period=period)
    rows = [[cell(k.keyword), cell(k.accounts), cell(k.strongest), cell(k.days)] for k in report.keywords]
    return ExportTable(
        "accounts_intent_keywords", ["keyword", "accounts", "strongest_intent", "account_days"], rows, period
    )


def _accounts_stages(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    report = accounts_report(organization=organization, period=period)
    rows = [[cell(s.stage), cell(s.accounts)] for s in report.stages]
    return ExportTable("accounts_journey_stages", ["journey_stage", "accounts"], rows, period)


def _sync_connections(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    health = sync_health_get(organization=organization)
    header = [
        "platform",
        "account_id",
        "name",
        "status",
        "last_success_at",
        "next_run_at",
        "last_run_status",
        "last_run_rows_loaded",
        "problem",
        "schedule_warning",
    ]
    rows = [
        [
            cell(c.platform_name),
            cell(c.connection.account_id),
            cell(c.connection.name),
            cell(c.connection.get_status_display()),
            cell(c.connection.last_success_at),
            cell(c.next_run_at) or c.schedule_note,
            cell(c.latest_run.status if c.latest_run else ""),
            cell(c.last_run_rows),
            cell(c.problem),
            cell(c.schedule_warning),
        ]
        for c in health.connections
    ]
    return ExportTable("sync_connections", header, rows)


def _sync_runs(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    health = sync_health_get(organization=organization, connection_id=id_from_param(params.get("connection")))
    header = [
        "run_id",
        "platform",
        "account_id",
        "trigger",
        "status",
        "step",
        "window_start",
        "window_end",
        "created_at",
        "started_at",
        "finished_at",
        "duration_seconds",
        "rows_extracted",
        "rows_loaded",
        "rows_quarantined",
        "problem",
        "notes",
        "totals",
    ]
    rows = [
        [
            cell(r.run.pk),
            cell(r.platform_name),
            cell(r.connection.account_id),
            cell(r.run.trigger),
            cell(r.run.status),
            cell(r.run.step),
            cell(r.run.window_start),
            cell(r.run.window_end),
            cell(r.run.created_at),
            cell(r.run.started_at),
            cell(r.run.finished_at),
            cell(r.run.duration_seconds),
            cell(r.rows_extracted),
            cell(r.rows_loaded),
            cell(r.rows_quarantined),
            cell(r.problem),
            cell(" | ".join(str(n) for n in [r.note, *r.run.notes] if n)),
            cell(" | ".join(r.totals.lines()) if r.totals.shown else ""),
        ]
        for r in health.runs
    ]
    return ExportTable("sync_runs", header, rows)


def _restatement_log(organization: Organization, period: Period, params: Mapping[str, str]) -> ExportTable:
    """Every figure a re-read changed (one connection's, one campaign's with ``connection`` and
    ``campaign``), newest first; a figure the platform stopped reporting has an empty new value."""
    connection_id = id_from_param(params.get("connection"))
    record_id = params.get("campaign") or None
    changes = restatement_changes(
        organization=organization,
        connection_id=connection_id,
        dataset=AD_DATASET if record_id else None,
        record_id=record_id,
        limit=None,
    )
    header = [
        "changed_at",
        "sync_run_id",
        "platform",
        "connection_id",
        "dataset",
        "record_id",
        "record_name",
        "date",
        "metric",
        "old_value",
        "new_value",
        "days_after_the_fact",
    ]
    rows = [
        [
            cell(c.changed_at),
            cell(c.sync_run_id),
            cell(c.platform_name),
            cell(c.connection_id),
            cell(c.dataset),
            cell(c.record_id),
            cell(c.record_name),
            cell(c.day),
            cell(c.metric),
            cell(c.old_value),
            cell(c.new_value),
            cell(c.days_after),
        ]
        for c in changes
    ]
    return ExportTable("restatement_log", header, rows)


EXPORTS: dict[str, tuple[str, Callable[[Organization, Period, Mapping[str, str]], ExportTable]]] = {
    "overview_totals": ("Overview totals with the previous period", _overview_totals),
    "overview_platforms": ("Overview by platform", _overview_platforms),
    "overview_daily": ("Overview per day", _overview_daily),
    "campaigns": ("Campaigns", _campaigns),
    "campaign_daily": ("One campaign per day", _campaign_daily),
    "email_campaigns": ("Email campaigns", _email_campaigns),
    "leads_by_source": ("Leads by source", _lead_groups("leads_by_source", "pipeline_leads_by_source")),
    "leads_by_campaign": (
        "Leads by campaign",
        _lead_groups("leads_by_campaign", "pipeline_leads_by_campaign", by_campaign=True),
    ),
    "deals_by_stage": ("Deals by stage", _deal_groups("deals_by_stage", "pipeline_deals_by_stage")),
    "deals_by_source": ("Deals by source", _deal_groups("deals_by_source", "pipeline_deals_by_source")),
    "deals_by_campaign": (
        "Deals by campaign",
        _deal_groups("deals_by_campaign", "pipeline_deals_by_campaign", by_campaign=True),
    ),
    "cost_per_lead": ("Cost per lead", _cost_per_lead),
    "funnel": ("Funnel", _funnel),
    "accounts_top": ("Top engaged accounts", _accounts_top),
    "accounts_engagement": ("Engagement per day", _accounts_engagement),
    "accounts_keywords": ("Intent keywords", _accounts_keywords),
    "accounts_stages": ("Accounts by journey stage", _accounts_stages),
    "sync_connections": ("Connections", _sync_connections),
    "sync_runs": ("Sync runs", _sync_runs),
    "restatement_log": ("What re-reads changed", _restatement_log),
}


def export_table(name: str, *, organization: Organization, params: Mapping[str, str]) -> ExportTable:
    try:
        _, build = EXPORTS[name]
    except KeyError:
        raise UnknownExport(f"No table called {name!r}") from None
    return build(organization, period_from_params(params), params)


def export_names() -> Iterable[str]:
    return EXPORTS.keys()

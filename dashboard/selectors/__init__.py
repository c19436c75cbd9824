"""Reads behind the dashboard pages, one module per page family.

``common`` (who the visitor is, connections, restatement windows), ``ads`` (overview, campaigns),
``email`` (Mailchimp), ``pipeline`` (Zoho CRM), ``funnel`` (every stage from spend to accounts), ``accounts`` (Demandbase), ``sync`` (the
health of every sync) and ``paging`` (long tables shown a page at a time). Aggregates are computed in the database and cached per organization
(``dashboard.cache``); live sync state is never cached. The names below are the package's public
interface, so callers import from ``dashboard.selectors``.
"""

from dashboard.periods import ALLOWED_DAYS, DEFAULT_DAYS, DateRange, Period, period_from_params
from dashboard.periods import days_from_param as overview_days_from_param
from dashboard.selectors.accounts import AccountsReport, accounts_report
from dashboard.selectors.ads import (
    CAMPAIGN_SORTS,
    CampaignDetail,
    CampaignFilters,
    CampaignMetrics,
    CampaignPage,
    CurrencySeries,
    DailyMetrics,
    Kpi,
    Metrics,
    Overview,
    PlatformMetrics,
    campaign_detail,
    campaign_list,
    campaign_list_all,
    overview_by_platform,
    overview_campaigns,
    overview_daily,
    overview_date_range,
    overview_get,
    overview_totals,
    spend_chart,
)
from dashboard.selectors.common import (
    Restatement,
    connection_get_for_organization,
    connection_label,
    connection_list_for_organization,
    connection_list_needing_reauth,
    membership_for_user,
    organization_for_user,
    platform_name,
    restatement_windows,
)
from dashboard.selectors.email import EmailReport, email_report
from dashboard.selectors.funnel import FunnelReport, funnel_report
from dashboard.selectors.paging import RowsPage, page_number_from_params, rows_page
from dashboard.selectors.pipeline import PipelineReport, match_key, match_leads, pipeline_report
from dashboard.selectors.sync import (
    ConnectionOverview,
    RunRow,
    SyncHealth,
    next_sync_runs,
    overview_connections,
    sync_health_get,
    sync_run_history,
)

__all__ = [
    "ALLOWED_DAYS",
    "CAMPAIGN_SORTS",
    "DEFAULT_DAYS",
    "AccountsReport",
    "CampaignDetail",
    "CampaignFilters",
    "CampaignMetrics",
    "CampaignPage",
    "ConnectionOverview",
    "CurrencySeries",
    "DailyMetrics",
    "DateRange",
    "EmailReport",
    "FunnelReport",
    "Kpi",
    "Metrics",
    "Overview",
    "Period",
    "PipelineReport",
    "PlatformMetrics",
    "Restatement",
    "RowsPage",
    "RunRow",
    "SyncHealth",
    "accounts_report",
    "campaign_detail",
    "campaign_list",
    "campaign_list_all",
    "connection_get_for_organization",
    "connection_label",
    "connection_list_for_organization",
    "connection_list_needing_reauth",
    "email_report",
    "funnel_report",
    "match_key",
    "match_leads",
    "membership_for_user",
    "next_sync_runs",
    "organization_for_user",
    "overview_by_platform",
    "overview_campaigns",
    "overview_connections",
    "overview_daily",
    "overview_date_range",
    "overview_days_from_param",
    "overview_get",
    "overview_totals",
    "page_number_from_params",
    "period_from_params",
    "pipeline_report",
    "platform_name",
    "restatement_windows",
    "rows_page",
    "spend_chart",
    "sync_health_get",
    "sync_run_history",
]

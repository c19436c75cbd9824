"""Canonical datasets: the columns each warehouse table takes from a sync, their kinds, the
natural key the loader upserts on, and the date column that bounds a sync window."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # str | int | decimal | date | datetime | bool
    required: bool = False


@dataclass(frozen=True)
class Dataset:
    name: str
    table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # natural key, within one connection
    # A date column bounding a sync window: rows of the window the platform no longer reports go.
    window_column: str | None = None
    # The column retention prunes on (rows older than RETENTION_DAYS); default the window column.
    retention_column: str | None = None

    @property
    def prune_column(self) -> str | None:
        return self.retention_column or self.window_column

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


# Columns every warehouse table carries, set by the loader rather than the source.
SYSTEM_COLUMNS = ("organization_id", "connection_id", "platform", "sync_run_id", "synced_at")

AD_PERFORMANCE_DAILY = Dataset(
    name="ad_performance_daily",
    table="warehouse_ad_performance_daily",
    columns=(
        Column("account_id", "str", required=True),
        Column("account_name", "str"),
        Column("campaign_id", "str", required=True),
        Column("campaign_name", "str"),
        Column("campaign_status", "str"),
        Column("campaign_type", "str"),
        Column("date", "date", required=True),
        Column("account_time_zone", "str"),
        Column("currency", "str", required=True),
        Column("impressions", "int", required=True),
        Column("clicks", "int", required=True),
        Column("spend", "decimal", required=True),
        Column("conversions", "decimal"),
        Column("conversion_value", "decimal"),
        Column("view_through_conversions", "int"),
    ),
    key=("campaign_id", "date"),
    window_column="date",
)

EMAIL_CAMPAIGN = Dataset(
    name="email_campaign",
    table="warehouse_email_campaign",
    columns=(
        Column("campaign_id", "str", required=True),
        Column("campaign_title", "str"),
        Column("campaign_type", "str"),
        Column("list_id", "str"),
        Column("list_name", "str"),
        Column("subject", "str"),
        Column("send_time", "datetime"),
        Column("emails_sent", "int"),
        Column("opens", "int"),
        Column("unique_opens", "int"),
        Column("clicks", "int"),
        Column("unique_clicks", "int"),
        Column("bounces", "int"),
        Column("unsubscribes", "int"),
        Column("open_rate", "decimal"),
        Column("click_rate", "decimal"),
    ),
    key=("campaign_id",),
    retention_column="send_time",
)

_CRM_ATTRIBUTION = (
    Column("lead_source", "str"),
    Column("campaign_id", "str"),
    Column("campaign_name", "str"),
    Column("utm_source", "str"),
    Column("utm_medium", "str"),
    Column("utm_campaign", "str"),
    Column("owner", "str"),
)

CRM_LEAD = Dataset(
    name="crm_lead",
    table="warehouse_crm_lead",
    columns=(
        Column("lead_id", "str", required=True),
        Column("created_time", "datetime"),
        Column("modified_time", "datetime"),
        Column("company", "str"),
        Column("status", "str"),
        Column("converted", "bool"),
        *_CRM_ATTRIBUTION,
    ),
    key=("lead_id",),
    retention_column="modified_time",
)

CRM_DEAL = Dataset(
    name="crm_deal",
    table="warehouse_crm_deal",
    columns=(
        Column("deal_id", "str", required=True),
        Column("deal_name", "str"),
        Column("account_name", "str"),
        Column("created_time", "datetime"),
        Column("modified_time", "datetime"),
        Column("stage", "str"),
        Column("amount", "decimal"),
        Column("currency", "str"),
        Column("closing_date", "date"),
        *_CRM_ATTRIBUTION,
    ),
    key=("deal_id",),
    retention_column="modified_time",
)

ABM_ACCOUNT = Dataset(
    name="abm_account",
    table="warehouse_abm_account",
    columns=(
        Column("account_id", "str", required=True),
        Column("domain", "str"),
        Column("name", "str"),
        Column("industry", "str"),
        Column("journey_stage", "str"),
        Column("engagement_points_7d", "decimal"),
        Column("engagement_points_30d", "decimal"),
        Column("engagement_minutes_7d", "decimal"),
        Column("engagement_minutes_30d", "decimal"),
        Column("intent_score", "decimal"),
        Column("intent_keyword_count", "int"),
    ),
    key=("account_id",),
    retention_column="synced_at",
)

ABM_ENGAGEMENT_DAILY = Dataset(
    name="abm_engagement_daily",
    table="warehouse_abm_engagement_daily",
    columns=(
        Column("account_id", "str", required=True),
        Column("date", "date", required=True),
        Column("domain", "str"),
        Column("engagement_minutes", "decimal"),
        Column("engagement_points", "decimal"),
        Column("web_minutes", "decimal"),
        Column("email_minutes", "decimal"),
        Column("ad_minutes", "decimal"),
        Column("page_views", "int"),
        Column("people_researching", "int"),
        Column("intent_strength", "str"),
        Column("intent_keywords", "str"),
    ),
    key=("account_id", "date"),
    window_column="date",
)

DATASETS = {
    d.name: d
    for d in (AD_PERFORMANCE_DAILY, EMAIL_CAMPAIGN, CRM_LEAD, CRM_DEAL, ABM_ACCOUNT, ABM_ENGAGEMENT_DAILY)
}


def get_dataset(name: str) -> Dataset:
    return DATASETS[name]

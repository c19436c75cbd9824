"""Covering indexes for the dashboard's reads (PostgreSQL only).

Each page reads one organization's rows of a date range. With every column the page aggregates
carried in the index (``INCLUDE``), PostgreSQL answers from the index alone instead of visiting
the table row by row.

SQLite (the embedded default) has no ``INCLUDE``; its existing indexes serve it unchanged.
"""

from django.db import migrations

INDEXES = {
    # In campaign order, so one campaign's days arrive together and grouping needs no big sort.
    "wh_adperf_org_campaign_cover": (
        "warehouse_ad_performance_daily",
        "(organization_id, connection_id, campaign_id, date) INCLUDE (currency, platform, account_id, "
        "campaign_status, impressions, clicks, spend, conversions, conversion_value, campaign_name, account_name)",
    ),
    "wh_abm_eng_org_date_cover": (
        "warehouse_abm_engagement_daily",
        "(organization_id, date) INCLUDE (account_id, engagement_minutes, engagement_points, web_minutes, "
        "email_minutes, ad_minutes, page_views, people_researching, intent_strength, intent_keywords)",
    ),
    "wh_lead_org_created_cover": (
        "warehouse_crm_lead",
        "(organization_id, created_time) INCLUDE (converted, lead_source, campaign_name, utm_campaign, utm_source)",
    ),
    "wh_deal_org_created_cover": (
        "warehouse_crm_deal",
        "(organization_id, created_time) INCLUDE (currency, amount, stage, lead_source, campaign_name, utm_campaign)",
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, definition) in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("etl", "0003_ad_performance_google_columns"),
    ]

    operations = [migrations.RunPython(create, drop)]

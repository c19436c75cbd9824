"""Google Ads report rows → canonical ad performance columns, and the GAQL field lists (pure data).

The connector turns each ``GoogleAdsRow`` into a plain record nested the way GAQL names fields
(``customer.currency_code``, ``metrics.cost_micros``). IDs are int64 and kept as strings; money is
in micros of the account currency (``customer.currency_code``) and converted exactly; conversions
are doubles; ``segments.date`` is a day in the account's time zone (``customer.time_zone``) and is
loaded as it is, never shifted to UTC.
"""

from connectors.base import Field

STREAM = "campaign_performance"

AD_PERFORMANCE_DAILY = {
    "account_id": Field("customer.id", required=True),
    "account_name": Field("customer.descriptive_name"),
    "campaign_id": Field("campaign.id", required=True),
    "campaign_name": Field("campaign.name"),
    "campaign_status": Field("campaign.status"),
    "campaign_type": Field("campaign.advertising_channel_type"),
    "date": Field("segments.date", "date", required=True),
    "account_time_zone": Field("customer.time_zone"),
    "currency": Field("customer.currency_code", required=True),
    "impressions": Field("metrics.impressions", "int", required=True),
    "clicks": Field("metrics.clicks", "int", required=True),
    "spend": Field("metrics.cost_micros", "micros", required=True),
    "conversions": Field("metrics.conversions", "decimal"),
    "conversion_value": Field("metrics.conversions_value", "decimal"),
    "view_through_conversions": Field("metrics.view_through_conversions", "int"),
}

ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"

# The customer fields every report row carries (the account's name, currency and time zone).
CUSTOMER_FIELDS = (
    "customer.id",
    "customer.descriptive_name",
    "customer.currency_code",
    "customer.time_zone",
)

# The campaign × day report, FROM campaign, for a segments.date window.
CAMPAIGN_REPORT_FIELDS = (
    *CUSTOMER_FIELDS,
    "campaign.id",
    "campaign.name",
    "campaign.status",
    "campaign.advertising_channel_type",
    "segments.date",
    "metrics.impressions",
    "metrics.clicks",
    "metrics.cost_micros",
    "metrics.conversions",
    "metrics.conversions_value",
    "metrics.view_through_conversions",
)

# The report's metrics (GAQL names without ``metrics.``). Google sends a metric it reports as zero
# as 0 and leaves out one it does not report for a row, so an absent metric is None, never 0.
REPORT_METRICS = (
    "impressions",
    "clicks",
    "cost_micros",
    "conversions",
    "conversions_value",
    "view_through_conversions",
)

# The account-level totals set beside the warehouse after each load (FROM customer over the window),
# and the ad performance column each one is compared with.
TOTALS_COLUMNS = {
    "impressions": "impressions",
    "clicks": "clicks",
    "cost_micros": "spend",
    "conversions": "conversions",
    "conversions_value": "conversion_value",
    "view_through_conversions": "view_through_conversions",
}
TOTALS_FIELDS = ("customer.currency_code", *(f"metrics.{name}" for name in TOTALS_COLUMNS))

# Metrics every report row needs: a row or an account without one cannot be loaded (a clear error
# naming it); with the column each fills.
REQUIRED_METRICS = {"impressions": "impressions", "clicks": "clicks", "cost_micros": "spend"}

# Metrics a campaign type or an account may not report: absent from a row, or refused in the query
# for an account. Their columns load empty, not 0, and the run says so in plain words.
OPTIONAL_METRICS = {
    "conversions": "conversions",
    "conversions_value": "conversion value",
    "view_through_conversions": "view-through conversions",
}

# advertising_channel_type → the campaign type as Google Ads shows it, for the run's notes.
CAMPAIGN_TYPE_LABELS = {
    "SEARCH": "Search",
    "DISPLAY": "Display",
    "SHOPPING": "Shopping",
    "HOTEL": "Hotel",
    "VIDEO": "Video",
    "MULTI_CHANNEL": "App",
    "LOCAL": "Local",
    "SMART": "Smart",
    "PERFORMANCE_MAX": "Performance Max",
    "LOCAL_SERVICES": "Local Services",
    "TRAVEL": "Travel",
    "DEMAND_GEN": "Demand Gen",
}

# What a connection's own account is (FROM customer): a manager (MCC) or an advertiser.
ACCOUNT_FIELDS = (*CUSTOMER_FIELDS, "customer.manager", "customer.status")

# Every account under a manager, at every level, the manager itself at level 0 (FROM customer_client).
CLIENT_FIELDS = (
    "customer_client.client_customer",
    "customer_client.id",
    "customer_client.level",
    "customer_client.status",
    "customer_client.manager",
    "customer_client.descriptive_name",
    "customer_client.currency_code",
    "customer_client.time_zone",
)

# Client accounts in this status are synced; CANCELED, SUSPENDED and CLOSED ones are skipped.
SYNCED_CLIENT_STATUS = "ENABLED"

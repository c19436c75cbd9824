"""LinkedIn adAnalytics rows → canonical ad performance columns (pure data).

Analytics rows carry only URNs and metrics; the connector adds ``_account`` (id, name, currency)
and ``_campaign`` (name, status) from the account and campaign endpoints. Dates are LinkedIn's
reporting days (UTC); money is in the account's currency, as the decimal strings LinkedIn sends.
"""

from connectors.base import Field

AD_PERFORMANCE_DAILY = {
    "account_id": Field("_account.id", required=True),
    "account_name": Field("_account.name"),
    "campaign_id": Field("pivotValues.0", "urn_id", required=True),
    "campaign_name": Field("_campaign.name"),
    "campaign_status": Field("_campaign.status"),
    "campaign_type": Field("_campaign.type"),
    "date": Field("dateRange.start", "ymd", required=True),
    "currency": Field("_account.currency", required=True),
    "impressions": Field("impressions", "int", required=True),
    "clicks": Field("clicks", "int", required=True),
    "spend": Field("costInLocalCurrency", "decimal", required=True),
    "conversions": Field("externalWebsiteConversions", "decimal"),
    "conversion_value": Field("conversionValueInLocalCurrency", "decimal"),
    "view_through_conversions": Field("externalWebsitePostViewConversions", "int"),
}

# Metrics LinkedIn may not return (retired in a newer API version, or not reported for an account):
# an element without one loads it empty, not 0, and the run notes it, in plain words.
OPTIONAL_METRICS = {
    "externalWebsiteConversions": "conversions",
    "conversionValueInLocalCurrency": "conversion value",
    "externalWebsitePostViewConversions": "view-through conversions",
}

# Requested from adAnalytics (LinkedIn allows at most 20 metrics per call).
ANALYTICS_FIELDS = (
    "pivotValues",
    "dateRange",
    "impressions",
    "clicks",
    "landingPageClicks",
    "costInLocalCurrency",
    "costInUsd",
    "externalWebsiteConversions",
    "externalWebsitePostViewConversions",
    "conversionValueInLocalCurrency",
    "oneClickLeads",
)

# The account-level totals set beside the warehouse after each load (adAnalytics, pivot ACCOUNT,
# timeGranularity ALL), and the ad performance column each one is compared with.
TOTALS_COLUMNS = {
    "impressions": "impressions",
    "clicks": "clicks",
    "costInLocalCurrency": "spend",
    "externalWebsiteConversions": "conversions",
    "conversionValueInLocalCurrency": "conversion_value",
    "externalWebsitePostViewConversions": "view_through_conversions",
}

CAMPAIGN_STATUSES = (
    "ACTIVE",
    "PAUSED",
    "ARCHIVED",
    "COMPLETED",
    "CANCELED",
    "DRAFT",
    "PENDING_DELETION",
    "REMOVED",
)

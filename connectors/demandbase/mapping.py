"""Demandbase records → canonical ABM columns (pure data).

``accounts`` (dataset ``abm_account``): one record per account of an account export job. The export's
field names (``{Account}.engagementMinutesLast7Day``) are reshaped by the connector to
``{"Account": {"engagementMinutesLast7Day": ...}}``, hence the ``Account.`` paths. Engagement minutes
and points are Demandbase's rolling 7- and 30-day totals as of the export day; ``{Account}.id`` is the
Demandbase account (company) id.

``engagement`` and ``intent`` (both dataset ``abm_engagement_daily``, one row per account per day):
each writes its own columns of the same rows (``StreamSpec.columns``), so a tenant without the Intent
product, or a failed intent read, leaves the engagement figures loaded and the intent ones as they were.
``engagement`` records are the account's daily engagement summed from the activity export
(``connectors.demandbase.activity``: minutes, points, page views, minutes by channel), dated ``endDate``
(the activity day). ``intent`` records are one per account per intent period, dated on the period's
end date, built by ``connectors.demandbase.intent`` from the Intent API rows (people researching summed
over keywords, strongest intent, keywords joined with ", "). The intent ``companyId`` (a string) is
taken to be the same id as the export's ``{Account}.id``, so both tables join on ``account_id`` (and on
``domain``, which both streams fill).
"""

from connectors.base import Field

ACCOUNT_ENTITY = "Account"

# Wanted from the export job, in this order. Which of them a tenant has depends on its Export collection:
# the connector asks only for those the tenant's field catalogue (GET /data/export/v1/fields) lists.
ACCOUNT_EXPORT_FIELDS = (
    "{Account}.id",
    "{Account}.domain",
    "{Account}.name",
    "{Account}.industry",
    "{Account}.journeyStage",
    "{Account}.engagementPointsLast7Day",
    "{Account}.engagementPointsLast30Day",
    "{Account}.engagementMinutesLast7Day",
    "{Account}.engagementMinutesLast30Day",
    "{Account}.intentScore",
    "{Account}.intentKeywordCount",
)

# Without these an account cannot be loaded: the natural key and the account's name.
REQUIRED_ACCOUNT_FIELDS = ("{Account}.id", "{Account}.name")

# How a marketer knows the optional fields (for the run's note when a tenant lacks some).
ACCOUNT_FIELD_LABELS = {
    "{Account}.id": "Account ID",
    "{Account}.domain": "Domain",
    "{Account}.name": "Account Name",
    "{Account}.industry": "Industry",
    "{Account}.journeyStage": "Journey Stage",
    "{Account}.engagementPointsLast7Day": "Engagement Points",
    "{Account}.engagementPointsLast30Day": "Engagement Points",
    "{Account}.engagementMinutesLast7Day": "Engagement Minutes",
    "{Account}.engagementMinutesLast30Day": "Engagement Minutes",
    "{Account}.intentScore": "Intent Score",
    "{Account}.intentKeywordCount": "Intent Keywords",
}

ABM_ACCOUNT = {
    "account_id": Field("Account.id", required=True),
    "domain": Field("Account.domain"),
    "name": Field("Account.name"),
    "industry": Field("Account.industry"),
    "journey_stage": Field("Account.journeyStage"),
    "engagement_points_7d": Field("Account.engagementPointsLast7Day", "decimal"),
    "engagement_points_30d": Field("Account.engagementPointsLast30Day", "decimal"),
    "engagement_minutes_7d": Field("Account.engagementMinutesLast7Day", "decimal"),
    "engagement_minutes_30d": Field("Account.engagementMinutesLast30Day", "decimal"),
    "intent_score": Field("Account.intentScore", "decimal"),
    "intent_keyword_count": Field("Account.intentKeywordCount", "int"),
}

_DAILY_KEY = {
    "account_id": Field("companyId", required=True),
    "date": Field("endDate", "date", required=True),
    "domain": Field("domain"),
}
DAILY_SHARED_COLUMNS = ("domain",)

ABM_ENGAGEMENT = {
    **_DAILY_KEY,
    "engagement_minutes": Field("engagementMinutes", "decimal"),
    "engagement_points": Field("engagementPoints", "decimal"),
    "web_minutes": Field("webMinutes", "decimal"),
    "email_minutes": Field("emailMinutes", "decimal"),
    "ad_minutes": Field("adMinutes", "decimal"),
    "page_views": Field("pageViews", "int"),
}

ABM_INTENT = {
    **_DAILY_KEY,
    "people_researching": Field("numPeopleResearching", "int"),
    "intent_strength": Field("intentStrength"),
    "intent_keywords": Field("keywords"),
}

# The columns of the daily rows each stream owns (writes, and empties when it no longer reports them).
ENGAGEMENT_COLUMNS = tuple(name for name in ABM_ENGAGEMENT if name not in _DAILY_KEY)
INTENT_COLUMNS = tuple(name for name in ABM_INTENT if name not in _DAILY_KEY)

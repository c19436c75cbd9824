"""Mailchimp campaign reports → canonical email campaign columns (pure data).

A report (``GET /3.0/reports``) is one sent campaign with its running totals. Two keys are added by
the connector, because a mapping cannot compute: ``_bounces_total`` (hard + soft bounces + syntax
errors) and ``_send_time`` (the send time, with Mailchimp's empty-string date read as no date).
Rates are kept as Mailchimp gives them: report-level ``open_rate``/``click_rate`` are fractions.
"""

from connectors.base import Field

EMAIL_CAMPAIGN = {
    "campaign_id": Field("id", required=True),
    "campaign_title": Field("campaign_title"),
    "campaign_type": Field("type"),
    "list_id": Field("list_id"),
    "list_name": Field("list_name"),
    "subject": Field("subject_line"),
    "send_time": Field("_send_time", "datetime"),
    "emails_sent": Field("emails_sent", "int"),
    "opens": Field("opens.opens_total", "int"),
    "unique_opens": Field("opens.unique_opens", "int"),
    "clicks": Field("clicks.clicks_total", "int"),
    "unique_clicks": Field("clicks.unique_subscriber_clicks", "int"),
    "bounces": Field("_bounces_total", "int"),
    "unsubscribes": Field("unsubscribed", "int"),
    "open_rate": Field("opens.open_rate", "decimal"),
    "click_rate": Field("clicks.click_rate", "decimal"),
}

# Report objects some campaign types' reports leave out (their columns then load empty, not 0, and
# the run notes it), with what they hold in plain words. A report without ``id`` is quarantined.
OPTIONAL_REPORT_PARTS = {
    "opens": "open counts",
    "clicks": "click counts",
    "bounces": "bounce counts",
}

# The parts of a report's ``bounces`` object that add up to the ``bounces`` column.
BOUNCE_PARTS = ("hard_bounces", "soft_bounces", "syntax_errors")

# Heavy parts of a report the table does not use, left out of the answer with ``exclude_fields``.
EXCLUDED_REPORT_FIELDS = (
    "reports._links",
    "reports.timeseries",
    "reports.timewarp",
    "reports.ab_split",
    "reports.industry_stats",
    "reports.share_report",
    "_links",
)

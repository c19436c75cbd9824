"""Zoho CRM records → canonical CRM lead and deal columns, and what to ask the API for (pure data).

Records come from ``GET /crm/v8/{Module}``. Ids are 19-digit strings, lookups are ``{"name", "id"}``
objects (``Owner`` adds ``email``), datetimes carry the org's UTC offset (normalized to UTC), dates are
``YYYY-MM-DD`` and amounts are JSON numbers in the record's currency. Lead conversion is the ``$converted``
system key that the API adds to every Leads record (listed with ``converted=both``).

The connector adds two context keys to each record: ``_utm`` (the values of the org's UTM custom fields,
whose API names are connection options) and, on deals, ``_currency`` (the record's ``Currency`` in a
multi-currency org, else the org's home currency).
"""

from connectors.base import Field

API_VERSION = "v8"
PER_PAGE = 200  # the API's maximum
DISCRETE_PAGING_LIMIT = 2000  # ``page`` reaches only this many records; ``page_token`` goes beyond
MAX_FIELDS = 50

# Stream name → CRM module API name.
MODULES = {"leads": "Leads", "deals": "Deals"}

# Standard fields asked for per stream; each is requested only when the org's layout has it
# (``GET /crm/v8/settings/fields?module=...``), so a missing optional field never fails the call.
FIELDS = {
    "leads": (
        "Company",
        "Lead_Status",
        "Lead_Source",
        "Campaign_Source",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "deals": (
        "Deal_Name",
        "Account_Name",
        "Stage",
        "Amount",
        "Currency",
        "Closing_Date",
        "Lead_Source",
        "Campaign_Source",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
}

# Fields every record of the stream needs: an org whose layout lacks one cannot be synced (the
# record id is a system key the API always serves, so it is not in any layout).
REQUIRED_FIELDS = {"leads": ("Modified_Time",), "deals": ("Modified_Time",)}

# Fields an org may lack without a note: a single-currency org has no ``Currency`` (the home currency
# applies); any other wanted field the layout lacks is noted on the run and its column stays empty.
QUIET_FIELDS = frozenset({"Currency"})

# Field API name → the columns it fills, in plain words for the run's notes.
FIELD_LABELS = {
    "Company": "company",
    "Lead_Status": "lead status",
    "Lead_Source": "lead source",
    "Campaign_Source": "campaign",
    "Owner": "owner",
    "Created_Time": "created time",
    "Modified_Time": "modified time",
    "Deal_Name": "deal name",
    "Account_Name": "account name",
    "Stage": "stage",
    "Amount": "amount",
    "Closing_Date": "closing date",
}

# Extra query parameters per stream: converted leads are left out unless asked for.
PARAMS: dict[str, dict[str, str]] = {"leads": {"converted": "both"}, "deals": {}}

# Canonical column → (connection option naming the org's custom field, the field's default API name).
UTM_FIELDS = {
    "utm_source": ("utm_source_field", "UTM_Source"),
    "utm_medium": ("utm_medium_field", "UTM_Medium"),
    "utm_campaign": ("utm_campaign_field", "UTM_Campaign"),
}

_ATTRIBUTION = {
    "lead_source": Field("Lead_Source"),
    "campaign_id": Field("Campaign_Source.id"),
    "campaign_name": Field("Campaign_Source.name"),
    "utm_source": Field("_utm.utm_source"),
    "utm_medium": Field("_utm.utm_medium"),
    "utm_campaign": Field("_utm.utm_campaign"),
    "owner": Field("Owner.name"),
}

CRM_LEAD = {
    "lead_id": Field("id", required=True),
    "created_time": Field("Created_Time", "datetime"),
    "modified_time": Field("Modified_Time", "datetime", required=True),
    "company": Field("Company"),
    "status": Field("Lead_Status"),
    "converted": Field("$converted", "bool"),
    **_ATTRIBUTION,
}

CRM_DEAL = {
    "deal_id": Field("id", required=True),
    "deal_name": Field("Deal_Name"),
    "account_name": Field("Account_Name.name"),
    "created_time": Field("Created_Time", "datetime"),
    "modified_time": Field("Modified_Time", "datetime", required=True),
    "stage": Field("Stage"),
    "amount": Field("Amount", "decimal"),
    "currency": Field("_currency"),
    "closing_date": Field("Closing_Date", "date"),
    **_ATTRIBUTION,
}

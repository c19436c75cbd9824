"""Per-platform settings: every outbound host, the OAuth app credentials and API versions.

Each host defaults to the real platform and can be pointed elsewhere from the environment
(another data centre, a proxy, or the sandbox). Per-customer tokens are never here: they live
encrypted in the database.
"""

from __future__ import annotations

from sales_dashboard.env import env

# LinkedIn Marketing API (Ads + Reporting).
LINKEDIN_ADS_API_BASE_URL = env.str("LINKEDIN_ADS_API_BASE_URL", default="https://api.linkedin.com")
LINKEDIN_ADS_TOKEN_URL = env.str(
    "LINKEDIN_ADS_TOKEN_URL", default="https://www.linkedin.com/oauth/v2/accessToken"
)
LINKEDIN_ADS_AUTHORIZE_URL = env.str(
    "LINKEDIN_ADS_AUTHORIZE_URL", default="https://www.linkedin.com/oauth/v2/authorization"
)
LINKEDIN_ADS_CLIENT_ID = env.str("LINKEDIN_ADS_CLIENT_ID", default="")
LINKEDIN_ADS_CLIENT_SECRET = env.str("LINKEDIN_ADS_CLIENT_SECRET", default="")
# Versions are YYYYMM and live about a year; a retired one is answered with HTTP 426.
LINKEDIN_ADS_API_VERSION = env.str("LINKEDIN_ADS_API_VERSION", default="202610")
# Conversions are attributed up to 30 days after the click, so every sync re-reads 30 days.
LINKEDIN_ADS_RESTATEMENT_DAYS = env.int("LINKEDIN_ADS_RESTATEMENT_DAYS", default=30)
# adAnalytics silently truncates a response at this many elements.
LINKEDIN_ADS_ANALYTICS_ROW_CAP = env.int("LINKEDIN_ADS_ANALYTICS_ROW_CAP", default=15000)

# Google Ads API (gRPC through the official client library).
GOOGLE_ADS_API_BASE_URL = env.str("GOOGLE_ADS_API_BASE_URL", default="https://googleads.googleapis.com")
GOOGLE_ADS_API_ENDPOINT = env.str("GOOGLE_ADS_API_ENDPOINT", default="googleads.googleapis.com:443")
GOOGLE_ADS_CA_CERT = env.str("GOOGLE_ADS_CA_CERT", default="")
GOOGLE_ADS_TOKEN_URL = env.str("GOOGLE_ADS_TOKEN_URL", default="https://oauth2.googleapis.com/token")
GOOGLE_ADS_AUTHORIZE_URL = env.str(
    "GOOGLE_ADS_AUTHORIZE_URL", default="https://accounts.google.com/o/oauth2/v2/auth"
)
GOOGLE_ADS_CLIENT_ID = env.str("GOOGLE_ADS_CLIENT_ID", default="")
GOOGLE_ADS_CLIENT_SECRET = env.str("GOOGLE_ADS_CLIENT_SECRET", default="")
GOOGLE_ADS_DEVELOPER_TOKEN = env.str("GOOGLE_ADS_DEVELOPER_TOKEN", default="")
GOOGLE_ADS_RESTATEMENT_DAYS = env.int("GOOGLE_ADS_RESTATEMENT_DAYS", default=14)

# Mailchimp Marketing API; the data centre comes from the metadata endpoint.
MAILCHIMP_API_BASE_URL = env.str("MAILCHIMP_API_BASE_URL", default="")
MAILCHIMP_TOKEN_URL = env.str("MAILCHIMP_TOKEN_URL", default="https://login.mailchimp.com/oauth2/token")
MAILCHIMP_AUTHORIZE_URL = env.str(
    "MAILCHIMP_AUTHORIZE_URL", default="https://login.mailchimp.com/oauth2/authorize"
)
MAILCHIMP_METADATA_URL = env.str(
    "MAILCHIMP_METADATA_URL", default="https://login.mailchimp.com/oauth2/metadata"
)
MAILCHIMP_CLIENT_ID = env.str("MAILCHIMP_CLIENT_ID", default="")
MAILCHIMP_CLIENT_SECRET = env.str("MAILCHIMP_CLIENT_SECRET", default="")
MAILCHIMP_RESTATEMENT_DAYS = env.int("MAILCHIMP_RESTATEMENT_DAYS", default=30)

# Zoho CRM; the accounts server depends on the data centre, the API host on the token's api_domain.
ZOHO_CRM_API_BASE_URL = env.str("ZOHO_CRM_API_BASE_URL", default="")
ZOHO_CRM_ACCOUNTS_URL = env.str("ZOHO_CRM_ACCOUNTS_URL", default="")
ZOHO_CRM_TOKEN_URL = env.str("ZOHO_CRM_TOKEN_URL", default="")
ZOHO_CRM_AUTHORIZE_URL = env.str("ZOHO_CRM_AUTHORIZE_URL", default="")
ZOHO_CRM_CLIENT_ID = env.str("ZOHO_CRM_CLIENT_ID", default="")
ZOHO_CRM_CLIENT_SECRET = env.str("ZOHO_CRM_CLIENT_SECRET", default="")
ZOHO_CRM_RESTATEMENT_DAYS = env.int("ZOHO_CRM_RESTATEMENT_DAYS", default=3)

# Demandbase One (client-credentials token exchange).
DEMANDBASE_API_BASE_URL = env.str("DEMANDBASE_API_BASE_URL", default="https://uapi.demandbase.com")
DEMANDBASE_TOKEN_URL = env.str("DEMANDBASE_TOKEN_URL", default="https://uapi.demandbase.com/auth/v1/token")
DEMANDBASE_CLIENT_ID = env.str("DEMANDBASE_CLIENT_ID", default="")
DEMANDBASE_CLIENT_SECRET = env.str("DEMANDBASE_CLIENT_SECRET", default="")
DEMANDBASE_RESTATEMENT_DAYS = env.int("DEMANDBASE_RESTATEMENT_DAYS", default=7)

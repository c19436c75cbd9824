"""Google Ads settings, each read from ``GOOGLE_ADS_<NAME>`` (see ``connectors.platform_settings``)."""

from connectors.platform_settings import Setting

SETTINGS = (
    Setting("API_BASE_URL", "https://googleads.googleapis.com", "The Google Ads API host (REST form)"),
    Setting("API_ENDPOINT", "googleads.googleapis.com:443", "The gRPC host:port the client library calls"),
    Setting(
        "CA_CERT",
        "",
        "PEM file of a CA to trust for API_ENDPOINT (the sandbox's self-signed one); empty: the system's",
    ),
    Setting("TOKEN_URL", "https://oauth2.googleapis.com/token", "OAuth token endpoint"),
    Setting("AUTHORIZE_URL", "https://accounts.google.com/o/oauth2/v2/auth", "OAuth consent page"),
    Setting("CLIENT_ID", "", "Client id of this installation's Google Cloud OAuth client"),
    Setting("CLIENT_SECRET", "", "Client secret of the same client"),
    Setting(
        "DEVELOPER_TOKEN",
        "",
        "Optional: a developer token (API Center of a manager account; ignored by Google since 2026-09-09)",
    ),
    Setting(
        "OAUTH_APP_IN_TESTING",
        0,
        "1 when the OAuth app's consent screen is in Testing status (its grants expire after 7 days)",
    ),
    Setting(
        "DAILY_QUOTA",
        15000,
        "API operations the Cloud project may spend in any 24 hours: Basic access 15000, Explorer 2880; "
        "0 for Standard access (no daily limit)",
    ),
    Setting("RESTATEMENT_DAYS", 14, "Days re-read every sync (conversions keep arriving for weeks)"),
)

"""LinkedIn Ads settings, each read from ``LINKEDIN_ADS_<NAME>`` (see ``connectors.platform_settings``)."""

from connectors.platform_settings import Setting

SETTINGS = (
    Setting("API_BASE_URL", "https://api.linkedin.com", "The Marketing API host"),
    Setting("TOKEN_URL", "https://www.linkedin.com/oauth/v2/accessToken", "OAuth token endpoint"),
    Setting("AUTHORIZE_URL", "https://www.linkedin.com/oauth/v2/authorization", "OAuth consent page"),
    Setting("CLIENT_ID", "", "Client id of this installation's LinkedIn app"),
    Setting("CLIENT_SECRET", "", "Client secret of the same app"),
    Setting(
        "DAILY_QUOTA",
        0,
        "API calls the app may make per UTC day (LinkedIn publishes no number: see the app's Analytics "
        "tab); 0: not known",
    ),
    Setting(
        "API_VERSION",
        "202610",
        "LinkedIn-Version header (YYYYMM); versions live about a year, a retired one answers HTTP 426",
    ),
    Setting(
        "RESTATEMENT_DAYS",
        30,
        "Days re-read every sync: conversions are attributed up to 30 days after the click",
    ),
    Setting("ANALYTICS_ROW_CAP", 15000, "adAnalytics silently truncates a response at this many elements"),
)

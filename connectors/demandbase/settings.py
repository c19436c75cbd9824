"""Demandbase settings, each read from ``DEMANDBASE_<NAME>`` (see ``connectors.platform_settings``).

Demandbase has no consent page: a connection brings an API key set, exchanged at TOKEN_URL."""

from connectors.platform_settings import Setting

SETTINGS = (
    Setting("API_BASE_URL", "https://uapi.demandbase.com", "The uapi host"),
    Setting("TOKEN_URL", "https://uapi.demandbase.com/auth/v1/token", "Token exchange of an API key set"),
    Setting("CLIENT_ID", "", "Default API key set's client id (a connection normally brings its own)"),
    Setting("CLIENT_SECRET", "", "Default API key set's client secret"),
    Setting(
        "DAILY_QUOTA",
        60,
        "Export jobs a tenant may create per UTC day (the Data Export API's scarcest limit); 0: not known",
    ),
    Setting("RESTATEMENT_DAYS", 7, "Days re-read every sync"),
)

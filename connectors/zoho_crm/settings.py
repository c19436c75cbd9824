"""Zoho CRM settings, each read from ``ZOHO_CRM_<NAME>`` (see ``connectors.platform_settings``).

The accounts server depends on the organization's data centre and the API host on the token's
``api_domain``, so the hosts are empty by default: set one to pin it for every connection."""

from connectors.platform_settings import Setting

SETTINGS = (
    Setting("API_BASE_URL", "", "The CRM API host; empty: the api_domain of the token response"),
    Setting(
        "ACCOUNTS_URL",
        "",
        "The accounts server; empty: the connection's data centre (accounts.zoho.com, .eu, ...)",
    ),
    Setting("TOKEN_URL", "", "OAuth token endpoint; empty: <accounts server>/oauth/v2/token"),
    Setting("AUTHORIZE_URL", "", "OAuth consent page; empty: <accounts server>/oauth/v2/auth"),
    Setting("CLIENT_ID", "", "Client id of this installation's Zoho API client"),
    Setting("CLIENT_SECRET", "", "Client secret of the same client"),
    Setting(
        "DAILY_QUOTA",
        50000,
        "API credits an organization may spend in any 24 hours (Free edition 5000; paid editions 50000 "
        "plus 250 to 2000 per user license); 0: not known",
    ),
    Setting("RESTATEMENT_DAYS", 3, "Days re-read every sync (records are read by modification time)"),
)

"""Mailchimp settings, each read from ``MAILCHIMP_<NAME>`` (see ``connectors.platform_settings``)."""

from connectors.platform_settings import Setting

SETTINGS = (
    Setting(
        "API_BASE_URL",
        "",
        "The Marketing API host, literally or as a template with {dc}; empty: the account's data centre",
    ),
    Setting("TOKEN_URL", "https://login.mailchimp.com/oauth2/token", "OAuth token endpoint"),
    Setting("AUTHORIZE_URL", "https://login.mailchimp.com/oauth2/authorize", "OAuth consent page"),
    Setting(
        "METADATA_URL",
        "https://login.mailchimp.com/oauth2/metadata",
        "OAuth metadata endpoint (names the account's data centre)",
    ),
    Setting("CLIENT_ID", "", "Client id of this installation's Mailchimp app"),
    Setting("CLIENT_SECRET", "", "Client secret of the same app"),
    Setting("RESTATEMENT_DAYS", 30, "Days re-read every sync (reports keep growing for weeks)"),
)

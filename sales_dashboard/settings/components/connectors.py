"""Per-platform settings: every outbound host, the OAuth app credentials, API versions, restatement
windows. Each platform declares its own in ``connectors/<platform>/settings.py``; they are read here
from the environment under the platform's prefix (``LINKEDIN_ADS_API_VERSION``), with the real
platform as the default host. Per-customer tokens are never here: they live encrypted in the database.
"""

from __future__ import annotations

from connectors.platform_settings import read
from sales_dashboard.env import env

globals().update(
    read(
        lambda name, default: env.str(name, default=default),
        lambda name, default: env.int(name, default=default),
    )
)

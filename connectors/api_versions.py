"""Which API versions the connectors speak, and which of them the platforms will soon stop serving.

Each connector declares its version and that version's published (or projected) sunset
(``BaseConnector.api_version``). A version within ``API_SUNSET_WARNING_DAYS`` of its sunset is
"ending": Sync health and a daily beat task say so weeks ahead, and a test fails, so a release never
ships on a dying version. Upgrading means a new version in the connector (and, for LinkedIn, the
``LINKEDIN_ADS_API_VERSION`` setting) after checking the version's changes against the mapping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.mail import mail_admins
from django.utils import timezone

from connectors.base import ApiVersion
from connectors.registry import connector_classes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionStatus:
    platform: str
    display_name: str
    version: ApiVersion
    days_left: int | None

    @property
    def state(self) -> str:
        """``ok``, ``ending`` (within the warning period) or ``ended`` (past its sunset)."""
        if self.days_left is None or self.days_left > settings.API_SUNSET_WARNING_DAYS:
            return "ok"
        return "ending" if self.days_left >= 0 else "ended"

    @property
    def warning(self) -> str | None:
        """The warning in words, when there is one."""
        if self.state == "ok" or self.version.sunset is None:
            return None
        when = f"{self.version.sunset:%-d %b %Y}"
        if self.state == "ended":
            return (
                f"{self.display_name} stopped serving API version {self.version.name} on {when}: syncs of "
                "this platform fail until the connector moves to a newer version."
            )
        return (
            f"{self.display_name} stops serving API version {self.version.name} on {when}, in "
            f"{self.days_left} days ({self.version.source}): move the connector to a newer version before then."
        )


def api_version_statuses(*, today: date) -> list[VersionStatus]:
    """Every platform's API version and how close its sunset is, in the registry's order."""
    return [
        VersionStatus(platform, cls.display_name, version, version.days_left(today))
        for platform, cls in connector_classes().items()
        for version in [cls.api_version()]
    ]


def api_versions_warn(*, today: date | None = None) -> list[str]:
    """The daily check: log each ending or ended version, and mail the site's ADMINS about them
    (Django's email backend; the console in the demo). Returns the warnings."""
    warnings = [s.warning for s in api_version_statuses(today=today or timezone.now().date()) if s.warning]
    for warning in warnings:
        logger.warning("api_version.sunset", extra={"warning": warning})
    if warnings:
        mail_admins("Platform API versions ending soon", "\n\n".join(warnings), fail_silently=True)
    return warnings

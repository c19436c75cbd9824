"""The beat schedule, declared once. ``periodic_tasks_install`` writes it into
django-celery-beat's tables, where the DatabaseScheduler reads it and operators can edit it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.registry import connector_classes


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    minute: str = "0"
    hour: str = "*"
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def periodic_schedules() -> list[Schedule]:
    schedules = [
        Schedule(
            "sync all platforms every 6 hours",
            "dashboard.sync_all_platform_data",
            hour="0,6,12,18",
            description="Sync every connection of every platform at 00:00, 06:00, 12:00 and 18:00 UTC.",
        ),
        Schedule(
            "cleanup old data daily",
            "dashboard.cleanup_old_data",
            hour="2",
            description="Remove warehouse rows and run history older than RETENTION_DAYS at 02:00 UTC.",
        ),
        Schedule(
            "check API versions daily",
            "dashboard.check_api_versions",
            hour="3",
            description="Warn (log and mail ADMINS) when a platform API version in use is within "
            "API_SUNSET_WARNING_DAYS of its sunset, at 03:00 UTC.",
        ),
        Schedule(
            "warn about expiring authorizations daily",
            "dashboard.warn_expiring_authorizations",
            hour="7",
            description="Mail each organization's admins about connections whose authorization ends "
            "within TOKEN_EXPIRY_WARNING_DAYS (once a day per connection), at 07:00 UTC.",
        ),
        Schedule(
            "refresh expiring tokens hourly",
            "dashboard.refresh_expired_tokens",
            hour="*",
            description="Refresh access tokens that expire within the next TOKEN_REFRESH_AHEAD_SECONDS.",
        ),
    ]
    for platform, cls in connector_classes().items():
        label = cls.display_name
        schedules.append(
            Schedule(
                f"sync {platform} every 4 hours",
                "dashboard.sync_platform_data",
                hour="0,4,8,12,16,20",
                kwargs={"platform": platform},
                description=f"Sync every {label} connection at 00:00, 04:00, ... UTC.",
            )
        )
    return schedules

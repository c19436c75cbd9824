"""Celery tasks of the dashboard: the entry tasks beat and the command run (thin: they call etl and
connectors), and the cache warm-up. They take ids and return ids.

The sync entry tasks keep no result in the result backend (their runs report through SyncRun); the
maintenance tasks keep theirs: ``start_background_syncs --cleanup`` waits for it. A sync's own steps
are ``etl.tasks``.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(
    name="dashboard.cache_warm",
    acks_late=True,
    ignore_result=True,
    queue="maintenance",
    soft_time_limit=5 * 60,
    time_limit=6 * 60,
)
def cache_warm_task(organization_id: int) -> None:
    from dashboard.cache_warm import dashboard_cache_warm

    dashboard_cache_warm(organization_id=organization_id)


@shared_task(name="dashboard.sync_all_platform_data", acks_late=True, ignore_result=True)
def sync_all_platform_data(organization_slug: str | None = None) -> list[int]:
    from etl.pipeline import syncs_start

    return [run.pk for run in syncs_start(organization_slug=organization_slug, trigger="schedule").started]


@shared_task(name="dashboard.sync_platform_data", acks_late=True, ignore_result=True)
def sync_platform_data(platform: str, organization_slug: str | None = None) -> list[int]:
    from etl.pipeline import syncs_start

    batch = syncs_start(platform=platform, organization_slug=organization_slug, trigger="schedule")
    return [run.pk for run in batch.started]


@shared_task(name="dashboard.cleanup_old_data", acks_late=True, queue="maintenance")
def cleanup_old_data() -> dict[str, int]:
    from etl.services import cleanup_old_data as cleanup

    return cleanup()


@shared_task(name="dashboard.refresh_expired_tokens", acks_late=True, queue="maintenance")
def refresh_expired_tokens() -> dict[str, int]:
    from connectors.services import tokens_refresh_expiring

    return tokens_refresh_expiring(within_seconds=settings.TOKEN_REFRESH_AHEAD_SECONDS)


@shared_task(name="dashboard.check_api_versions", acks_late=True, queue="maintenance")
def check_api_versions() -> list[str]:
    from connectors.api_versions import api_versions_warn

    return api_versions_warn()


@shared_task(name="dashboard.warn_expiring_authorizations", acks_late=True, queue="maintenance")
def warn_expiring_authorizations() -> dict[str, int]:
    from dashboard.services import authorizations_expiring_warn

    return authorizations_expiring_warn()

"""Warming an organization's cached dashboard aggregates after its data changed.

When a sync's load commits, the organization's data version moves on and every cached aggregate
of the organization becomes unreachable. The first marketer to open a page would then wait for
the fact tables to be read again. ``dashboard_cache_warm`` computes the pages' default views
ahead of them, through the same selectors the pages use, so the entries land under the very keys
the pages look up:

- the overview, the first page of the campaign table (default sort, no filter), email, pipeline
  and target accounts (the campaign table's other orders, filters and searches are taken from
  the same cached campaign totals, so they need no read of the fact table either),
- for each preset period (the last 7, 14 and 30 days).

Several connections of one organization often finish within minutes of each other; each load
bumps the version, and only the latest state is worth computing. A warm-up for a state that was
already warmed (or is being warmed) does nothing.

Only organizations whose dashboards are in use are warmed: a member opened one of their pages in
the last ``DASHBOARD_CACHE_WARM_VIEWED_DAYS`` days (``dashboard_viewed`` notes it). Warming every
organization after every sync would spend the workers' time on views nobody opens, in the hour
when most syncs are due: 1,000 small organizations synced at once took twice as long to drain
with their warm-ups competing for the same workers.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache

from dashboard.cache import cache_scope
from dashboard.periods import ALLOWED_DAYS, Period, period_from_params
from dashboard.selectors import (
    CampaignFilters,
    accounts_report,
    campaign_list,
    email_report,
    overview_get,
    pipeline_report,
)
from tenancy.models import Organization

logger = logging.getLogger(__name__)

WARMED_KEY = "dashboard:warmed:{organization_id}:{scope}"
VIEWED_KEY = "dashboard:viewed:{organization_id}"
# The note of an organization's use is renewed at most this often (a read per page, a write an hour).
VIEWED_RENEW_SECONDS = 3600


def _warmed_key(organization_id: int, scope: str) -> str:
    digest = hashlib.sha256(scope.encode()).hexdigest()[:32]
    return WARMED_KEY.format(organization_id=organization_id, scope=digest)


def dashboard_viewed(*, organization_id: int) -> None:
    """Note that a member opened the organization's dashboards, so its syncs keep them warm."""
    days = settings.DASHBOARD_CACHE_WARM_VIEWED_DAYS
    if days <= 0:
        return
    key, now = VIEWED_KEY.format(organization_id=organization_id), time.time()
    noted = cache.get(key)
    if not isinstance(noted, float) or now - noted >= VIEWED_RENEW_SECONDS:
        cache.set(key, now, days * 86400)


def dashboard_in_use(*, organization_id: int) -> bool:
    """Whether a member opened the organization's dashboards recently (always, with the setting at 0)."""
    if settings.DASHBOARD_CACHE_WARM_VIEWED_DAYS <= 0:
        return True
    return cache.get(VIEWED_KEY.format(organization_id=organization_id)) is not None


def default_periods() -> list[Period]:
    """The preset periods the pages offer (last 7, 14 and 30 days)."""
    return [period_from_params({"days": str(days)}) for days in ALLOWED_DAYS]


def warm_period(*, organization: Organization, period: Period) -> None:
    """Compute (and so cache) every page's default view for one period."""
    overview_get(organization=organization, period=period)
    campaign_list(organization=organization, period=period, filters=CampaignFilters())
    email_report(organization=organization, period=period)
    pipeline_report(organization=organization, period=period)
    accounts_report(organization=organization, period=period)


def dashboard_cache_warm(*, organization_id: int) -> None:
    """Fill the cache with the organization's default dashboard views for its current data.

    Does nothing for an unknown organization, or when its current data has already been warmed.
    """
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return
    marker = _warmed_key(organization.pk, cache_scope(organization.pk))
    if not cache.add(marker, True, settings.DASHBOARD_CACHE_SECONDS):
        return
    started = time.perf_counter()
    try:
        for period in default_periods():
            warm_period(organization=organization, period=period)
    except BaseException:
        cache.delete(marker)  # let a later warm-up try again
        raise
    logger.info(
        "dashboard cache warmed",
        extra={"organization_id": organization.pk, "seconds": round(time.perf_counter() - started, 2)},
    )

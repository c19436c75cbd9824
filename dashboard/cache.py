"""Caching of the pages' aggregates, per organization.

A cached aggregate's key holds the organization, what was computed (name and parameters, the
period included) and the organization's *cache scope*:

- its data version (``etl.data_version``), which the load step bumps when a load
  commits, so the next page view recomputes;
- the latest ``last_success_at`` and the number of its connections, read with one small query.
  This covers processes that do not share a cache (the embedded default keeps a local-memory cache
  per process, so a sync run by ``start_background_syncs`` cannot bump the web server's counter)
  and a connection deleted with its rows.

Live state (connection status, runs in flight) is never cached. Entries are kept for
``DASHBOARD_CACHE_SECONDS`` (6 hours), longer than the gap between scheduled syncs: the views
warmed after a sync last until the next one; entries of a superseded version are never read again
and expire on their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max

from connectors.models import Connection
from etl.data_version import data_version

T = TypeVar("T")

# Part of every key: raise it when the shape of a cached value changes, so a new release never
# reads an entry an older one wrote.
VALUE_FORMAT = 4

_MISSING = object()


def cache_scope(organization_id: int) -> str:
    stamp = Connection.objects.filter(organization_id=organization_id).aggregate(
        last=Max("last_success_at"), count=Count("id")
    )
    last = stamp["last"].isoformat() if stamp["last"] else "-"
    return f"{data_version(organization_id)}:{last}:{stamp['count']}"


def cache_key(organization_id: int, scope: str, name: str, params: tuple[Any, ...]) -> str:
    digest = hashlib.sha256(repr((scope, name, params)).encode()).hexdigest()[:32]
    return f"dashboard:agg:v{VALUE_FORMAT}:{organization_id}:{name}:{digest}"


def cached(
    *,
    organization_id: int,
    name: str,
    params: tuple[Any, ...],
    compute: Callable[[], T],
    scope: str | None = None,
) -> T:
    """``compute()``'s result, from the cache when the organization's data has not changed."""
    key = cache_key(organization_id, scope or cache_scope(organization_id), name, params)
    found = cache.get(key, _MISSING)
    if found is not _MISSING:
        return cast(T, found)
    value = compute()
    cache.set(key, value, settings.DASHBOARD_CACHE_SECONDS)
    return value

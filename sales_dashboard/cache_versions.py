"""Per-organization "data version" counters for cached dashboard aggregates.

Cached figures are stored under keys that contain the organization's current data version, so
bumping the version makes every cached aggregate of that organization unreachable at once (the
stale entries simply expire). The load step bumps it after its transaction commits::

    transaction.on_commit(lambda: dashboard_cache_bump(organization_id))

The module lives in the project package, not in ``dashboard``, so that ``etl`` can call it without
importing the app above it (the dependency order is dashboard → etl → connectors).

A version that is missing from the cache (first use, eviction, a cache flush) starts from the
current time in nanoseconds rather than from 1, so a restarted counter never lands on a number an
older, still cached entry was stored under.
"""

from __future__ import annotations

import time

from django.core.cache import cache

VERSION_KEY = "dashboard:data-version:{organization_id}"


def _key(organization_id: int) -> str:
    return VERSION_KEY.format(organization_id=int(organization_id))


def data_version(organization_id: int) -> int:
    """The organization's current data version (created on first use)."""
    key = _key(organization_id)
    version = cache.get(key)
    if version is None:
        cache.add(key, time.time_ns(), timeout=None)
        version = cache.get(key)
    return int(version) if version is not None else 0


def dashboard_cache_bump(organization_id: int) -> int:
    """Invalidate the organization's cached dashboard aggregates; returns the new version."""
    key = _key(organization_id)
    try:
        return int(cache.incr(key))
    except ValueError:  # not in the cache yet (or evicted): start a fresh, never-used number
        version = time.time_ns()
        cache.set(key, version, timeout=None)
        return version

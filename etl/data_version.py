"""Per-organization "data version": a number that changes whenever a load changes an
organization's warehouse rows.

The pipeline owns it: the load step bumps it after its transaction commits::

    transaction.on_commit(lambda: data_version_bump(organization_id))

Readers of the warehouse use it to know when what they derived is out of date: the dashboard stores
its cached aggregates under keys that contain the version, so a bump makes every cached aggregate of
that organization unreachable at once (the stale entries simply expire). ``etl`` knows nothing of
its readers; they read the version (the dependency order is dashboard → etl → connectors).

A version that is missing from the cache (first use, eviction, a cache flush) starts from the
current time in nanoseconds rather than from 1, so a restarted counter never lands on a number an
older, still cached entry was stored under.
"""

from __future__ import annotations

import time

from django.core.cache import cache

VERSION_KEY = "dashboard:data-version:{organization_id}"  # unchanged: caches survive an upgrade


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


def data_version_bump(organization_id: int) -> int:
    """A new data version for the organization (its derived figures are out of date); returns it."""
    key = _key(organization_id)
    try:
        return int(cache.incr(key))
    except ValueError:  # not in the cache yet (or evicted): start a fresh, never-used number
        version = time.time_ns()
        cache.set(key, version, timeout=None)
        return version

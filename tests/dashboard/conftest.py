"""Dashboard tests use a private local-memory cache.

The test settings point the cache at the machine's shared Redis, where another test run could have
left aggregates under the same organization ids; every test here starts from an empty cache of its
own instead. ``history_kept`` is the comparison tests' frozen day and retention.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from freezegun import freeze_time

from tests.dashboard import TODAY


@pytest.fixture(autouse=True)
def private_cache(settings: Any) -> Iterator[None]:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dashboard-tests"}
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def history_kept(settings: Any) -> Iterator[None]:
    """TODAY, 30 days of raw rows and 25 months of daily history kept (the comparison tests' world:
    the oldest raw day is ``FIRST_KEPT``)."""
    settings.RETENTION_DAYS = 30
    settings.HISTORY_RETENTION_MONTHS = 25
    with freeze_time(f"{TODAY.isoformat()} 12:00:00"):
        yield

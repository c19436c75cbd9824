"""Security tests use a private local-memory cache.

The test settings point the cache at the machine's shared Redis; the dashboard's aggregates must
start empty for every test instead. (The login-failure counts are in the database, not the cache.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def private_cache(settings: Any) -> Iterator[None]:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "security-tests"}
    }
    cache.clear()
    yield
    cache.clear()

"""Dashboard tests use a private local-memory cache.

The test settings point the cache at the machine's shared Redis, where another test run could have
left aggregates under the same organization ids; every test here starts from an empty cache of its
own instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def private_cache(settings: Any) -> Iterator[None]:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dashboard-tests"}
    }
    cache.clear()
    yield
    cache.clear()

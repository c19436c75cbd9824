"""Test settings: the real PostgreSQL and Redis of the machine, Celery in-process.

The suites that need real workers start them as separate processes (tests/integration/).
"""

from __future__ import annotations

from sales_dashboard.env import env
from sales_dashboard.settings.base import *  # noqa: F403

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/sales_dashboard"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    # A file, not SQLite's shared-cache in-memory database: the product's embedded default is a file,
    # and only a file locks as it does (a second writer waits its turn instead of failing at once
    # with "database table is locked"), which the tests of concurrent triggers rely on.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("SQLITE_TEST_NAME", default=str(VAR_DIR / "test-embedded-run.sqlite3"))  # noqa: F405
    }

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/14")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "sales_dashboard_test",
    }
}

CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://localhost/"  # with a hostname: see components/celery.py
CELERY_RESULT_BACKEND = None

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HTTP_BACKOFF_BASE_SECONDS = 0.01
HTTP_BACKOFF_MAX_SECONDS = 0.05
HTTP_MAX_INLINE_WAIT_SECONDS = 1.0

"""Complete settings for every environment; production.py only hardens them.

With no environment at all this runs the embedded default: SQLite under ``var/``, Celery tasks
executed in-process, a local-memory cache. Setting ``DATABASE_URL``, ``CELERY_BROKER_URL`` and
``REDIS_URL`` switches to PostgreSQL, Redis and real workers.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.utils import get_random_secret_key

from sales_dashboard.env import BASE_DIR, env, local_secret, positive_number

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or local_secret(
    VAR_DIR / "django-secret-key", get_random_secret_key
)
SECRET_KEY_IS_LOCAL = not env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "tenancy",
    "connectors",
    "etl",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "sales_dashboard.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Every page's Content-Security-Policy (sales_dashboard/middleware.py). Scripts, styles, images and
# fonts come from the site itself only, with no inline script, inline style or event-handler
# attribute (the templates have none; the admin's only inline script, the periodic-task form's, is
# replaced by a static file in dashboard/admin.py); the charts are inline SVG markup. No plugins, no
# <base>, no framing. form-action is left open on purpose: "Connect" and "Reconnect" post to the
# site, which answers with a redirect to the platform's sign-in page (any OAuth host, Zoho's per
# data centre), and browsers apply form-action to that redirect too.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

ROOT_URLCONF = "sales_dashboard.urls"
WSGI_APPLICATION = "sales_dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'sales_dashboard.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time: take the write lock when a transaction starts instead of failing
    # half-way through it, and wait for a busy database rather than erroring at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sales_dashboard",
            "TIMEOUT": 3600,
        }
    }
    if REDIS_URL.startswith("rediss://") and env.str("REDIS_CA_CERT", default=""):
        CACHES["default"]["OPTIONS"] = {"ssl_ca_certs": env.str("REDIS_CA_CERT"), "ssl_cert_reqs": "required"}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"
# Login throttling: this many failed log-ins for one username from one address lock it out for a while.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Every asset is served by the project itself (no CDN). Without collectstatic, WhiteNoise serves
# straight from the apps' static folders.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Credentials of connected accounts are encrypted with Fernet. FIELD_ENCRYPTION_KEY may hold
# several comma-separated keys: the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
FIELD_ENCRYPTION_KEY_IS_LOCAL = not FIELD_ENCRYPTION_KEY
if not FIELD_ENCRYPTION_KEY:
    from cryptography.fernet import Fernet

    FIELD_ENCRYPTION_KEY = local_secret(
        VAR_DIR / "field-encryption.key", lambda: Fernet.generate_key().decode()
    )

# The pipeline.
RETENTION_DAYS = env.int("RETENTION_DAYS", default=30)
# The restatement log (what re-reads changed) and settled days. A day is "settling" while a re-read
# changed one of its figures by more than the metric's relative threshold (0.01: 1%; per metric in
# RESTATEMENT_SETTLING_THRESHOLDS, e.g. "conversions=0,spend=0.005") within the last
# RESTATEMENT_SETTLING_HOURS and it is inside its connection's re-read window; else "settled".
RESTATEMENT_SETTLING_THRESHOLD = env.float("RESTATEMENT_SETTLING_THRESHOLD", default=0.01)
RESTATEMENT_SETTLING_THRESHOLDS = {
    metric: float(share) for metric, share in env.dict("RESTATEMENT_SETTLING_THRESHOLDS", default={}).items()
}
RESTATEMENT_SETTLING_HOURS = env.int("RESTATEMENT_SETTLING_HOURS", default=48)
# Sync health measures, per connection, how late re-reads still changed figures over this many days,
# and suggests a re-read window once the log holds re-reads of at least RESTATEMENT_EVIDENCE_DAYS.
RESTATEMENT_LOOKBACK_DAYS = env.int("RESTATEMENT_LOOKBACK_DAYS", default=28)
RESTATEMENT_EVIDENCE_DAYS = env.int("RESTATEMENT_EVIDENCE_DAYS", default=14)
# Settled days older than the retention are folded into daily aggregates (the warehouse's
# *_history_daily tables) before their raw rows go; the aggregates are kept this many months.
HISTORY_RETENTION_MONTHS = env.int("HISTORY_RETENTION_MONTHS", default=25)
# A run in flight holds a lease that its working step renews (each page, each chunk, while it
# waits): a run whose heartbeat is older than this, or whose process on this host is gone, is stale
# and the next trigger takes over. A run waiting on purpose (a Celery retry later) is not stale
# until its wait is over plus this period.
SYNC_RUN_LEASE_SECONDS = positive_number("SYNC_RUN_LEASE_SECONDS", default=300)
# A step queued for a worker (a new run, or the next step of a chain) that no worker has picked up
# for this long is presumed lost with its broker message.
SYNC_RUN_QUEUED_TIMEOUT_MINUTES = positive_number("SYNC_RUN_QUEUED_TIMEOUT_MINUTES", default=60)
TOKEN_REFRESH_MARGIN_SECONDS = env.int("TOKEN_REFRESH_MARGIN_SECONDS", default=900)
TOKEN_REFRESH_AHEAD_SECONDS = env.int("TOKEN_REFRESH_AHEAD_SECONDS", default=7200)
# A platform API version this close to its sunset is warned about (Sync health, a daily check, a test).
API_SUNSET_WARNING_DAYS = env.int("API_SUNSET_WARNING_DAYS", default=60)
# A connection whose authorization ends this close is warned about (Sync health, a daily mail to
# its organization's admins, at most one a day per connection).
TOKEN_EXPIRY_WARNING_DAYS = env.int("TOKEN_EXPIRY_WARNING_DAYS", default=14)
# The address people open the dashboard at, for the links in mails (no trailing slash).
DASHBOARD_BASE_URL = env.str("DASHBOARD_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Mail (expiry warnings to admins): printed on the console unless a mail server is configured.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
PRUNE_BATCH_SIZE = env.int("PRUNE_BATCH_SIZE", default=5000)
LOAD_CHUNK_ROWS = env.int("LOAD_CHUNK_ROWS", default=50000)
# After a sync, the organization's default dashboard views are computed this long after it ends
# (connections of one organization finishing within it share one warm-up).
DASHBOARD_CACHE_WARM_DELAY_SECONDS = env.int("DASHBOARD_CACHE_WARM_DELAY_SECONDS", default=15)
# Only organizations whose dashboards a member opened within this many days are warmed after their
# syncs (the others compute a view when it is first opened); 0 warms every organization.
DASHBOARD_CACHE_WARM_VIEWED_DAYS = env.int("DASHBOARD_CACHE_WARM_VIEWED_DAYS", default=14)
# How long a cached dashboard aggregate is kept. Entries are keyed by the organization's data
# version, so they are never stale; this only bounds memory. Longer than the gap between scheduled
# syncs, so the views warmed after one sync are still there when the marketer looks, hours later.
DASHBOARD_CACHE_SECONDS = env.int("DASHBOARD_CACHE_SECONDS", default=6 * 3600)
# Records normalized at a time: a worker holds about this many raw records in memory.
NORMALIZE_BATCH_ROWS = env.int("NORMALIZE_BATCH_ROWS", default=10000)

# Shared HTTP machinery for every connector.
HTTP_CONNECT_TIMEOUT_SECONDS = env.float("HTTP_CONNECT_TIMEOUT_SECONDS", default=10.0)
HTTP_READ_TIMEOUT_SECONDS = env.float("HTTP_READ_TIMEOUT_SECONDS", default=120.0)
HTTP_MAX_ATTEMPTS = env.int("HTTP_MAX_ATTEMPTS", default=5)
HTTP_BACKOFF_BASE_SECONDS = env.float("HTTP_BACKOFF_BASE_SECONDS", default=1.0)
HTTP_BACKOFF_MAX_SECONDS = env.float("HTTP_BACKOFF_MAX_SECONDS", default=60.0)
# A wait longer than this is not slept inside a task: the step is retried later by Celery (a retry
# with a countdown), so a throttled platform does not hold a worker process while it waits.
HTTP_MAX_INLINE_WAIT_SECONDS = env.float("HTTP_MAX_INLINE_WAIT_SECONDS", default=15.0)

from sales_dashboard.settings.components.celery import *  # noqa: E402,F403
from sales_dashboard.settings.components.connectors import *  # noqa: E402,F403
from sales_dashboard.settings.components.logging import *  # noqa: E402,F403

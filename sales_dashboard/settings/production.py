"""Production: the base settings, hardened. It refuses to start on development defaults."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from sales_dashboard.env import env
from sales_dashboard.settings.base import *  # noqa: F403
from sales_dashboard.settings.base import CELERY_TASK_ALWAYS_EAGER, DATABASES, DEBUG, REDIS_URL

_problems = []
if DEBUG:
    _problems.append("DJANGO_DEBUG must be off")
if not env.str("DJANGO_SECRET_KEY", default=""):
    _problems.append("DJANGO_SECRET_KEY is not set")
if not env.str("FIELD_ENCRYPTION_KEY", default=""):
    _problems.append("FIELD_ENCRYPTION_KEY is not set (the development key under var/ is refused)")
if not env.list("DJANGO_ALLOWED_HOSTS", default=[]):
    _problems.append("DJANGO_ALLOWED_HOSTS is not set")
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    _problems.append("DATABASE_URL must point at PostgreSQL")
if CELERY_TASK_ALWAYS_EAGER:
    _problems.append("CELERY_BROKER_URL is not set")
if not REDIS_URL:
    _problems.append("REDIS_URL is not set")
if _problems:
    raise ImproperlyConfigured("Production settings refuse to start: " + "; ".join(_problems) + ".")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

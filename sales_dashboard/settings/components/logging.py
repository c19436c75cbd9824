"""Structured logs on stderr, with secrets scrubbed from every record."""

from __future__ import annotations

from sales_dashboard.env import env
from sales_dashboard.settings.components.celery import CELERY_TASK_ALWAYS_EAGER

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "sales_dashboard.logging.RedactSecretsFilter"},
        "access_log": {"()": "sales_dashboard.logging.AccessLogFilter"},
    },
    "formatters": {
        "structured": {"()": "sales_dashboard.logging.StructuredFormatter"},
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "structured",
            "filters": ["redact_secrets"],
        },
        # runserver's request lines: Django's own format, without the OAuth callback's query string
        # (its authorization code). gunicorn's access log: sales_dashboard.access_log.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["access_log"],
            "level": "INFO",
        },
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Both log whole token responses at DEBUG; never let that through.
        "requests_oauthlib": {"level": "WARNING"},
        "oauthlib": {"level": "WARNING"},
        # With in-process tasks (the embedded default: runserver, the commands) Celery's INFO line
        # for each finished task, its result repeated as a data dict, would land in the web server's
        # output at every Sync now; Sync health and the commands' summaries say what a run did.
        # Failures are still logged (ERROR). Workers keep these lines for their operators.
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}

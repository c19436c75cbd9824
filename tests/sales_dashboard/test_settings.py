"""Production settings refuse unsafe defaults and pass Django's deployment checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
SAFE = {
    "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.production",
    "DJANGO_SECRET_KEY": "x" * 20 + "a-long-random-production-secret-value-0123456789",
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "DJANGO_ALLOWED_HOSTS": "analytics.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "REDIS_URL": "redis://127.0.0.1:6379/1",
}


def check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args], cwd=ROOT, env={**base, **env},
        capture_output=True, text=True, timeout=120,
    )


def test_production_settings_pass_the_deployment_checks() -> None:
    result = check(SAFE, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr


def test_production_settings_refuse_development_defaults() -> None:
    unsafe = {**SAFE, "DJANGO_DEBUG": "true", "DATABASE_URL": "sqlite:///x.sqlite3"}
    for key in ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DJANGO_ALLOWED_HOSTS", "CELERY_BROKER_URL"):
        unsafe.pop(key)
    result = check(unsafe)
    assert result.returncode != 0
    for problem in ("DJANGO_DEBUG must be off", "DJANGO_SECRET_KEY is not set", "FIELD_ENCRYPTION_KEY is not set",
                    "DJANGO_ALLOWED_HOSTS is not set", "must point at PostgreSQL", "CELERY_BROKER_URL is not set"):
        assert problem in result.stderr

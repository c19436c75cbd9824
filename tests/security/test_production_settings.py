"""Production settings refuse weak keys, and every page carries a strict Content-Security-Policy.

A short ``DJANGO_SECRET_KEY`` (Django only warns about it under ``check --deploy``) or a
``FIELD_ENCRYPTION_KEY`` that is not a list of Fernet keys stops every command with one line,
``Configuration error: ...``, and status 2, before anything runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tenancy.models import Membership
from tests.dashboard import PASSWORD, make_connection, make_org, make_run, make_user

ROOT = Path(__file__).resolve().parents[2]
SAFE = {
    "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.production",
    "DJANGO_SECRET_KEY": "k4V-7dQx9mZ2pL8sR1tW6yB3nC5hJ0gF-aE_uI4oP7qS2dX9zM1vK8bN6cT3",
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "DJANGO_ALLOWED_HOSTS": "analytics.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "REDIS_URL": "redis://127.0.0.1:6379/1",
}


def manage_check(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env={**base, **SAFE, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def refused_in_one_line(result: subprocess.CompletedProcess[str], *names: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Configuration error: Production settings refuse to start: "), line
    for name in names:
        assert name in line, line
    return line


def test_the_safe_environment_starts() -> None:
    result = manage_check()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "secret",
    ["x", "short-but-not-empty", "a" * 60, "django-insecure-" + "k4V-7dQx9mZ2pL8sR1tW6yB3nC5hJ0gF-aE_uI4oP7"],
)
def test_a_weak_secret_key_is_refused(secret: str) -> None:
    line = refused_in_one_line(manage_check(DJANGO_SECRET_KEY=secret), "DJANGO_SECRET_KEY")
    assert secret not in line  # the refusal does not print the key


@pytest.mark.parametrize(
    "keys",
    [
        "collectstatic-build-only-placeholder",
        "not base64 at all!",
        Fernet.generate_key().decode()[:-4],  # cut short
        f"{Fernet.generate_key().decode()},oops",  # the second of a rotation list
        ",",
    ],
)
def test_a_malformed_encryption_key_is_refused(keys: str) -> None:
    line = refused_in_one_line(manage_check(FIELD_ENCRYPTION_KEY=keys), "FIELD_ENCRYPTION_KEY", "Fernet")
    assert "oops" not in line and "placeholder" not in line


def test_a_rotation_list_of_good_keys_starts() -> None:
    keys = f"{Fernet.generate_key().decode()}, {Fernet.generate_key().decode()}"
    assert manage_check(FIELD_ENCRYPTION_KEY=keys).returncode == 0


def test_the_image_build_placeholders_pass_the_production_checks() -> None:
    """The Dockerfile runs collectstatic under the production settings with throwaway keys."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "collectstatic-build-only-placeholder" not in dockerfile
    assert "Fernet.generate_key()" in dockerfile and "secrets.token_urlsafe" in dockerfile


# -- Content-Security-Policy --------------------------------------------------------------------

TEMPLATES = ROOT / "dashboard" / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"javascript:", re.I)


def csp_directives(header: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


def test_the_policy_is_strict() -> None:
    directives = csp_directives(settings.CONTENT_SECURITY_POLICY)
    assert directives["default-src"] == "default-src 'self'"
    assert directives["script-src"] == "script-src 'self'"
    assert directives["style-src"] == "style-src 'self'"
    assert directives["object-src"] == "object-src 'none'"
    assert directives["base-uri"] == "base-uri 'none'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert "unsafe" not in settings.CONTENT_SECURITY_POLICY and "*" not in settings.CONTENT_SECURITY_POLICY


def test_no_template_needs_inline_script_or_style() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, INLINE_STYLE, JAVASCRIPT_URL):
            assert not pattern.search(text), (template, pattern.pattern)


def inline_code(html: str) -> list[str]:
    return [*INLINE_SCRIPT.findall(html), *INLINE_HANDLER.findall(html), *INLINE_STYLE.findall(html)]


@pytest.mark.embedded
@pytest.mark.django_db
def test_every_page_carries_the_policy_and_runs_without_inline_code() -> None:
    organization = make_org("Northwind")
    connection = make_connection(organization, account_id="508000001", name="LinkedIn main")
    make_run(connection)
    user = make_user("boss", organization=organization, is_staff=True, is_superuser=True)
    Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    anonymous = client.get(reverse("login"))
    assert anonymous["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert client.login(username="boss", password=PASSWORD)

    from django_celery_beat.models import PeriodicTask

    from dashboard.services import periodic_tasks_install

    periodic_tasks_install()
    task = PeriodicTask.objects.first()
    assert task is not None
    pages = [
        reverse("dashboard:overview"),
        reverse("dashboard:campaigns"),
        reverse("dashboard:email"),
        reverse("dashboard:pipeline"),
        reverse("dashboard:accounts"),
        reverse("dashboard:sync_health"),
        reverse("dashboard:sync_health") + f"?connection={connection.pk}",
        reverse("dashboard:connect_choose"),
        reverse("dashboard:connect_platform", args=["linkedin_ads"]),
        reverse("dashboard:connect_platform", args=["demandbase"]),
        reverse("admin:index"),
        reverse("admin:connectors_connection_change", args=[connection.pk]),
        reverse("admin:etl_syncrun_changelist"),
        reverse("admin:django_celery_beat_periodictask_change", args=[task.pk]),
        reverse("admin:django_celery_beat_periodictask_add"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY, url
        assert inline_code(response.content.decode()) == [], url
    csv = client.get(reverse("dashboard:export_csv", args=["sync_runs"]))
    assert csv.status_code == 200 and "Content-Security-Policy" in csv

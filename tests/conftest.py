"""Shared fixtures: a LinkedIn sandbox on loopback, an organization, a connection to the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.linkedin_ads.sandbox import DEMO_REFRESH_TOKEN, LinkedInAdsSandbox, create_app
from connectors.models import Connection
from connectors.sandbox import SandboxServer
from tenancy.models import Organization

LINKEDIN_ACCOUNT = "508000001"


@pytest.fixture
def linkedin_sandbox(settings: Any) -> Iterator[SandboxServer]:
    """A fresh LinkedIn sandbox, with the settings pointing at it."""
    with SandboxServer(create_app()) as server:
        for key, value in server.env().items():
            setattr(settings, key, value)
        yield server


@pytest.fixture
def linkedin_app(linkedin_sandbox: SandboxServer) -> LinkedInAdsSandbox:
    app = linkedin_sandbox.app
    assert isinstance(app, LinkedInAdsSandbox)
    return app


@pytest.fixture
def organization(db: None) -> Organization:
    return Organization.objects.create(name="Northwind", slug="northwind")


@pytest.fixture
def linkedin_connection(organization: Organization, linkedin_sandbox: SandboxServer) -> Connection:
    from connectors.services import connection_create

    return connection_create(
        organization=organization,
        platform="linkedin_ads",
        account_id=LINKEDIN_ACCOUNT,
        credentials={"refresh_token": DEMO_REFRESH_TOKEN},
        check=False,
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    where = f"{db.get('HOST') or 'local'}:{db.get('PORT') or ''}" if connection.vendor != "sqlite" else db["NAME"]
    return [
        f"database: {connection.vendor} at {where} (test database created by pytest-django)",
        f"cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]} {settings.CACHES['default'].get('LOCATION', '')}",
        "celery: in-process for unit tests; tests/integration start a real worker and beat on redis://127.0.0.1:6379/13",
    ]

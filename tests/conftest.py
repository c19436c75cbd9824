"""Shared fixtures: a LinkedIn sandbox on loopback, an organization, a connection to the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.linkedin_ads.sandbox import DEMO_REFRESH_TOKEN, LinkedInAdsSandbox, create_app
from connectors.models import Connection, Organization
from connectors.sandbox import SandboxServer

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

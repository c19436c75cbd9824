"""Fixtures of the pipeline tests: a Zoho CRM sandbox and a connection to its demo org."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.models import Connection
from connectors.sandbox import SandboxServer
from connectors.services import connection_create
from connectors.zoho_crm.sandbox import DEMO_ORG, DEMO_REFRESH_TOKEN, ZohoCrmSandbox, create_app
from tenancy.models import Organization


@pytest.fixture
def zoho_sandbox(settings: Any) -> Iterator[SandboxServer]:
    with SandboxServer(create_app()) as server:
        for key, value in server.env().items():
            setattr(settings, key, value)
        yield server


@pytest.fixture
def zoho_app(zoho_sandbox: SandboxServer) -> ZohoCrmSandbox:
    app = zoho_sandbox.app
    assert isinstance(app, ZohoCrmSandbox)
    return app


@pytest.fixture
def organization(db: None) -> Organization:
    return Organization.objects.create(name="Northwind", slug="northwind")


@pytest.fixture
def zoho_connection(organization: Organization, zoho_sandbox: SandboxServer) -> Connection:
    return connection_create(
        organization=organization,
        platform="zoho_crm",
        account_id=DEMO_ORG,
        credentials={"refresh_token": DEMO_REFRESH_TOKEN},
        options={"accounts_server": "https://accounts.zoho.in"},
        check=False,
    )

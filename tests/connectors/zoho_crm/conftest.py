"""Fixtures for the Zoho CRM tests: a sandbox on loopback with the settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.sandbox import SandboxServer
from connectors.zoho_crm.sandbox import ZohoCrmSandbox, create_app


@pytest.fixture
def zoho_sandbox(settings: Any) -> Iterator[SandboxServer]:
    """A fresh Zoho CRM sandbox (accounts server and API), with the settings pointing at it."""
    with SandboxServer(create_app()) as server:
        for key, value in server.env().items():
            setattr(settings, key, value)
        yield server


@pytest.fixture
def zoho_app(zoho_sandbox: SandboxServer) -> ZohoCrmSandbox:
    app = zoho_sandbox.app
    assert isinstance(app, ZohoCrmSandbox)
    return app

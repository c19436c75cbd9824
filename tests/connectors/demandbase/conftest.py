"""Fixtures for the Demandbase tests: a sandbox on loopback with the settings pointing at it, and fast
export-job polling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.demandbase.connector import Connector
from connectors.demandbase.export import ExportTiming
from connectors.demandbase.sandbox import DemandbaseSandbox, create_app
from connectors.sandbox import SandboxServer

FAST_POLLING = ExportTiming(first_poll_seconds=0.01, max_poll_seconds=0.05, deadline_seconds=10.0)


@pytest.fixture(autouse=True)
def fast_export_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Connector, "export_timing", FAST_POLLING)


@pytest.fixture
def demandbase_sandbox(settings: Any) -> Iterator[SandboxServer]:
    """A fresh Demandbase sandbox, with the settings pointing at it."""
    with SandboxServer(create_app()) as server:
        for key, value in server.env().items():
            setattr(settings, key, value)
        yield server


@pytest.fixture
def demandbase_app(demandbase_sandbox: SandboxServer) -> DemandbaseSandbox:
    app = demandbase_sandbox.app
    assert isinstance(app, DemandbaseSandbox)
    return app

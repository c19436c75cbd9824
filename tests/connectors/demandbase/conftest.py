"""Fast export-job polling for the Demandbase tests (the sandbox itself: tests/conftest.py)."""

from __future__ import annotations

import pytest

from connectors.demandbase.connector import Connector
from connectors.demandbase.export import ExportTiming

FAST_POLLING = ExportTiming(first_poll_seconds=0.01, max_poll_seconds=0.05, deadline_seconds=10.0)


@pytest.fixture(autouse=True)
def fast_export_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Connector, "export_timing", FAST_POLLING)

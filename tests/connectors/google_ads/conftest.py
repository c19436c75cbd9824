"""Google Ads sandbox fixtures for this folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.google_ads.sandbox import GoogleAdsSandbox
from connectors.sandbox import SandboxServer
from tests.connectors.google_ads.support import app_of, serving


@pytest.fixture
def google_ads_sandbox(settings: Any) -> Iterator[SandboxServer]:
    with serving(settings) as server:
        yield server


@pytest.fixture
def google_ads_app(google_ads_sandbox: SandboxServer) -> GoogleAdsSandbox:
    return app_of(google_ads_sandbox)

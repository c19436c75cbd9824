"""Helpers for Google Ads tests: the sandbox (HTTP token endpoint + gRPC API over TLS) served with
the settings pointing at it, connections to its accounts, and the catalogue's account ids.

Used by this folder's conftest and by tests/etl/test_pipeline_google_ads.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from connectors.google_ads.sandbox import DEMO_REFRESH_TOKEN, GoogleAdsSandbox, create_app
from connectors.models import Connection
from connectors.sandbox import SandboxServer
from tenancy.models import Organization

MANAGER = "5550001000"
US_CLIENT = "5550001001"
DACH_CLIENT = "5550001002"
CANCELLED_CLIENT = "5550001003"
STANDALONE = "5550003001"
BIG_ACCOUNT = "5550002001"
EMPTY_ACCOUNT = "5550004001"
STREAM_BATCH_ROWS = 100  # small, so that reports arrive in several stream messages
STREAM_PATH = "/google.ads.googleads.v26.services.GoogleAdsService/SearchStream"


@contextmanager
def serving(settings: Any, **options: Any) -> Iterator[SandboxServer]:
    """A fresh Google Ads sandbox with the settings pointing at it; its gRPC server stops after.
    ``options`` go to ``create_app`` (e.g. ``unreported_metrics``, ``refused_metrics``)."""
    app = create_app(stream_batch_rows=STREAM_BATCH_ROWS, **options)
    try:
        with SandboxServer(app) as server:
            for key, value in server.env().items():
                setattr(settings, key, value)
            settings.GOOGLE_ADS_DEVELOPER_TOKEN = ""
            yield server
    finally:
        app.close()


def app_of(server: SandboxServer) -> GoogleAdsSandbox:
    assert isinstance(server.app, GoogleAdsSandbox)
    return server.app


def connect(organization: Organization, account_id: str, **options: str) -> Connection:
    from connectors.services import connection_create

    return connection_create(
        organization=organization,
        platform="google_ads",
        account_id=account_id,
        credentials={"refresh_token": DEMO_REFRESH_TOKEN},
        options=options,
        check=False,
    )

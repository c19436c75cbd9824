"""What tests do with the sandboxes: serve a platform's fake with the settings pointing at it, connect
an organization to it with the fake's demo credentials, and sync that connection in process.

The ``sandboxes`` fixture (tests/conftest.py) is one :class:`Sandboxes` per test; the platform
fixtures (``linkedin_sandbox``, ``zoho_app``, ``linkedin_connection`` ...) are built from it.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from typing import Any, TypeVar

from connectors.models import Connection
from connectors.services import connection_create
from etl.models import SyncRun
from etl.pipeline import sync_start
from sandbox.core import FakeApi, SandboxServer
from sandbox.serve import create_sandbox, demo_connections
from tenancy.models import Organization

App = TypeVar("App", bound=FakeApi)

# Options every test's fake gets unless it says otherwise: Google Ads reports in small stream
# messages, so that a report arrives in several.
TEST_OPTIONS: dict[str, dict[str, Any]] = {"google_ads": {"stream_batch_rows": 100}}
# Settings besides the fake's own environment.
TEST_SETTINGS: dict[str, dict[str, Any]] = {"google_ads": {"GOOGLE_ADS_DEVELOPER_TOKEN": ""}}


class Clock:
    """A settable ``time.time`` for a fake: it stands still until moved."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def serving(platform: str, settings: Any = None, **options: Any) -> Iterator[SandboxServer]:
    """A fresh fake of ``platform`` on loopback (``options`` go to its ``create_app``), with
    ``settings`` (pytest-django's fixture) pointing at it when given; stopped after."""
    app = create_sandbox(platform, **{**TEST_OPTIONS.get(platform, {}), **options})
    try:
        with SandboxServer(app) as server:
            if settings is not None:
                for key, value in {**server.env(), **TEST_SETTINGS.get(platform, {})}.items():
                    setattr(settings, key, value)
            yield server
    finally:
        app.close()  # a fake may hold more than its HTTP port (Google Ads: a gRPC server)


def app_of(server: SandboxServer, kind: type[App]) -> App:
    assert isinstance(server.app, kind), f"{type(server.app).__name__} is not a {kind.__name__}"
    return server.app


def connect(
    platform: str,
    organization: Organization,
    *,
    account_id: str | None = None,
    credentials: dict[str, str] | None = None,
    options: dict[str, str] | None = None,
) -> Connection:
    """A connection of ``organization`` to the fake's first demo account, with its demo credentials
    (not tried: the fake need not be running). ``account_id`` picks another of the fake's accounts
    (with no options unless given), ``credentials`` and ``options`` replace the demo's."""
    demo = demo_connections(platform)[0]
    return connection_create(
        organization=organization,
        platform=platform,
        account_id=account_id or demo["account_id"],
        credentials=credentials or demo["credentials"],
        options=options if options is not None else ({} if account_id else demo.get("options", {})),
        check=False,
    )


class Sandboxes:
    """The fakes one test serves: each platform's started once, on first use, the settings pointing
    at it, and stopped when the test ends."""

    def __init__(self, settings: Any, stack: ExitStack) -> None:
        self._settings = settings
        self._stack = stack
        self._servers: dict[str, SandboxServer] = {}

    def serve(self, platform: str, **options: Any) -> SandboxServer:
        """The platform's fake, started now with ``options`` (for ``create_app``) if it is not running."""
        server = self._servers.get(platform)
        if server is not None:
            if options:
                raise ValueError(f"the {platform} sandbox is already running; give its options first")
            return server
        server = self._stack.enter_context(serving(platform, self._settings, **options))
        self._servers[platform] = server
        return server

    def app(self, platform: str, kind: type[App]) -> App:
        """The fake itself (serving it if need be)."""
        return app_of(self.serve(platform), kind)

    def restate(self, platform: str, **restatement: Any) -> list[dict[str, Any]]:
        """Have the platform's fake restate figures from its next read on (see :func:`restate`)."""
        return restate(self.serve(platform), **restatement)

    def connect(self, platform: str, organization: Organization, **details: Any) -> Connection:
        """A connection on the platform's fake (started if need be); ``details`` as for :func:`connect`."""
        self.serve(platform)
        return connect(platform, organization, **details)


def restate(
    server: SandboxServer,
    *,
    days: Iterable[date],
    metric: str,
    factor: float | None = None,
    delta: float | None = None,
    campaign: str | None = None,
) -> list[dict[str, Any]]:
    """Ask a fake, through its control endpoint, to serve ``metric`` of ``days`` restated (times
    ``factor`` or moved by ``delta``; one campaign's or all) from its next read on."""
    body: dict[str, Any] = {"days": [d.isoformat() for d in days], "metric": metric}
    body.update({k: v for k, v in (("factor", factor), ("delta", delta), ("campaign", campaign)) if v is not None})
    request = urllib.request.Request(
        f"{server.url}/_sandbox/restatements",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: list[dict[str, Any]] = json.loads(response.read())["restatements"]
    return answer


def run_sync(connection: Connection) -> SyncRun:
    """One whole sync of ``connection``, in process; the run as it ended."""
    run = sync_start(connection_id=connection.pk)
    assert run is not None, "a run of this connection is already in flight"
    run.refresh_from_db()
    return run

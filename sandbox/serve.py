"""Every platform's fake by its platform name: create one, serve several on loopback, the fixed ports
the demo serves them on, and the accounts the demo connects.

A platform has a fake when ``sandbox/<platform>/`` exists; its ``create_app(**options)`` builds the fake
and its ``DEMO_CONNECTIONS`` name the accounts ``make demo`` connects.
"""

from __future__ import annotations

import errno
import importlib
import logging
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any, Final

from sandbox.core import FakeApi, SandboxServer

logger = logging.getLogger(__name__)

DEFAULT_PORT_BASE: Final = 8701
# The order of the fixed ports (8701 and up), so that the demo's URLs stay the same from one run to
# the next. A platform not listed here takes the ports after these, in the order of its name.
PORT_ORDER: Final = ("google_ads", "linkedin_ads", "mailchimp", "zoho_crm", "demandbase")


def sandbox_ports(platforms: Iterable[str], base: int = DEFAULT_PORT_BASE) -> dict[str, int]:
    """Each platform's port, counted from ``base`` in :data:`PORT_ORDER`."""
    wanted = list(platforms)
    order = [*PORT_ORDER, *sorted(set(wanted) - set(PORT_ORDER))]
    return {platform: base + order.index(platform) for platform in wanted}


def _module_name(platform: str) -> str:
    return f"sandbox.{platform}"


def _sandbox_module(platform: str) -> ModuleType | None:
    """``sandbox.<platform>``, or None when the platform has no fake."""
    try:
        return importlib.import_module(_module_name(platform))
    except ModuleNotFoundError as exc:
        if exc.name == _module_name(platform):
            return None
        raise


def has_sandbox(platform: str) -> bool:
    return _sandbox_module(platform) is not None


def create_sandbox(platform: str, **options: Any) -> FakeApi:
    """Import ``sandbox.<platform>`` and return its ``create_app(**options)``."""
    app = importlib.import_module(_module_name(platform)).create_app(**options)
    if not isinstance(app, FakeApi):
        raise TypeError(f"{platform}: create_app() returned {type(app).__name__}, not a FakeApi")
    return app


def demo_connections(platform: str) -> tuple[dict[str, Any], ...]:
    """The accounts ``make demo`` connects on this platform's fake (none when it has no fake):
    ``account_id``, ``credentials`` and ``options``."""
    module = _sandbox_module(platform)
    return tuple(getattr(module, "DEMO_CONNECTIONS", ()))


def serve_sandboxes(
    platforms: Iterable[str],
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
    *,
    free_port_when_taken: bool = False,
) -> dict[str, SandboxServer]:
    """Start one loopback server per platform that has a fake; others are skipped.

    A platform's port in ``ports`` that is already in use raises ``OSError``, or, with
    ``free_port_when_taken``, is replaced by a free port (the server's ``port`` says which).
    """
    servers: dict[str, SandboxServer] = {}
    try:
        for platform in platforms:
            if not has_sandbox(platform):
                logger.info("no sandbox for %s; skipped", platform)
                continue
            port = (ports or {}).get(platform, 0)
            app = create_sandbox(platform)
            try:
                try:
                    servers[platform] = SandboxServer(app, host=host, port=port)
                except OSError as exc:
                    if not (free_port_when_taken and port and exc.errno == errno.EADDRINUSE):
                        raise
                    servers[platform] = SandboxServer(app, host=host, port=0)
            except BaseException:
                app.close()  # a fake may hold more than its HTTP port (Google Ads: a gRPC server)
                raise
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers

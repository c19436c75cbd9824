"""Which platforms exist. A platform is a sub-package of ``connectors`` with a ``connector``
module defining ``Connector``; nothing else has to be edited to add one."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import connectors
from connectors.base import BaseConnector


class UnknownPlatform(ValueError):
    pass


@cache
def connector_classes() -> dict[str, type[BaseConnector]]:
    found: dict[str, type[BaseConnector]] = {}
    for module in pkgutil.iter_modules(connectors.__path__):
        if not module.ispkg:
            continue
        try:
            mod = importlib.import_module(f"connectors.{module.name}.connector")
        except ModuleNotFoundError as exc:
            if exc.name == f"connectors.{module.name}.connector":
                continue
            raise
        cls = mod.Connector
        found[cls.platform] = cls
    return dict(sorted(found.items()))


def platforms() -> list[str]:
    return list(connector_classes())


def platforms_feeding(*datasets: str) -> tuple[str, ...]:
    """The platforms with a stream feeding one of these datasets (``"email_campaign"``...): which
    platforms a page about that data speaks of, derived from the connectors' streams."""
    return tuple(
        platform
        for platform, cls in connector_classes().items()
        if any(stream.dataset in datasets for stream in cls.streams)
    )


def get_connector_class(platform: str) -> type[BaseConnector]:
    try:
        return connector_classes()[platform]
    except KeyError:
        known = ", ".join(platforms()) or "none"
        raise UnknownPlatform(f"Unknown platform {platform!r}; available: {known}") from None

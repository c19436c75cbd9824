"""A platform's settings: declared in its own folder, read from the environment under its prefix.

Each platform lists its settings in ``connectors/<platform>/settings.py`` (``SETTINGS``, a tuple of
``Setting``): every outbound host with the real one as default, its OAuth app's credentials, its API
version and restatement window, whatever else it needs. The project's settings read them all from the
environment, each under the platform's prefix (its slug in capitals: ``LINKEDIN_ADS_API_VERSION``),
so no list of platforms is written down anywhere else. ``python manage.py platform_settings`` prints
them with their defaults.

This module and the ``settings`` modules are plain data: they import no Django, because the project's
settings read them while Django is being configured.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import connectors


@dataclass(frozen=True)
class Setting:
    name: str  # without the platform's prefix
    default: str | int
    help: str

    def full_name(self, platform: str) -> str:
        return f"{prefix(platform)}_{self.name}"


def prefix(platform: str) -> str:
    """The prefix of a platform's settings: its slug in capitals (``zoho_crm`` → ``ZOHO_CRM``)."""
    return platform.upper()


def _settings_module(package: str) -> ModuleType | None:
    name = f"connectors.{package}.settings"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def declared() -> dict[str, tuple[Setting, ...]]:
    """Every platform folder's declared settings, by platform slug (the folder's name)."""
    found: dict[str, tuple[Setting, ...]] = {}
    for module in pkgutil.iter_modules(connectors.__path__):
        if module.ispkg and (declaring := _settings_module(module.name)) is not None:
            found[module.name] = tuple(declaring.SETTINGS)
    return dict(sorted(found.items()))


def read(get_str: Callable[[str, str], str], get_int: Callable[[str, int], int]) -> dict[str, Any]:
    """Every platform setting's value, by its full name, through the project's environment reader."""
    values: dict[str, Any] = {}
    for platform, settings in declared().items():
        for setting in settings:
            name = setting.full_name(platform)
            if isinstance(setting.default, int):
                values[name] = get_int(name, setting.default)
            else:
                values[name] = get_str(name, setting.default)
    return values


def value(platform: str, name: str) -> Any:
    """The current value of one of a platform's settings (Django's, so tests can override it)."""
    from django.conf import settings

    return getattr(settings, f"{prefix(platform)}_{name}")

"""The one module that reads the process environment.

Every setting that varies between machines comes through here; nothing else in the project looks
at ``os.environ``. Values are parsed by django-environ, and a ``.env`` file beside ``manage.py`` is
read first when it exists (it never overrides variables that are already set).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def use_default_settings_module(module: str = "sales_dashboard.settings.base") -> None:
    """Point Django at the default settings unless ``DJANGO_SETTINGS_MODULE`` is already set."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", module)


def local_secret(path: Path, generate: Callable[[], str]) -> str:
    """Read a development secret from ``path``, creating it on first use (mode 0600).

    Used only when the matching environment variable is absent; production settings refuse to
    start on such a secret.
    """
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def positive_number(name: str, *, default: float) -> float:
    """A setting that must be a number above zero; anything else stops the start with one clear line."""
    from django.core.exceptions import ImproperlyConfigured

    raw = env.str(name, default="").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ImproperlyConfigured(f"{name} must be a positive number, not {raw!r}.")
    return value

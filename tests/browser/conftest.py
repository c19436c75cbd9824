"""A headless Chromium of the system (never a browser downloaded by Playwright) for the browser tests.

Debian's ``/usr/bin/chromium`` by default, which ``make browser-deps`` installs (``apt-get install
chromium``) together with the Playwright package; or any Chromium or Chrome named by the
``CHROMIUM`` environment variable, the same one ``make test CHROMIUM=/path/to/chrome`` passes on.
Without it the tests are skipped on a developer's machine and fail under CI, where a skipped
browser test would hide a missing install step.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def _unavailable(reason: str) -> None:
    remedy = "run `make browser-deps`, or set CHROMIUM to a Chromium or Chrome binary"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; {remedy}")
    pytest.skip(f"{reason} ({remedy})")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("The playwright package is not installed")
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is not installed")
    # Playwright's synchronous API keeps an event loop on this thread; the ORM calls the tests make
    # around it are ordinary blocking calls, which Django would otherwise refuse there.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    context.set_default_timeout(60_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def private_cache(settings: Any) -> Iterator[None]:
    """A local-memory cache shared by the test and the live server threads, empty at the start."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "browser-tests"}
    }
    cache.clear()
    yield
    cache.clear()


def pytest_configure(config: pytest.Config) -> None:
    # Also declared in pyproject.toml's markers; repeated here so the module never warns.
    config.addinivalue_line(
        "markers", "browser: drives Debian's Chromium through Playwright (make browser-deps)"
    )

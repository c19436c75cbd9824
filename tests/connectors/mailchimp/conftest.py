"""Fixtures for the Mailchimp tests: a sandbox on loopback with a clock that stands still."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.mailchimp.sandbox import MailchimpSandbox, create_app
from connectors.sandbox import SandboxServer


class Clock:
    """A settable ``time.time``: the sandbox reads reports as of this moment."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def mailchimp_clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
def mailchimp_sandbox(settings: Any, mailchimp_clock: Clock) -> Iterator[SandboxServer]:
    """A fresh Mailchimp sandbox, with the settings pointing at it."""
    with SandboxServer(create_app(clock=mailchimp_clock)) as server:
        for key, value in server.env().items():
            setattr(settings, key, value)
        yield server


@pytest.fixture
def mailchimp_app(mailchimp_sandbox: SandboxServer) -> MailchimpSandbox:
    app = mailchimp_sandbox.app
    assert isinstance(app, MailchimpSandbox)
    return app

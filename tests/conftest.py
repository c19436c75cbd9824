"""Shared fixtures: an organization, and each platform's sandbox on loopback with the settings pointing
at it: the fake itself (``<platform>_app``) and a connection of the organization to its demo account
(``<platform>_connection``), all made by one factory, ``sandboxes`` (tests/sandboxes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from connectors.models import Connection
from sandbox.core import SandboxServer
from sandbox.demandbase import DemandbaseSandbox
from sandbox.google_ads import GoogleAdsSandbox
from sandbox.linkedin_ads import LinkedInAdsSandbox
from sandbox.mailchimp import MailchimpSandbox
from sandbox.zoho_crm import ZohoCrmSandbox
from tenancy.models import Organization
from tests.sandboxes import Clock, Sandboxes


@pytest.fixture
def organization(db: None) -> Organization:
    return Organization.objects.create(name="Northwind", slug="northwind")


@pytest.fixture
def sandboxes(settings: Any) -> Iterator[Sandboxes]:
    """The factory of "a connection on this platform's sandbox": ``sandboxes.serve(platform, **options)``
    starts the platform's fake (once per test) with the settings pointing at it, and
    ``sandboxes.connect(platform, organization)`` connects an organization to its demo account."""
    with ExitStack() as stack:
        yield Sandboxes(settings, stack)


# -- LinkedIn Ads


@pytest.fixture
def linkedin_sandbox(sandboxes: Sandboxes) -> SandboxServer:
    return sandboxes.serve("linkedin_ads")


@pytest.fixture
def linkedin_app(sandboxes: Sandboxes) -> LinkedInAdsSandbox:
    return sandboxes.app("linkedin_ads", LinkedInAdsSandbox)


@pytest.fixture
def linkedin_connection(sandboxes: Sandboxes, organization: Organization) -> Connection:
    """The demo account 508000001 (12 campaigns, USD)."""
    return sandboxes.connect("linkedin_ads", organization)


# -- Zoho CRM


@pytest.fixture
def zoho_sandbox(sandboxes: Sandboxes) -> SandboxServer:
    return sandboxes.serve("zoho_crm")


@pytest.fixture
def zoho_app(sandboxes: Sandboxes) -> ZohoCrmSandbox:
    return sandboxes.app("zoho_crm", ZohoCrmSandbox)


@pytest.fixture
def zoho_connection(sandboxes: Sandboxes, organization: Organization) -> Connection:
    """The demo org, Northwind Traders, on the Indian data centre."""
    return sandboxes.connect("zoho_crm", organization)


# -- Mailchimp: its clock stands still unless a test moves it (reports grow by the day)


@pytest.fixture
def mailchimp_clock() -> Clock:
    return Clock()


@pytest.fixture
def mailchimp_sandbox(sandboxes: Sandboxes, mailchimp_clock: Clock) -> SandboxServer:
    return sandboxes.serve("mailchimp", clock=mailchimp_clock)


@pytest.fixture
def mailchimp_app(mailchimp_sandbox: SandboxServer, sandboxes: Sandboxes) -> MailchimpSandbox:
    return sandboxes.app("mailchimp", MailchimpSandbox)


@pytest.fixture
def mailchimp_connection(
    mailchimp_sandbox: SandboxServer, sandboxes: Sandboxes, organization: Organization
) -> Connection:
    """The demo account 40118001 (us19)."""
    return sandboxes.connect("mailchimp", organization)


# -- Demandbase


@pytest.fixture
def demandbase_sandbox(sandboxes: Sandboxes) -> SandboxServer:
    return sandboxes.serve("demandbase")


@pytest.fixture
def demandbase_app(sandboxes: Sandboxes) -> DemandbaseSandbox:
    return sandboxes.app("demandbase", DemandbaseSandbox)


@pytest.fixture
def demandbase_connection(sandboxes: Sandboxes, organization: Organization) -> Connection:
    """The demo tenant, northwind, with its full key set."""
    return sandboxes.connect("demandbase", organization)


# -- Google Ads (its connections: tests/connectors/google_ads/support.py names the accounts)


@pytest.fixture
def google_ads_sandbox(sandboxes: Sandboxes) -> SandboxServer:
    return sandboxes.serve("google_ads")


@pytest.fixture
def google_ads_app(sandboxes: Sandboxes) -> GoogleAdsSandbox:
    return sandboxes.app("google_ads", GoogleAdsSandbox)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    where = (
        f"{db.get('HOST') or 'local'}:{db.get('PORT') or ''}" if connection.vendor != "sqlite" else db["NAME"]
    )
    return [
        f"database: {connection.vendor} at {where} (test database created by pytest-django)",
        f"cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]} {settings.CACHES['default'].get('LOCATION', '')}",
        "celery: in-process for unit tests; tests/integration start a real worker and beat on redis://127.0.0.1:6379/13",
    ]

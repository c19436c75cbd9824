"""Tokens and secrets stay in the encrypted column: not in any other column of any table, not in
the logs, not in the run's messages, not on the admin pages, even when a sync meets faults.

The syncs run against the LinkedIn sandbox with throttling, a 5xx, an access token that expires
in the middle of the run (so a new one is minted and stored) and, last, a revoked refresh token
(so the run fails with an error message that is shown to people).
"""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from connectors.crypto import decrypt_json
from connectors.models import Connection
from connectors.platform_settings import value
from etl.models import SyncRun
from sales_dashboard.logging import RedactSecretsFilter, StructuredFormatter
from sandbox.linkedin_ads import DEMO_REFRESH_TOKEN, SANDBOX_CLIENT_SECRET, LinkedInAdsSandbox
from tests.dashboard import PASSWORD, make_user
from tests.sandboxes import run_sync

pytestmark = pytest.mark.django_db(transaction=True)


def run_syncs_with_faults(connection: Connection, app: LinkedInAdsSandbox) -> list[SyncRun]:
    """One sync that succeeds through faults, then one that fails on a revoked refresh token."""
    app.faults.add("rate_limit", times=2, path="/rest/adAnalytics")
    app.faults.add("server_error", times=1, path="/rest/adAccounts")
    app.faults.add("expire_token", times=1, after=2, path="/rest/")
    first = run_sync(connection)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error_message

    app.faults.add("expire_token", times=1, path="/rest/")
    app.faults.add("revoke_refresh", times=1)
    second = run_sync(connection)
    assert second.status == SyncRun.Status.FAILED and second.error_class == "AuthError"
    assert app.faults.pending() == []
    return [first, second]


def secret_values(app: LinkedInAdsSandbox) -> set[str]:
    """Every access and refresh token the sandbox issued, and the OAuth client secret."""
    with app._lock:
        issued = set(app.access) | set(app.refresh)
    values = {DEMO_REFRESH_TOKEN, SANDBOX_CLIENT_SECRET, value("linkedin_ads", "CLIENT_SECRET"), *issued}
    assert len(issued) >= 3  # the demo refresh token and at least two access tokens (one expired mid-run)
    return values


def raw_database_text() -> dict[str, list[str]]:
    """Every value of every table, read with SQL, as text (json and binary columns included)."""
    out: dict[str, list[str]] = {}
    with db.cursor() as cursor:
        for table in db.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")
            names = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for name, value in zip(names, row, strict=True):
                    if isinstance(value, memoryview):
                        value = value.tobytes()
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    if value is not None:
                        out.setdefault(f"{table}.{name}", []).append(str(value))
    return out


def test_the_raw_database_holds_no_token_and_no_client_secret(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox
) -> None:
    run_syncs_with_faults(linkedin_connection, linkedin_app)
    secrets = secret_values(linkedin_app)
    secrets |= {settings.FIELD_ENCRYPTION_KEY.split(",")[0]}

    dump = raw_database_text()
    assert "connectors_connection.credentials_encrypted" in dump
    assert "warehouse_ad_performance_daily.campaign_id" in dump  # the sync did load rows
    leaks = [
        (column, secret) for column, values in dump.items() for value in values for secret in secrets if secret in value
    ]
    assert leaks == []

    # The tokens are stored, only encrypted: the newest access token decrypts out of the column.
    linkedin_connection.refresh_from_db()
    stored = decrypt_json(linkedin_connection.credentials_encrypted)
    assert stored["refresh_token"] == DEMO_REFRESH_TOKEN
    assert stored.get("access_token") in secrets


def test_logs_and_run_messages_hold_no_token_or_secret(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    # What reaches the log stream in production: every record, through the project's filter and format.
    caplog.handler.addFilter(RedactSecretsFilter())
    caplog.handler.setFormatter(StructuredFormatter())
    caplog.set_level(logging.DEBUG)
    try:
        runs = run_syncs_with_faults(linkedin_connection, linkedin_app)
    finally:
        caplog.handler.filters.clear()
    secrets = secret_values(linkedin_app)

    text = caplog.text
    assert len(caplog.records) > 10 and "sync" in text  # the pipeline did log, at every level
    assert [s for s in secrets if s in text] == []

    for run in runs:
        run.refresh_from_db()
        shown = " ".join([run.error_message, *run.notes, str(run.rows), str(run.timings)])
        assert [s for s in secrets if s in shown] == []
    assert "Reconnect" in runs[1].error_message
    linkedin_connection.refresh_from_db()
    assert [s for s in secrets if s in linkedin_connection.status_message] == []


def test_the_admin_never_shows_a_token(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox
) -> None:
    runs = run_syncs_with_faults(linkedin_connection, linkedin_app)
    secrets = secret_values(linkedin_app)
    linkedin_connection.refresh_from_db()
    secrets.add(linkedin_connection.credentials_encrypted)  # not even the ciphertext

    make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    assert client.login(username="root", password=PASSWORD)
    pages = [
        reverse("admin:connectors_connection_changelist"),
        reverse("admin:connectors_connection_change", args=[linkedin_connection.pk]),
        reverse("admin:tenancy_organization_change", args=[linkedin_connection.organization_id]),
        reverse("admin:etl_syncrun_changelist"),
        *(reverse("admin:etl_syncrun_change", args=[run.pk]) for run in runs),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert [s for s in secrets if s in html] == [], url
    change = client.get(pages[1]).content.decode()
    assert "Stored encrypted (not shown)" in change and "credentials_encrypted" not in change


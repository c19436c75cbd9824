"""A platform's own words are redacted the way log records are before they are stored, so a
platform that echoes a token in an error body shows it nowhere: not in the run's error message,
the connection's status message, Sync health, its CSV, the command's summary, nor a connect page.

The redaction happens where the text is made and stored (``ConnectorError``, ``readable_error``,
``connection_mark_*``), so every reader gets the redacted text.
"""

from __future__ import annotations

import re
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import responses
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from connectors.crypto import encrypt_json
from connectors.errors import AuthError, PermanentError
from connectors.models import Connection
from connectors.services import connection_mark_failing, connection_mark_needs_reauth
from etl.models import SyncRun
from etl.services import readable_error, sync_run_fail
from sandbox.core import SandboxServer
from tenancy.models import Membership
from tests.dashboard import PASSWORD, make_connection, make_org, make_run, make_user
from tests.sandboxes import run_sync

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

TOKEN = "AQVsecretTOKEN1234567890"
LINKEDIN_API = "https://api.linkedin.test"
ECHO = {
    "status": 403,
    "code": "ACCESS_DENIED",
    "message": f"Not enough permissions for Bearer {TOKEN} (access_token={TOKEN})",
}


def member_client(connection: Connection) -> Client:
    user = make_user("reader", organization=connection.organization)
    Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username="reader", password=PASSWORD)
    return client


@pytest.fixture
def echoing_linkedin(settings: Any) -> Any:
    """A LinkedIn that refuses every call with a body echoing the bearer token it was sent."""
    settings.LINKEDIN_ADS_API_BASE_URL = LINKEDIN_API
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, re.compile(re.escape(LINKEDIN_API) + r"/.*"), json=ECHO, status=403)
        yield mock


@pytest.mark.django_db(transaction=True)  # the sync is queued on commit
def test_an_echoed_token_is_redacted_wherever_the_error_is_shown(echoing_linkedin: Any) -> None:
    connection = make_connection(make_org("Northwind"), account_id="508000001", name="LinkedIn main")
    Connection.objects.filter(pk=connection.pk).update(credentials_encrypted=encrypt_json({"access_token": TOKEN}))

    run = run_sync(connection)
    connection.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and run.error_class == "PermanentError"
    assert "Not enough permissions" in run.error_message and "[redacted]" in run.error_message
    stored = {"error_message": run.error_message, "status_message": connection.status_message}
    assert connection.status == Connection.Status.FAILING
    assert {k: v for k, v in stored.items() if TOKEN in v} == {}

    client = member_client(connection)
    health = client.get(reverse("dashboard:sync_health")).content.decode()
    assert "Not enough permissions" in health and TOKEN not in health
    export = client.get(reverse("dashboard:export_csv", args=["sync_runs"]))
    csv = b"".join(getattr(export, "streaming_content", [export.content])).decode()
    assert "Not enough permissions" in csv and TOKEN not in csv

    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command("start_background_syncs", stdout=out, stderr=err)
    summary = out.getvalue() + err.getvalue()
    assert "Not enough permissions" in summary and TOKEN not in summary


def test_connector_errors_carry_redacted_text() -> None:
    error = PermanentError(f"Demandbase answered HTTP 400: bad request client_secret={TOKEN}")
    assert TOKEN not in error.message and TOKEN not in str(error)
    assert "client_secret=[redacted]" in error.message


def test_the_stored_reasons_are_redacted_whoever_writes_them() -> None:
    connection = make_connection(make_org("Northwind"))
    connection_mark_failing(connection=connection, reason=f"refused refresh_token={TOKEN}")
    connection.refresh_from_db()
    assert TOKEN not in connection.status_message
    connection_mark_needs_reauth(connection=connection, reason=f"Bearer {TOKEN} expired")
    connection.refresh_from_db()
    assert TOKEN not in connection.status_message

    assert TOKEN not in readable_error(AuthError(f"token: Bearer {TOKEN}"))
    assert TOKEN not in readable_error(RuntimeError(f"boom api_key={TOKEN}"))
    run = make_run(connection, status=SyncRun.Status.RUNNING, step=SyncRun.Step.EXTRACT)
    sync_run_fail(sync_run_id=run.pk, exc=ValueError(f"password={TOKEN}"))
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and TOKEN not in run.error_message


def test_the_sign_in_error_a_platform_sends_back_is_redacted(linkedin_sandbox: SandboxServer) -> None:
    organization = make_org("Northwind")
    user = make_user("boss", organization=organization)
    Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username="boss", password=PASSWORD)
    started = client.post(reverse("dashboard:connect_platform", args=["linkedin_ads"]), {"account_id": "508000001"})
    state = parse_qs(urlsplit(started["Location"]).query)["state"][0]
    query = urlencode({"state": state, "error": "access_denied", "error_description": f"access_token={TOKEN}"})
    page = client.get(reverse("dashboard:oauth_callback") + "?" + query)
    assert page.status_code == 400
    assert "did not grant access" in page.content.decode() and TOKEN not in page.content.decode()

"""Who may do what inside an organization: its admins connect, reconnect and cancel; every member
(admin or not) reads the dashboard and presses Sync now.

The role is checked on every request of a flow, not only on the first: an admin demoted while the
platform's sign-in page is open cannot finish connecting (or reconnecting) the account.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock, patch

import pytest
import requests
from django.test import Client
from django.urls import reverse

from connectors.models import Connection
from etl.models import SyncRun
from sandbox.core import SandboxServer
from tenancy.models import Membership, Organization
from tests.dashboard import PASSWORD, make_connection, make_org, make_user

pytestmark = pytest.mark.django_db

ACCOUNT = "508000001"


@pytest.fixture
def org() -> Organization:
    return make_org("Northwind")


def signed_in(username: str, organization: Organization, role: str) -> Client:
    user = make_user(username, organization=organization)
    Membership.objects.filter(user_id=user.pk).update(role=role)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def demote(username: str) -> None:
    Membership.objects.filter(user__username=username).update(role=Membership.Role.MEMBER)


def back_from_the_platform(authorize_url: str) -> str:
    """The callback URL the platform sends the browser back to after the user approved."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"]).removeprefix("http://testserver")


# --------------------------------------------------------------------------------------------
# Connecting: admins only, at every step of the flow
# --------------------------------------------------------------------------------------------


def test_an_admin_demoted_during_the_sign_in_cannot_finish_connecting(
    org: Organization, linkedin_sandbox: SandboxServer
) -> None:
    client = signed_in("boss", org, Membership.Role.ADMIN)
    started = client.post(
        reverse("dashboard:connect_platform", args=["linkedin_ads"]), {"account_id": ACCOUNT}
    )
    assert started.status_code == 302
    back = back_from_the_platform(started["Location"])

    demote("boss")
    response = client.get(back)

    assert response.status_code == 403
    assert not Connection.objects.exists() and not SyncRun.objects.exists()
    assert linkedin_sandbox.app.counters["tokens_issued"] == 0  # the code was never exchanged
    # The sign-in is spent: promoted again, the same callback does not connect either.
    Membership.objects.filter(user__username="boss").update(role=Membership.Role.ADMIN)
    assert client.get(back).status_code == 400
    assert not Connection.objects.exists()


def test_an_admin_demoted_during_a_reconnect_cannot_finish_it(
    org: Organization, linkedin_sandbox: SandboxServer
) -> None:
    connection = make_connection(
        org, account_id=ACCOUNT, status=Connection.Status.NEEDS_REAUTH, status_message="Revoked."
    )
    client = signed_in("boss", org, Membership.Role.ADMIN)
    started = client.post(reverse("dashboard:connection_reconnect", args=[connection.pk]))
    back = back_from_the_platform(started["Location"])

    demote("boss")
    assert client.get(back).status_code == 403

    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH and connection.credentials_encrypted == ""
    assert not SyncRun.objects.exists()
    assert linkedin_sandbox.app.counters["tokens_issued"] == 0


def test_a_member_cannot_use_a_callback_at_all(org: Organization, linkedin_sandbox: SandboxServer) -> None:
    client = signed_in("ann", org, Membership.Role.MEMBER)
    response = client.get(reverse("dashboard:oauth_callback"), {"state": "x" * 43, "code": "anything"})
    assert response.status_code == 403
    assert not Connection.objects.exists()


def test_members_may_not_connect_reconnect_or_cancel(org: Organization) -> None:
    connection = make_connection(org, status=Connection.Status.NEEDS_REAUTH)
    run = SyncRun.objects.create(
        connection=make_connection(org, account_id="1002"),
        status=SyncRun.Status.RUNNING,
        window_start="2025-03-01",
        window_end="2025-03-31",
    )
    client = signed_in("ann", org, Membership.Role.MEMBER)
    assert client.get(reverse("dashboard:connect_choose")).status_code == 403
    assert client.get(reverse("dashboard:connect_platform", args=["linkedin_ads"])).status_code == 403
    assert client.post(reverse("dashboard:connection_reconnect", args=[connection.pk])).status_code == 403
    assert client.post(reverse("dashboard:sync_run_cancel", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING


# --------------------------------------------------------------------------------------------
# Sync now: every member of the organization
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Membership.Role.MEMBER, Membership.Role.ADMIN])
def test_every_member_sees_and_may_press_sync_now(org: Organization, role: str, settings: Any) -> None:
    connection = make_connection(org, name="LinkedIn main")
    client = signed_in("ann", org, role)
    sync_now = reverse("dashboard:connection_sync_now", args=[connection.pk])
    for page in ("dashboard:overview", "dashboard:sync_health"):
        assert f'action="{sync_now}"' in client.get(reverse(page)).content.decode(), page
    with patch("dashboard.views.sync_start", return_value=MagicMock(spec=SyncRun)) as sync_start:
        response = client.post(sync_now, follow=True)
    sync_start.assert_called_once_with(connection_id=connection.pk, trigger="manual")
    assert "Sync started for LinkedIn main" in response.content.decode()


def test_sync_now_is_only_for_members_of_the_connections_organization(org: Organization) -> None:
    connection = make_connection(org)
    sync_now = reverse("dashboard:connection_sync_now", args=[connection.pk])
    outsider = signed_in("eve", make_org("Contoso"), Membership.Role.ADMIN)
    make_user("loner")  # no organization at all
    loner = Client()
    assert loner.login(username="loner", password=PASSWORD)
    with patch("dashboard.views.sync_start") as sync_start:
        assert outsider.post(sync_now).status_code == 404
        assert loner.post(sync_now).status_code == 404
        assert Client().post(sync_now).status_code == 302  # to the login page
        assert signed_in("ann", org, Membership.Role.MEMBER).get(sync_now).status_code == 405
    sync_start.assert_not_called()

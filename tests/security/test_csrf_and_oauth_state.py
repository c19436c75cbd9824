"""CSRF on every form that changes something, and the OAuth ``state`` running out.

tests/dashboard/test_connect.py already proves a forged, a missing, a reused and another session's
``state`` are refused, and tests/dashboard/test_views.py that "Sync now" needs its CSRF token; this
adds every other form, and a ``state`` older than its fifteen minutes.
"""

from __future__ import annotations

import pytest
import requests
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from connectors.models import Connection
from etl.models import SyncRun
from sandbox.core import SandboxServer
from tenancy.models import Membership
from tests.dashboard import PASSWORD, make_connection, make_org, make_user

pytestmark = pytest.mark.django_db


def admin_of_org(*, csrf: bool) -> tuple[Client, Connection]:
    org = make_org("Northwind")
    connection = make_connection(org, account_id="508000001", name="LinkedIn main")
    user = make_user("boss", organization=org)
    Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username="boss", password=PASSWORD)
    return client, connection


def test_every_dashboard_form_refuses_a_post_without_its_csrf_token() -> None:
    client, connection = admin_of_org(csrf=True)
    posts = {
        "sync now": (reverse("dashboard:connection_sync_now", args=[connection.pk]), {}),
        "reconnect": (reverse("dashboard:connection_reconnect", args=[connection.pk]), {}),
        "connect (sign-in)": (reverse("dashboard:connect_platform", args=["linkedin_ads"]), {"account_id": "1"}),
        "connect (credentials)": (
            reverse("dashboard:connect_platform", args=["demandbase"]),
            {"account_id": "tenant", "api_key": "k"},
        ),
        "log out": (reverse("logout"), {}),
    }
    for what, (url, data) in posts.items():
        assert client.post(url, data).status_code == 403, what
    assert not SyncRun.objects.exists() and Connection.objects.count() == 1
    assert "_auth_user_id" in client.session  # the forged log-out did not log out


def test_the_login_forms_need_their_csrf_token() -> None:
    make_user("root", is_staff=True, is_superuser=True)
    for url in (reverse("login"), reverse("admin:login")):
        client = Client(enforce_csrf_checks=True)
        response = client.post(url, {"username": "root", "password": PASSWORD})
        assert response.status_code == 403, url
        assert "_auth_user_id" not in client.session


def test_the_pages_render_their_forms_with_a_csrf_token() -> None:
    client, connection = admin_of_org(csrf=True)
    pages = [
        reverse("dashboard:overview"),  # "Sync now"
        reverse("dashboard:sync_health"),  # "Sync now", "Reconnect"
        reverse("dashboard:connect_platform", args=["linkedin_ads"]),
        reverse("dashboard:connect_platform", args=["demandbase"]),
    ]
    connection.status = Connection.Status.NEEDS_REAUTH
    connection.save()
    for url in pages:
        html = client.get(url).content.decode()
        forms = html.count('method="post"')
        assert forms >= 1, url
        assert html.count('name="csrfmiddlewaretoken"') >= forms, url
    assert 'name="csrfmiddlewaretoken"' in Client().get(reverse("login")).content.decode()


def test_an_expired_state_is_refused_and_nothing_is_exchanged(linkedin_sandbox: SandboxServer) -> None:
    client, _ = admin_of_org(csrf=False)
    with freeze_time("2025-03-31 12:00:00") as clock:
        started = client.post(
            reverse("dashboard:connect_platform", args=["linkedin_ads"]), {"account_id": "508000002"}
        )
        assert started.status_code == 302
        back = requests.get(started["Location"], allow_redirects=False, timeout=10).headers["Location"]
        clock.tick(15 * 60 + 1)
        response = client.get(back.removeprefix("http://testserver"))
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert not Connection.objects.filter(account_id="508000002").exists()
    assert linkedin_sandbox.app.counters["tokens_issued"] == 0

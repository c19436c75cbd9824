"""Connecting an account: the OAuth authorization-code flow against the LinkedIn sandbox, the
``state`` check, re-authorization, and the credentials form of platforms without a sign-in page."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from connectors.crypto import decrypt_json
from connectors.models import Connection
from etl.models import SyncRun
from sandbox.core import SandboxServer
from tenancy.models import Membership, Organization
from tests.dashboard import PASSWORD, make_connection, make_org, make_user

ACCOUNT = "508000001"
CALLBACK = "http://testserver" + reverse("dashboard:oauth_callback")


def admin_client(organization: Organization, username: str = "boss") -> Client:
    user = make_user(username, organization=organization)
    Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def start(client: Client, platform: str = "linkedin_ads", **fields: str) -> Any:
    return client.post(
        reverse("dashboard:connect_platform", args=[platform]), {"account_id": ACCOUNT, **fields}
    )


def approve(authorize_url: str) -> str:
    """What the browser does at the platform: the sandbox approves and redirects back with a code."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK)
    return location.removeprefix("http://testserver")


@pytest.mark.django_db
class TestOAuthFlow:
    def test_connects_stores_tokens_encrypted_and_queues_the_first_sync(
        self, organization: Organization, linkedin_sandbox: SandboxServer
    ) -> None:
        client = admin_client(organization)
        form = client.get(reverse("dashboard:connect_platform", args=["linkedin_ads"]))
        assert form.status_code == 200 and b'name="account_id"' in form.content

        response = start(client)

        assert response.status_code == 302
        url = urlsplit(response["Location"])
        assert response["Location"].startswith(linkedin_sandbox.url + "/oauth/v2/authorization")
        query = parse_qs(url.query)
        assert query["response_type"] == ["code"]
        assert query["client_id"] == ["sandbox-linkedin-client"]
        assert query["redirect_uri"] == [CALLBACK]
        assert query["scope"] == ["r_ads r_ads_reporting"]
        state = query["state"][0]
        assert len(state) >= 32
        assert state in client.session["dashboard_connect_intents"]

        done = client.get(approve(response["Location"]))

        assert done.status_code == 302 and done["Location"] == reverse("dashboard:sync_health")
        connection = Connection.objects.get(
            organization=organization, platform="linkedin_ads", account_id=ACCOUNT
        )
        assert connection.status == Connection.Status.ACTIVE
        assert connection.name == "Northwind – Demand Gen"  # read from the account with the new token
        credentials = decrypt_json(connection.credentials_encrypted)
        assert credentials["access_token"].startswith("sandbox-li-access-")
        assert credentials["refresh_token"].startswith("sandbox-li-refresh-")
        assert credentials["access_token"] not in connection.credentials_encrypted
        assert SyncRun.objects.get(connection=connection).trigger == "connect"
        page = client.get(reverse("dashboard:sync_health")).content.decode()
        assert "is connected" in page
        assert credentials["access_token"] not in page and credentials["refresh_token"] not in page
        assert state not in client.session["dashboard_connect_intents"]  # used once

    def test_a_forged_state_is_refused_and_nothing_is_exchanged(
        self, organization: Organization, linkedin_sandbox: SandboxServer
    ) -> None:
        client = admin_client(organization)
        back = approve(start(client)["Location"])
        forged = back.replace("state=", "state=x")
        response = client.get(forged)
        assert response.status_code == 400
        assert "not started from this browser session" in response.content.decode()
        assert not Connection.objects.exists()
        assert linkedin_sandbox.app.counters["tokens_issued"] == 0

    def test_a_missing_state_is_refused(
        self, organization: Organization, linkedin_sandbox: SandboxServer
    ) -> None:
        client = admin_client(organization)
        start(client)
        response = client.get(reverse("dashboard:oauth_callback"), {"code": "anything"})
        assert response.status_code == 400
        assert not Connection.objects.exists()

    def test_a_state_works_only_once(
        self, organization: Organization, linkedin_sandbox: SandboxServer
    ) -> None:
        client = admin_client(organization)
        back = approve(start(client)["Location"])
        assert client.get(back).status_code == 302
        assert client.get(back).status_code == 400

    def test_a_state_from_another_session_is_refused(
        self, organization: Organization, linkedin_sandbox: SandboxServer
    ) -> None:
        back = approve(start(admin_client(organization))["Location"])
        response = admin_client(organization, "other").get(back)
        assert response.status_code == 400
        assert not Connection.objects.exists()

    def test_refusal_at_the_platform(
        self, organization: Organization, linkedin_sandbox: SandboxServer
    ) -> None:
        client = admin_client(organization)
        state = parse_qs(urlsplit(start(client)["Location"]).query)["state"][0]
        response = client.get(
            reverse("dashboard:oauth_callback"), {"state": state, "error": "user_cancelled_authorize"}
        )
        assert response.status_code == 400
        assert "did not grant access" in response.content.decode()
        assert not Connection.objects.exists()

    def test_a_code_the_platform_rejects(
        self, organization: Organization, linkedin_sandbox: SandboxServer
    ) -> None:
        client = admin_client(organization)
        state = parse_qs(urlsplit(start(client)["Location"]).query)["state"][0]
        response = client.get(reverse("dashboard:oauth_callback"), {"state": state, "code": "made-up"})
        assert response.status_code == 400
        assert "did not accept the sign-in" in response.content.decode()
        assert not Connection.objects.exists()

    def test_reconnect_reauthorizes_the_same_connection(
        self, organization: Organization, linkedin_sandbox: SandboxServer
    ) -> None:
        connection = make_connection(
            organization, account_id=ACCOUNT, status=Connection.Status.NEEDS_REAUTH, status_message="Revoked."
        )
        client = admin_client(organization)
        assert "needs you to sign in again" in client.get(reverse("dashboard:overview")).content.decode()

        response = client.post(reverse("dashboard:connection_reconnect", args=[connection.pk]))
        assert response["Location"].startswith(linkedin_sandbox.url + "/oauth/v2/authorization")
        assert client.get(approve(response["Location"])).status_code == 302

        connection.refresh_from_db()
        assert connection.status == Connection.Status.ACTIVE and connection.status_message == ""
        assert Connection.objects.count() == 1
        assert SyncRun.objects.get(connection=connection).trigger == "reconnect"
        assert "needs you to sign in again" not in client.get(reverse("dashboard:overview")).content.decode()

    def test_reconnect_of_another_organizations_connection_is_not_found(
        self, organization: Organization, linkedin_sandbox: SandboxServer
    ) -> None:
        theirs = make_connection(make_org("Contoso"), status=Connection.Status.NEEDS_REAUTH)
        response = admin_client(organization).post(
            reverse("dashboard:connection_reconnect", args=[theirs.pk])
        )
        assert response.status_code == 404


@pytest.mark.django_db
class TestWhoMayConnect:
    def test_members_who_are_not_admins_may_not(self, organization: Organization) -> None:
        make_user("ann", organization=organization)
        client = Client()
        assert client.login(username="ann", password=PASSWORD)
        connection = make_connection(organization, status=Connection.Status.NEEDS_REAUTH)
        assert client.get(reverse("dashboard:connect_choose")).status_code == 403
        assert (
            client.post(
                reverse("dashboard:connect_platform", args=["linkedin_ads"]), {"account_id": "1"}
            ).status_code
            == 403
        )
        assert client.post(reverse("dashboard:connection_reconnect", args=[connection.pk])).status_code == 403

    def test_login_required(self, client: Client) -> None:
        assert client.get(reverse("dashboard:connect_choose")).status_code == 302
        assert client.get(reverse("dashboard:oauth_callback"), {"state": "x", "code": "y"}).status_code == 302

    def test_reconnect_needs_post(self, organization: Organization) -> None:
        connection = make_connection(organization, status=Connection.Status.NEEDS_REAUTH)
        assert (
            admin_client(organization)
            .get(reverse("dashboard:connection_reconnect", args=[connection.pk]))
            .status_code
            == 405
        )


@pytest.mark.django_db
class TestPlatformForms:
    def test_every_platform_is_offered(self, organization: Organization) -> None:
        html = admin_client(organization).get(reverse("dashboard:connect_choose")).content.decode()
        from connectors.registry import connector_classes

        for cls in connector_classes().values():
            assert cls.display_name in html

    def test_an_unknown_platform_is_not_found(self, organization: Organization) -> None:
        assert (
            admin_client(organization)
            .get(reverse("dashboard:connect_platform", args=["myspace"]))
            .status_code
            == 404
        )

    def test_missing_oauth_app_settings_are_named(self, organization: Organization, settings: Any) -> None:
        settings.LINKEDIN_ADS_CLIENT_ID = ""
        client = admin_client(organization)
        response = start(client)
        assert response.status_code == 200
        assert "LINKEDIN_ADS_CLIENT_ID" in response.content.decode()

    def test_google_asks_for_the_manager_account_and_offline_access(
        self, organization: Organization, settings: Any
    ) -> None:
        pytest.importorskip("connectors.google_ads.connector")
        settings.GOOGLE_ADS_CLIENT_ID = "client.apps.googleusercontent.com"
        settings.GOOGLE_ADS_CLIENT_SECRET = "secret"
        client = admin_client(organization)
        form = client.get(reverse("dashboard:connect_platform", args=["google_ads"])).content.decode()
        assert "Manager account id" in form
        response = start(
            client, "google_ads", account_id="555-000-1001", option_login_customer_id="123-456-7890"
        )
        query = parse_qs(urlsplit(response["Location"]).query)
        assert response["Location"].startswith(settings.GOOGLE_ADS_AUTHORIZE_URL)
        assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
        [intent] = client.session["dashboard_connect_intents"].values()
        assert intent["options"] == {"login_customer_id": "123-456-7890"}

    def test_zoho_asks_for_the_data_centre_and_signs_in_there(
        self, organization: Organization, settings: Any
    ) -> None:
        pytest.importorskip("connectors.zoho_crm.connector")
        settings.ZOHO_CRM_ACCOUNTS_URL = ""
        settings.ZOHO_CRM_CLIENT_ID = "1000.CLIENT"
        settings.ZOHO_CRM_CLIENT_SECRET = "secret"
        client = admin_client(organization)
        form = client.get(reverse("dashboard:connect_platform", args=["zoho_crm"])).content.decode()
        assert "Data centre" in form and "accounts.zoho.eu" in form
        response = start(client, "zoho_crm", option_accounts_server="https://accounts.zoho.eu")
        assert response["Location"].startswith("https://accounts.zoho.eu/oauth/v2/auth?")

    def test_demandbase_uses_a_credentials_form(self, organization: Organization) -> None:
        pytest.importorskip("connectors.demandbase.connector")
        client = admin_client(organization)
        form = client.get(reverse("dashboard:connect_platform", args=["demandbase"])).content.decode()
        assert 'name="credential_client_id"' in form and 'name="credential_client_secret"' in form
        assert 'type="password"' in form
        created = make_connection(
            organization, platform="demandbase", account_id="tenant", name="Demandbase tenant"
        )
        with (
            patch("dashboard.services.connection_create", return_value=created) as create,
            patch("dashboard.services.sync_start") as sync,
        ):
            response = client.post(
                reverse("dashboard:connect_platform", args=["demandbase"]),
                {"account_id": "tenant", "credential_client_id": "id", "credential_client_secret": "s3cret"},
            )
        assert response.status_code == 302 and response["Location"] == reverse("dashboard:sync_health")
        kwargs = create.call_args.kwargs
        assert kwargs["credentials"] == {"client_id": "id", "client_secret": "s3cret"}
        assert kwargs["check"] is True
        sync.assert_called_once_with(connection_id=created.pk, trigger="connect")

    def test_credentials_that_do_not_work_are_reported_on_the_form(self, organization: Organization) -> None:
        pytest.importorskip("connectors.demandbase.connector")
        from connectors.errors import AuthError

        with patch(
            "dashboard.services.connection_create", side_effect=AuthError("Demandbase refused the key set.")
        ):
            response = admin_client(organization).post(
                reverse("dashboard:connect_platform", args=["demandbase"]),
                {"account_id": "tenant", "credential_client_id": "id", "credential_client_secret": "bad"},
            )
        assert response.status_code == 200
        html = response.content.decode()
        assert "Demandbase refused the key set." in html
        assert "bad" not in html.split('name="credential_client_secret"')[1][:200]  # the secret is not echoed

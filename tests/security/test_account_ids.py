"""An account id is data, never part of a URL's structure.

Each platform declares the shape of its account ids on its connector class; the id is checked
where it is entered (the connect form, ``add_connection``), and the connectors quote it as one path
segment wherever it goes into a URL, so an id like ``../../x?y=1#z`` (stored before the check
existed) cannot send the connection's token to another endpoint.
"""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
import responses
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from connectors.auth import TokenSet
from connectors.errors import PermanentError
from connectors.linkedin_ads.connector import Connector as LinkedInConnector
from connectors.models import Connection
from connectors.registry import connector_classes, get_connector_class
from connectors.services import connection_create
from tenancy.models import Membership, Organization
from tests.dashboard import PASSWORD, make_org, make_user

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

HOSTILE = "../../x?y=1#z"
LINKEDIN_API = "https://api.linkedin.test"

# A well-formed id of each platform (as people type it → as it is stored), and ids it refuses.
VALID = {
    "linkedin_ads": [("508000001", "508000001")],
    "google_ads": [("123-456-7890", "1234567890"), ("1234567890", "1234567890")],
    "mailchimp": [("40118001", "40118001")],
    "zoho_crm": [("810004517", "810004517")],
    "demandbase": [("northwind", "northwind"), ("acme-eu.tenant_2", "acme-eu.tenant_2")],
}
INVALID = {
    "linkedin_ads": [HOSTILE, "508/1", "urn:li:sponsoredAccount:5", "5O8"],
    "google_ads": [HOSTILE, "123-456-789", "12345678901", "abc-def-ghij"],
    "mailchimp": [HOSTILE, "40118001/../x", "u-1"],
    "zoho_crm": [HOSTILE, "8100?04517"],
    "demandbase": [HOSTILE, "north/wind", "..", "a#b", "tab\there"],
}


def admin_client(organization: Organization) -> Client:
    user = make_user("boss", organization=organization)
    Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username="boss", password=PASSWORD)
    return client


def test_every_platform_declares_its_account_id_format() -> None:
    assert set(VALID) == set(connector_classes())
    for platform, cls in connector_classes().items():
        assert cls.account_id_format, platform  # said to people when an id is refused
        for raw, stored in VALID[platform]:
            assert cls.clean_account_id(raw) == stored, (platform, raw)
        for raw in INVALID[platform]:
            with pytest.raises(ValidationError):
                cls.clean_account_id(raw)


@pytest.mark.parametrize("platform", sorted(INVALID))
def test_connection_create_refuses_a_malformed_account_id(platform: str) -> None:
    organization = make_org("Northwind")
    for raw in INVALID[platform]:
        with pytest.raises(ValidationError) as refused:
            connection_create(
                organization=organization, platform=platform, account_id=raw,
                credentials={next(iter(get_connector_class(platform).credential_specs)): "x"}, check=False,
            )  # fmt: skip
        assert "account_id" in refused.value.message_dict
    assert not Connection.objects.exists()


def test_add_connection_refuses_a_hostile_linkedin_account_id() -> None:
    with pytest.raises(CommandError, match="LinkedIn Ads account id") as refused:
        call_command(
            "add_connection", "--org", "acme", "--platform", "linkedin_ads", "--account-id", HOSTILE,
            "--credential", "access_token=tok", "--no-check", stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
    assert refused.value.returncode == 2
    assert not Connection.objects.exists() and not Organization.objects.exists()


def test_the_connect_form_refuses_a_hostile_account_id_before_the_sign_in_page() -> None:
    client = admin_client(make_org("Northwind"))
    response = client.post(reverse("dashboard:connect_platform", args=["linkedin_ads"]), {"account_id": HOSTILE})
    assert response.status_code == 200  # the form again, not a redirect to LinkedIn
    assert "LinkedIn Ads account id" in response.content.decode()
    assert "dashboard_connect_intents" not in client.session


class Recorder:
    """Answers every request to the fake LinkedIn host and remembers its URL."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.urls.append(request.url)
        return 200, {}, '{"id": 1, "name": "x", "currency": "USD", "elements": []}'


def test_a_stored_hostile_id_stays_one_path_segment(settings: Any) -> None:
    settings.LINKEDIN_ADS_API_BASE_URL = LINKEDIN_API
    connector = LinkedInConnector(account_id=HOSTILE, tokens=TokenSet(access_token="the-connection-token"))
    recorder = Recorder()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, re.compile(re.escape(LINKEDIN_API) + r"/.*"), callback=recorder)
        connector.account()
        connector.campaigns()
    assert recorder.urls
    quoted = "..%2F..%2Fx%3Fy%3D1%23z"
    for url in recorder.urls:
        assert url.startswith(f"{LINKEDIN_API}/rest/adAccounts/{quoted}"), url
        assert "y=1" not in url and "/x?" not in url


@pytest.mark.parametrize("segment", ["..", ".", ""])
def test_a_dot_segment_is_refused_before_anything_is_sent(segment: str, settings: Any) -> None:
    from connectors.http import path_segment

    settings.LINKEDIN_ADS_API_BASE_URL = LINKEDIN_API
    with pytest.raises(PermanentError):
        path_segment(segment)
    connector = LinkedInConnector(account_id=segment, tokens=TokenSet(access_token="tok"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        recorder = Recorder()
        mock.add_callback(responses.GET, re.compile(re.escape(LINKEDIN_API) + r"/.*"), callback=recorder)
        with pytest.raises(PermanentError):
            connector.account()
    assert recorder.urls == []


def test_path_segment_quotes_everything_that_is_not_plain() -> None:
    from connectors.http import path_segment

    assert path_segment("508000001") == "508000001"
    assert path_segment("a/b?c#d e") == "a%2Fb%3Fc%23d%20e"
    assert path_segment(42) == "42"

"""Each platform's documented token and grant lifetimes, and a connection's grant expiry from them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from connectors.auth import TokenSet, token_set_from_response
from connectors.crypto import encrypt_json
from connectors.models import Connection
from connectors.registry import connector_classes, get_connector_class
from connectors.services import connection_grant_expires_at, connection_save_tokens, grant_expiry
from tenancy.models import Organization

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@pytest.mark.parametrize(
    ("platform", "access", "grant"),
    [
        ("linkedin_ads", 60 * DAY, 365 * DAY),
        ("google_ads", HOUR, None),
        ("zoho_crm", HOUR, None),
        ("mailchimp", None, None),
        ("demandbase", 8 * HOUR, None),
    ],
)
def test_each_platform_declares_its_documented_lifetimes(
    platform: str, access: timedelta | None, grant: timedelta | None
) -> None:
    lifetimes = get_connector_class(platform).grant_lifetimes()
    assert (lifetimes.access, lifetimes.grant) == (access, grant)
    assert lifetimes.source


def test_every_registered_platform_declares_its_own() -> None:
    for platform, cls in connector_classes().items():
        assert "grant_lifetimes" in cls.__dict__, platform


def test_google_apps_in_testing_get_seven_day_grants(settings: Any) -> None:
    settings.GOOGLE_ADS_OAUTH_APP_IN_TESTING = 1
    assert get_connector_class("google_ads").grant_lifetimes().grant == 7 * DAY


class TestGrantExpiry:
    authorized = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)

    def test_linkedin_grant_ends_a_year_after_authorization(self) -> None:
        tokens = TokenSet(access_token="a", refresh_token="r")
        assert grant_expiry(platform="linkedin_ads", authorized_at=self.authorized, tokens=tokens) == (
            self.authorized + 365 * DAY
        )

    def test_the_platforms_own_answer_wins(self) -> None:
        tokens = token_set_from_response(
            {"access_token": "a", "expires_in": 5184000, "refresh_token": "r", "refresh_token_expires_in": 86400}
        )
        ends = grant_expiry(platform="linkedin_ads", authorized_at=self.authorized, tokens=tokens)
        assert ends is not None
        assert abs(ends.timestamp() - (time.time() + 86400)) < 5

    def test_an_access_token_alone_ends_with_itself(self) -> None:
        expires = datetime(2026, 3, 1, tzinfo=UTC)
        tokens = TokenSet(access_token="a", expires_at=expires.timestamp())
        assert grant_expiry(platform="linkedin_ads", authorized_at=self.authorized, tokens=tokens) == expires

    @pytest.mark.parametrize("platform", ["google_ads", "zoho_crm", "mailchimp", "demandbase"])
    def test_grants_until_revoked_have_no_end(self, platform: str) -> None:
        tokens = TokenSet(access_token="a", refresh_token="r", expires_at=time.time() + 3600)
        assert grant_expiry(platform=platform, authorized_at=self.authorized, tokens=tokens) is None

    def test_google_testing_grant(self, settings: Any) -> None:
        settings.GOOGLE_ADS_OAUTH_APP_IN_TESTING = 1
        tokens = TokenSet(access_token="a", refresh_token="r")
        assert grant_expiry(platform="google_ads", authorized_at=self.authorized, tokens=tokens) == (
            self.authorized + 7 * DAY
        )


@pytest.mark.django_db
class TestConnectionRecords:
    @pytest.fixture
    def connection(self, organization: Organization) -> Connection:
        return Connection.objects.create(
            organization=organization,
            platform="linkedin_ads",
            account_id="508000001",
            credentials_encrypted=encrypt_json({"access_token": "old", "refresh_token": "r"}),
        )

    def test_a_connection_recorded_before_its_end_was_gets_it_from_its_authorization(
        self, connection: Connection
    ) -> None:
        assert connection_grant_expires_at(connection) is None  # nothing known: unknown, not zero
        connection.authorized_at = timezone.now() - 300 * DAY
        assert connection_grant_expires_at(connection) == connection.authorized_at + 365 * DAY

    def test_a_refresh_records_when_it_succeeded_and_the_stated_end(self, connection: Connection) -> None:
        ends = timezone.now() + 40 * DAY
        before = timezone.now()
        connection_save_tokens(
            connection_id=connection.pk,
            tokens=TokenSet(access_token="new", refresh_token="r", refresh_expires_at=ends.timestamp()),
        )
        connection.refresh_from_db()
        assert connection.token_refreshed_at is not None and connection.token_refreshed_at >= before
        assert connection.grant_expires_at is not None
        assert abs((connection.grant_expires_at - ends).total_seconds()) < 1

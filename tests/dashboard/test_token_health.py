"""Token health: each connection's authorization on Sync health, the forecast in words, and the daily
mail to the organization's admins before an authorization ends.

Every date is relative to the moment the test runs.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.models import Connection
from dashboard.schedules import periodic_schedules
from dashboard.selectors.sync import sync_health_get
from dashboard.selectors.tokens import token_health
from dashboard.services import authorizations_expiring_warn
from dashboard.tasks import warn_expiring_authorizations
from sandbox.core import SandboxServer
from tenancy.models import Membership, Organization
from tests.dashboard import PASSWORD, make_connection, make_org, make_user
from tests.dashboard.test_connect import ACCOUNT, admin_client, approve

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

SYNC_HEALTH = reverse("dashboard:sync_health")
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def locmem_mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TOKEN_EXPIRY_WARNING_DAYS = 14
    settings.DASHBOARD_BASE_URL = "https://dash.example.com"


@pytest.fixture
def org() -> Organization:
    return make_org("Northwind")


def member(org: Organization, username: str, *, admin: bool = False, email: str = "") -> Client:
    user = make_user(username, organization=org, email=email)
    if admin:
        Membership.objects.filter(user_id=user.pk).update(role=Membership.Role.ADMIN)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def ending_in(org: Organization, days: float, *, name: str = "Northwind DACH", **extra: Any) -> Connection:
    now = timezone.now()
    return make_connection(
        org,
        name=name,
        authorized_at=now - 200 * DAY,
        grant_expires_at=now + timedelta(days=days),
        **extra,
    )


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class TestForecast:
    def test_in_words(self, org: Organization) -> None:
        connection = ending_in(org, 12.5)
        health = token_health(connection)
        assert health.ending and health.days_left == 12
        assert health.forecast == "LinkedIn Ads authorization for Northwind DACH expires in 12 days: reconnect"

    @pytest.mark.parametrize(("days", "when"), [(0.5, "today"), (1.5, "tomorrow")])
    def test_near(self, org: Organization, days: float, when: str) -> None:
        assert f"expires {when}: reconnect" in token_health(ending_in(org, days)).forecast

    def test_ended(self, org: Organization) -> None:
        connection = ending_in(org, -2)
        assert connection.grant_expires_at is not None
        assert token_health(connection).forecast == (
            f"LinkedIn Ads authorization for Northwind DACH expired on "
            f"{connection.grant_expires_at:%-d %b %Y}: reconnect"
        )

    def test_none_outside_the_warning_period_or_without_an_end(self, org: Organization) -> None:
        assert token_health(ending_in(org, 30, account_id="1")).forecast == ""
        never = make_connection(org, platform="mailchimp", account_id="2", authorized_at=timezone.now() - 900 * DAY)
        health = token_health(never)
        assert health.grant_expires_at is None and health.days_left is None and health.forecast == ""

    def test_not_for_a_connection_already_asking_to_be_reconnected(self, org: Organization) -> None:
        connection = ending_in(org, 3, status=Connection.Status.NEEDS_REAUTH)
        assert token_health(connection).forecast == ""


class TestSyncHealth:
    def test_notice_with_the_reconnect_button_for_admins(self, org: Organization) -> None:
        soon = ending_in(org, 12.5)
        ending_in(org, 60, name="Northwind UK", account_id="1002")
        reconnect = reverse("dashboard:connection_reconnect", args=[soon.pk])

        admin_html = member(org, "boss", admin=True).get(SYNC_HEALTH).content.decode()
        member_html = member(org, "ann").get(SYNC_HEALTH).content.decode()

        assert admin_html.count("data-token-expiry-warning=") == 1
        assert f'id="authorization-{soon.pk}"' in admin_html
        assert "LinkedIn Ads authorization for Northwind DACH expires in 12 days: reconnect" in text(admin_html)
        assert f'action="{reconnect}"' in admin_html
        assert "expires in 12 days" in text(member_html) and f'action="{reconnect}"' not in member_html

    def test_dates_shown_and_unknown_as_a_dash(self, org: Organization) -> None:
        now = timezone.now()
        known = make_connection(
            org,
            account_id="1",
            authorized_at=now - 10 * DAY,
            token_expires_at=now + 50 * DAY,
            grant_expires_at=now + 355 * DAY,
            token_refreshed_at=now - 2 * DAY,
        )
        unknown = make_connection(org, platform="mailchimp", account_id="2")

        health = sync_health_get(organization=org)
        rows = {t.connection.pk: t for t in health.tokens}
        assert rows[known.pk].grant_expires_at == known.grant_expires_at
        assert rows[unknown.pk].authorized_at is None and rows[unknown.pk].grant_expires_at is None
        assert health.token_warnings == []

        html = member(org, "ann").get(SYNC_HEALTH).content.decode()
        table = html[html.index('id="authorizations-table"') :]
        known_row = table[table.index(f'data-connection="{known.pk}"') :].split("</tr>")[0]
        unknown_row = table[table.index(f'data-connection="{unknown.pk}"') :].split("</tr>")[0]
        assert f"{known.grant_expires_at:%-d %b %Y}" in known_row
        assert f"{known.authorized_at:%-d %b %Y}" in known_row
        assert text(unknown_row).count("—") == 4 and ">0<" not in unknown_row


class TestDailyMail:
    def test_once_per_connection_per_day_to_admins_only(self, org: Organization) -> None:
        soon = ending_in(org, 12.5)
        ending_in(org, 60, name="Northwind UK", account_id="1002")  # not yet
        member(org, "boss", admin=True, email="boss@northwind.example")
        member(org, "deputy", admin=True, email="deputy@northwind.example")
        member(org, "noemail", admin=True)
        member(org, "ann", email="ann@northwind.example")  # a member, not an admin
        other = make_org("Contoso")
        member(other, "contoso-boss", admin=True, email="boss@contoso.example")

        assert warn_expiring_authorizations.apply().get() == {"connections": 1, "mails": 2}

        assert sorted(m.to[0] for m in mail.outbox) == ["boss@northwind.example", "deputy@northwind.example"]
        assert all(len(m.to) == 1 for m in mail.outbox)
        message = mail.outbox[0]
        assert "LinkedIn Ads authorization for Northwind DACH expires in 12 days: reconnect" in message.subject
        assert f"https://dash.example.com{SYNC_HEALTH}#authorization-{soon.pk}" in message.body

        # The same day again: nothing more.
        assert warn_expiring_authorizations.apply().get() == {"connections": 0, "mails": 0}
        assert len(mail.outbox) == 2

        # The next day: warned again.
        tomorrow = timezone.now() + DAY
        assert authorizations_expiring_warn(now=tomorrow) == {"connections": 1, "mails": 2}
        assert len(mail.outbox) == 4

    def test_a_failed_mail_is_tried_again(self, org: Organization, settings: Any) -> None:
        connection = ending_in(org, 5)
        member(org, "boss", admin=True, email="boss@northwind.example")
        settings.EMAIL_BACKEND = "tests.dashboard.test_token_health.BrokenBackend"
        assert authorizations_expiring_warn() == {"connections": 0, "mails": 0}
        connection.refresh_from_db()
        assert connection.expiry_warned_at is None

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert authorizations_expiring_warn() == {"connections": 1, "mails": 1}

    def test_is_scheduled_daily(self) -> None:
        [schedule] = [s for s in periodic_schedules() if s.task == "dashboard.warn_expiring_authorizations"]
        assert schedule.hour.isdigit() and schedule.minute == "0"


class BrokenBackend:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise ConnectionRefusedError("no mail server")


class TestAuthorizationRecorded:
    def test_reconnect_records_a_new_authorization(
        self, organization: Organization, linkedin_sandbox: SandboxServer
    ) -> None:
        connection = make_connection(
            organization,
            account_id=ACCOUNT,
            status=Connection.Status.NEEDS_REAUTH,
            authorized_at=timezone.now() - 400 * DAY,
            grant_expires_at=timezone.now() - 35 * DAY,
            expiry_warned_at=timezone.now() - 36 * DAY,
        )
        client = admin_client(organization)
        before = timezone.now()
        response = client.post(reverse("dashboard:connection_reconnect", args=[connection.pk]))
        assert client.get(approve(response["Location"])).status_code == 302

        connection.refresh_from_db()
        assert connection.authorized_at is not None and connection.authorized_at >= before
        assert connection.grant_expires_at is not None
        assert connection.grant_expires_at > connection.authorized_at + 300 * DAY
        assert connection.expiry_warned_at is None

"""Login throttling: after LOGIN_FAILURE_LIMIT failures for one username from one address, that
pair is refused for LOGIN_LOCKOUT_SECONDS with a clear message, without the password being checked;
other users and other addresses are unaffected, a success clears the count, the admin login is
throttled the same way, and the lock runs out by itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.signals import user_login_failed
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from connectors.models import Organization
from tests.dashboard import PASSWORD, make_org, make_user

LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")
LOCKED = "Too many failed log-in attempts"

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Organization:
    return make_org("Northwind")


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_LOCKOUT_SECONDS = 600
    return settings


@pytest.fixture
def password_checks() -> Iterator[list[str]]:
    """Usernames whose password was actually checked and found wrong."""
    seen: list[str] = []

    def record(sender: Any, credentials: dict[str, Any], **_: Any) -> None:
        seen.append(credentials.get("username", ""))

    user_login_failed.connect(record)
    yield seen
    user_login_failed.disconnect(record)


def attempt(username: str, password: str, *, address: str = "10.0.0.1", url: str = LOGIN) -> Any:
    client = Client(REMOTE_ADDR=address)
    response: Any = client.post(url, {"username": username, "password": password})
    response.logged_in = "_auth_user_id" in client.session
    return response


def test_the_defaults_are_five_failures_and_fifteen_minutes() -> None:
    from django.conf import settings

    assert settings.LOGIN_FAILURE_LIMIT == 5 and settings.LOGIN_LOCKOUT_SECONDS == 900


def test_repeated_failures_lock_the_username_even_for_the_right_password(
    org: Organization, limits: Any, password_checks: list[str]
) -> None:
    make_user("ann", organization=org)
    for _ in range(3):
        response = attempt("ann", "wrong")
        assert response.status_code == 200 and not response.logged_in
        assert LOCKED not in response.content.decode()
    assert len(password_checks) == 3

    response = attempt("ann", PASSWORD)
    assert response.status_code == 429 and not response.logged_in
    page = response.content.decode()
    assert LOCKED in page and "paused for 10 minutes" in page
    assert len(password_checks) == 3  # while locked, the password is not even tried
    assert attempt("ANN ", PASSWORD).status_code == 429  # not dodged by case or spaces


def test_the_lock_is_per_username_and_address(org: Organization, limits: Any) -> None:
    make_user("ann", organization=org)
    make_user("bob", organization=org)
    for _ in range(3):
        attempt("ann", "wrong", address="10.0.0.1")
    assert attempt("ann", PASSWORD, address="10.0.0.1").status_code == 429
    assert attempt("bob", PASSWORD, address="10.0.0.1").logged_in
    assert attempt("ann", PASSWORD, address="10.0.0.2").logged_in


def test_a_success_before_the_limit_clears_the_count(org: Organization, limits: Any) -> None:
    make_user("ann", organization=org)
    for _ in range(2):
        attempt("ann", "wrong")
    assert attempt("ann", PASSWORD).logged_in
    for _ in range(2):
        attempt("ann", "wrong")
    assert attempt("ann", PASSWORD).logged_in  # 2 + 2 failures, never 3 in a row


def test_unknown_usernames_are_throttled_too(limits: Any, password_checks: list[str]) -> None:
    for _ in range(3):
        attempt("nobody", "guess")
    response = attempt("nobody", "guess")
    assert response.status_code == 429 and LOCKED in response.content.decode()
    assert len(password_checks) == 3


def test_the_lock_runs_out(org: Organization, limits: Any) -> None:
    make_user("ann", organization=org)
    with freeze_time("2025-03-31 12:00:00") as clock:
        for _ in range(3):
            attempt("ann", "wrong")
        clock.tick(599)
        assert attempt("ann", PASSWORD).status_code == 429
        clock.tick(2)
        assert attempt("ann", PASSWORD).logged_in


def test_the_admin_login_is_throttled_as_well(limits: Any) -> None:
    make_user("root", is_staff=True, is_superuser=True)
    for _ in range(3):
        assert not attempt("root", "wrong", url=ADMIN_LOGIN).logged_in
    response = attempt("root", PASSWORD, url=ADMIN_LOGIN)
    assert not response.logged_in and LOCKED in response.content.decode()
    # The count is shared: the dashboard's login is locked for the same username and address.
    assert attempt("root", PASSWORD).status_code == 429

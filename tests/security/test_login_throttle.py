"""Login throttling: after LOGIN_FAILURE_LIMIT failures for one username from one address, that
pair is refused for LOGIN_LOCKOUT_SECONDS with a clear message, without the password being checked;
other users and other addresses are unaffected, a success clears the count, the admin login is
throttled the same way, and the lock runs out by itself.

Nothing an attacker can send resets or slips past the count: only a log-in that authenticated a user
clears it (an empty, missing or blank password is a failure; so is a request naming the username in
another case or with spaces), attempts in flight at once get no more guesses than the limit, and no
traffic through the cache (searches, sprayed usernames), flush or cache backend forgets a lock.

Marked embedded: the counts live in the database, so the embedded default (SQLite) is proven too."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any
from unittest.mock import patch

import pytest
from django.contrib.auth import authenticate as real_authenticate
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from tenancy.models import Organization
from tests.dashboard import PASSWORD, add_row, make_connection, make_org, make_user

LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")
LOCKED = "Too many failed log-in attempts"
AUTHENTICATE = "django.contrib.auth.forms.authenticate"  # what the login forms call to check a password

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


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


# --------------------------------------------------------------------------------------------
# Requests that never proved the password: they neither reset the count nor slip past it
# --------------------------------------------------------------------------------------------


def post(data: dict[str, str], *, address: str = "10.0.0.1", url: str = LOGIN) -> Any:
    client = Client(REMOTE_ADDR=address)
    response: Any = client.post(url, data)
    response.logged_in = "_auth_user_id" in client.session
    return response


RESETS = {
    "an empty password": {"username": "ann", "password": ""},
    "no password field": {"username": "ann"},
    "a password of spaces": {"username": "ann", "password": "   "},
    "an empty password for the username in capitals": {"username": "ANN", "password": ""},
    "an empty password for the username with spaces": {"username": " ann ", "password": ""},
}


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN], ids=["dashboard", "admin"])
@pytest.mark.parametrize("reset", list(RESETS.values()), ids=list(RESETS))
def test_no_request_without_the_right_password_resets_the_count(
    org: Organization, limits: Any, url: str, reset: dict[str, str]
) -> None:
    make_user("ann", organization=org, is_staff=True)
    for _ in range(3):  # 6 wrong guesses in cycles of 2 + a "reset": the limit is 3
        for _ in range(2):
            assert not attempt("ann", "wrong", url=url).logged_in
        assert not post(reset, url=url).logged_in
    response = attempt("ann", PASSWORD, url=url)
    assert not response.logged_in and LOCKED in response.content.decode()


def test_the_reported_cycle_of_four_guesses_and_an_empty_password_ends_locked(org: Organization) -> None:
    """The defaults (5 failures): 12 wrong guesses, each 4 followed by an empty password."""
    make_user("ann", organization=org)
    for _ in range(3):
        for _ in range(4):
            attempt("ann", "wrong")
        post({"username": "ann", "password": ""})
    response = attempt("ann", PASSWORD)
    assert response.status_code == 429 and not response.logged_in


def test_an_empty_password_counts_as_a_failure(
    org: Organization, limits: Any, password_checks: list[str]
) -> None:
    make_user("ann", organization=org)
    for _ in range(3):
        response = post({"username": "ann", "password": ""})
        assert response.status_code == 200 and not response.logged_in
    assert attempt("ann", PASSWORD).status_code == 429
    assert password_checks == []  # no password was ever checked, yet the pair is locked


def test_requests_that_name_no_username_neither_count_nor_reset(org: Organization, limits: Any) -> None:
    make_user("ann", organization=org)
    for _ in range(2):
        attempt("ann", "wrong")
    Client(REMOTE_ADDR="10.0.0.1").get(LOGIN)
    for data in ({}, {"username": "", "password": PASSWORD}, {"username": "", "password": ""}):
        assert not post(data).logged_in
    assert not attempt("ann", "wrong").logged_in  # the third failure in a row
    assert attempt("ann", PASSWORD).status_code == 429


def test_spellings_of_one_username_share_one_count(org: Organization, limits: Any) -> None:
    make_user("ann", organization=org)
    for spelling in ("ann", "ANN", " Ann\t"):
        attempt(spelling, "wrong")
    assert attempt("ann", PASSWORD).status_code == 429
    assert (
        attempt("\uff41\uff4e\uff4e", PASSWORD).status_code == 429
    )  # "ａｎｎ", the same name once normalized


def test_a_right_password_refused_by_the_admin_login_counts_as_a_failure(
    org: Organization, limits: Any
) -> None:
    """Only a log-in that succeeded clears the count: a non-staff user at the admin login does not."""
    make_user("ann", organization=org)
    for _ in range(2):
        attempt("ann", "wrong")
    assert not attempt("ann", PASSWORD, url=ADMIN_LOGIN).logged_in
    assert attempt("ann", PASSWORD).status_code == 429


def test_attempts_in_flight_at_once_get_no_more_guesses_than_the_limit(
    org: Organization, limits: Any, password_checks: list[str]
) -> None:
    """Attempts sent in parallel cannot all pass the check before the first failure is counted."""
    make_user("ann", organization=org)
    in_flight: list[Any] = []

    def slow_authenticate(request: Any, **credentials: Any) -> Any:
        if not in_flight:  # while this password is being checked, ten more attempts arrive
            in_flight.append(None)
            in_flight.extend(attempt("ann", "wrong") for _ in range(10))
        return real_authenticate(request, **credentials)

    with patch(AUTHENTICATE, slow_authenticate):
        assert not attempt("ann", "wrong").logged_in
    assert len(password_checks) == 3
    assert sum(1 for response in in_flight[1:] if response.status_code == 429) == 8
    assert attempt("ann", PASSWORD).status_code == 429


# --------------------------------------------------------------------------------------------
# Nothing that fills, flushes or lacks the cache forgets a lock
# --------------------------------------------------------------------------------------------


def lock_ann(org: Organization) -> None:
    make_user("ann", organization=org)
    for _ in range(3):
        attempt("ann", "wrong")
    assert attempt("ann", PASSWORD).status_code == 429


def test_filling_the_cache_with_searches_does_not_evict_the_lock(org: Organization, limits: Any) -> None:
    """The embedded default's local-memory cache holds 300 entries; every search adds one."""
    lock_ann(org)
    add_row(make_connection(org), day=date.today(), spend="1")
    make_user("vic", organization=org)
    viewer = Client()
    assert viewer.login(username="vic", password=PASSWORD)
    for number in range(400):
        assert viewer.get(reverse("dashboard:campaigns"), {"q": f"term {number}"}).status_code == 200
    assert attempt("ann", PASSWORD).status_code == 429


def test_failures_of_many_other_usernames_do_not_evict_the_lock(org: Organization, limits: Any) -> None:
    lock_ann(org)
    for number in range(400):
        attempt(f"spray{number}", "guess")
    assert attempt("ann", PASSWORD).status_code == 429


def test_the_lock_survives_a_cache_flush(org: Organization, limits: Any) -> None:
    """A Redis restarted, flushed or evicting by LRU forgets its keys; the lock is not among them."""
    lock_ann(org)
    cache.clear()
    assert attempt("ann", PASSWORD).status_code == 429


def test_the_lock_does_not_depend_on_the_cache_backend(org: Organization, limits: Any, settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    lock_ann(org)
    assert attempt("ann", PASSWORD, address="10.0.0.2").logged_in


def test_expired_counts_are_removed(limits: Any) -> None:
    from dashboard.models import LoginFailure

    with freeze_time("2025-03-31 12:00:00") as clock:
        for number in range(20):
            attempt(f"spray{number}", "guess")
        assert LoginFailure.objects.count() == 20
        clock.tick(601)
        attempt("someone", "guess")
        assert LoginFailure.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_requests_get_no_more_guesses_than_the_limit(
    limits: Any, password_checks: list[str]
) -> None:
    """Twelve requests at once, each on its own database connection, each slow to check its password."""
    make_user("ann", organization=make_org("Northwind"))
    start = threading.Barrier(12)

    def slow_authenticate(request: Any, **credentials: Any) -> Any:
        time.sleep(0.3)  # every request has passed the lock check before the first failure returns
        return real_authenticate(request, **credentials)

    def guess(_: int) -> int:
        try:
            start.wait(timeout=10)
            return int(attempt("ann", "wrong").status_code)
        finally:
            connection.close()

    with patch(AUTHENTICATE, slow_authenticate), ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(guess, range(12)))
    assert sorted(statuses) == [200] * 3 + [429] * 9
    assert len(password_checks) == 3

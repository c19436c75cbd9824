"""Login throttling: log-in attempts are counted per username and client address in the database.

After ``LOGIN_FAILURE_LIMIT`` failures the pair is locked for ``LOGIN_LOCKOUT_SECONDS``: the password
is not even checked until the lock runs out, so guessing on stops being useful. Only a log-in that
succeeded (a user was authenticated) clears the count.

An attempt is counted *before* its password is checked (``login_attempt_begin``), in one locked
read-modify-write, and stays counted unless it succeeds. So attempts sent in parallel cannot all
pass the check before the first failure is recorded, and a request that never has its password
checked (an empty password, no password field) is a failure too: nothing but the right password
resets the count.

The counts live in a table of their own (``dashboard.LoginFailure``), not in the cache. The cache
is shared with the dashboard's aggregates, whose keys follow user-chosen filters and searches: on
the embedded default it is a local-memory cache of 300 entries, in production a Redis that may be
flushed, restarted or configured to evict by LRU. Anything that can be evicted by ordinary traffic
(or by an attacker spraying usernames) can lose a lock. A table is there on every backend, every web
process sees the same count (the embedded default's local memory is per process), and a row lock
makes the increment atomic on PostgreSQL and SQLite alike. A log-in costs one or two small writes,
which is nothing next to hashing the password. Expired rows are removed as new pairs are counted,
so the table holds only the pairs seen within the last lockout period. The key is a hash, so
usernames typed by strangers are not stored in clear.

The address is ``REMOTE_ADDR``. Behind the reverse proxy that is the proxy's own address, so the
count is then in effect per username; a forwarded header is not trusted because clients can set it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils import timezone

from dashboard.models import LoginFailure


def client_address(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return str(request.META.get("REMOTE_ADDR", ""))


def _key(username: str, address: str) -> str:
    return hashlib.sha256(f"{username.strip().casefold()}\x00{address}".encode()).hexdigest()


def login_failures(*, username: str, address: str) -> int:
    row = LoginFailure.objects.filter(key=_key(username, address), expires_at__gt=timezone.now()).first()
    return row.failures if row else 0


def login_is_locked(*, username: str, address: str) -> bool:
    return login_failures(username=username, address=address) >= settings.LOGIN_FAILURE_LIMIT


def login_attempt_begin(*, username: str, address: str) -> bool:
    """Count one attempt before its password is checked; False (nothing counted) when the pair is locked.

    The attempt counts as a failure until ``login_success_record`` clears it. The attempt that
    reaches the limit starts a full lockout period; the count of a pair with fewer failures runs out
    ``LOGIN_LOCKOUT_SECONDS`` after its first one.
    """
    key = _key(username, address)
    now = timezone.now()
    lockout = timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    with transaction.atomic():
        row, created = LoginFailure.objects.select_for_update().get_or_create(
            key=key, defaults={"failures": 1, "expires_at": now + lockout}
        )
        if not created:
            if row.expires_at <= now:
                row.failures, row.expires_at = 1, now + lockout
            elif row.failures >= settings.LOGIN_FAILURE_LIMIT:
                return False
            else:
                row.failures += 1
                if row.failures == settings.LOGIN_FAILURE_LIMIT:
                    row.expires_at = now + lockout
            row.save(update_fields=["failures", "expires_at"])
    if created:
        _forget_expired(now)
    return True


def _forget_expired(now: datetime) -> None:
    """Remove the counts that ran out; best effort (a count that ran out is ignored anyway)."""
    try:
        with transaction.atomic():
            LoginFailure.objects.filter(expires_at__lte=now).delete()
    except DatabaseError:
        pass


def login_success_record(*, username: str, address: str) -> None:
    LoginFailure.objects.filter(key=_key(username, address)).delete()


def lockout_message() -> str:
    minutes = max(1, round(settings.LOGIN_LOCKOUT_SECONDS / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"Too many failed log-in attempts. Logging in to this account from here is paused for {minutes} {unit}; "
        "try again later, or ask your administrator to reset your password."
    )

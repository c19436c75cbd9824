"""Login throttling: failed log-ins are counted per username and client address in the cache.

After ``LOGIN_FAILURE_LIMIT`` failures the pair is locked for ``LOGIN_LOCKOUT_SECONDS``: the password
is not even checked until the lock runs out, so guessing on stops being useful. A successful log-in
clears the count. The count lives in the shared cache (Redis in production), so every web process
sees the same number; the key is a hash, so usernames typed by strangers are not stored in clear.

The address is ``REMOTE_ADDR``. Behind the reverse proxy that is the proxy's own address, so the
count is then in effect per username; a forwarded header is not trusted because clients can set it.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

KEY_PREFIX = "login-failures:"


def client_address(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return str(request.META.get("REMOTE_ADDR", ""))


def _key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.strip().casefold()}\x00{address}".encode()).hexdigest()
    return KEY_PREFIX + digest


def login_failures(*, username: str, address: str) -> int:
    return int(cache.get(_key(username, address)) or 0)


def login_is_locked(*, username: str, address: str) -> bool:
    return login_failures(username=username, address=address) >= settings.LOGIN_FAILURE_LIMIT


def login_failure_record(*, username: str, address: str) -> int:
    """Count one failure; the failure that reaches the limit starts a full lockout period."""
    key = _key(username, address)
    timeout = settings.LOGIN_LOCKOUT_SECONDS
    if cache.add(key, 1, timeout=timeout):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, timeout=timeout)
            count = 1
    if count == settings.LOGIN_FAILURE_LIMIT:
        cache.set(key, count, timeout=timeout)
    return count


def login_success_record(*, username: str, address: str) -> None:
    cache.delete(_key(username, address))


def lockout_message() -> str:
    minutes = max(1, round(settings.LOGIN_LOCKOUT_SECONDS / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"Too many failed log-in attempts. Logging in to this account from here is paused for {minutes} {unit}; "
        "try again later, or ask your administrator to reset your password."
    )

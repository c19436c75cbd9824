"""The shared HTTP machinery: retries, backoff, Retry-After, refresh-once on 401, error mapping."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests
import responses

from connectors.auth import OAuthSpec, TokenAuth, TokenSet, refresh_token_set
from connectors.errors import AuthError, MalformedResponse, PermanentError, RateLimited, TransientError
from connectors.http import ApiClient, ErrorPolicy, backoff_delay
from connectors.paginators import CursorPaginator, OffsetPaginator

BASE = "https://api.example.test"
pytestmark = pytest.mark.embedded


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(auth: TokenAuth | None = None, sleeps: Sleeps | None = None) -> ApiClient:
    return ApiClient(
        base_url=BASE, auth=auth, policy=ErrorPolicy(), platform="example", sleep=sleeps if sleeps is not None else Sleeps()
    )


@responses.activate
def test_retries_5xx_then_succeeds_with_backoff() -> None:
    responses.get(f"{BASE}/x", status=503)
    responses.get(f"{BASE}/x", status=500)
    responses.get(f"{BASE}/x", json={"ok": True})
    sleeps = Sleeps()
    assert client(sleeps=sleeps).get_json("/x") == {"ok": True}
    assert len(sleeps) == 2


@responses.activate
def test_gives_up_after_max_attempts(settings: Any) -> None:
    settings.HTTP_MAX_ATTEMPTS = 3
    responses.get(f"{BASE}/x", status=502)
    with pytest.raises(TransientError):
        client().get_json("/x")
    assert len(responses.calls) == 3


@responses.activate
def test_honours_retry_after_header(settings: Any) -> None:
    settings.HTTP_MAX_INLINE_WAIT_SECONDS = 10
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "7"})
    responses.get(f"{BASE}/x", json=[])
    sleeps = Sleeps()
    client(sleeps=sleeps).get_json("/x")
    assert sleeps == [7.0]


@responses.activate
def test_long_rate_limit_is_raised_not_slept(settings: Any) -> None:
    settings.HTTP_MAX_INLINE_WAIT_SECONDS = 10
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    with pytest.raises(RateLimited) as caught:
        client(sleeps=sleeps).get_json("/x")
    assert caught.value.retry_after == 3600 and sleeps == []


def test_backoff_grows_and_is_jittered(settings: Any) -> None:
    settings.HTTP_BACKOFF_BASE_SECONDS = 1
    settings.HTTP_BACKOFF_MAX_SECONDS = 60
    assert 0.5 <= backoff_delay(1) <= 1
    assert 4 <= backoff_delay(4) <= 8
    assert 30 <= backoff_delay(20) <= 60
    assert backoff_delay(1, retry_after=42) == 42


@responses.activate
def test_permanent_4xx_is_not_retried() -> None:
    responses.get(f"{BASE}/x", status=400, json={"message": "bad field"})
    with pytest.raises(PermanentError, match="bad field"):
        client().get_json("/x")
    assert len(responses.calls) == 1


@responses.activate
def test_timeout_and_connection_errors_are_transient(settings: Any) -> None:
    settings.HTTP_MAX_ATTEMPTS = 2
    responses.get(f"{BASE}/x", body=requests.ConnectTimeout())
    responses.get(f"{BASE}/x", body=requests.ConnectionError())
    with pytest.raises(TransientError):
        client().get_json("/x")


@responses.activate
def test_truncated_json_is_retried_then_reported(settings: Any) -> None:
    settings.HTTP_MAX_ATTEMPTS = 2
    responses.get(f"{BASE}/x", body='{"elements": [1, 2')
    with pytest.raises(MalformedResponse):
        client().get_json("/x")
    assert len(responses.calls) == 2


@responses.activate
def test_401_refreshes_once_and_retries_with_the_new_token() -> None:
    refreshed: list[TokenSet] = []
    auth = TokenAuth(
        TokenSet(access_token="old-token"),
        refresher=lambda t: TokenSet(access_token="new-token", refresh_token="r"),
        on_refresh=refreshed.append,
    )
    responses.get(f"{BASE}/x", status=401, json={"message": "expired"})
    responses.get(f"{BASE}/x", json={"ok": 1})
    assert client(auth).get_json("/x") == {"ok": 1}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer old-token"
    assert responses.calls[1].request.headers["Authorization"] == "Bearer new-token"
    assert [t.access_token for t in refreshed] == ["new-token"]


@responses.activate
def test_second_401_after_refresh_is_an_auth_error_without_loop() -> None:
    auth = TokenAuth(TokenSet(access_token="a"), refresher=lambda t: TokenSet(access_token="b"))
    responses.get(f"{BASE}/x", status=401)
    with pytest.raises(AuthError):
        client(auth).get_json("/x")
    assert len(responses.calls) == 2


def test_a_call_made_by_a_platform_library_gets_the_same_refresh_once_and_retries() -> None:
    auth = TokenAuth(TokenSet(access_token="a"), refresher=lambda t: TokenSet(access_token="b"))
    failures: list[Exception] = [
        AuthError("expired", expired=True),
        TransientError("unavailable"),
        AuthError("expired", expired=True),
    ]
    tokens: list[str] = []

    def send() -> str:
        tokens.append(auth.tokens.access_token)
        if failures:
            raise failures.pop(0)
        return "rows"

    sleeps = Sleeps()
    with pytest.raises(AuthError):  # a second expiry after the one refresh is not refreshed again
        client(auth, sleeps).run(send, what="SearchStream")
    assert tokens == ["a", "b", "b"] and len(sleeps) == 1
    assert client(auth, sleeps).run(send, what="SearchStream") == "rows"


@responses.activate
def test_refresh_keeps_old_refresh_token_and_persists_a_rotated_one(settings: Any) -> None:
    spec = OAuthSpec(settings_prefix="TOY")
    settings.TOY_TOKEN_URL, settings.TOY_CLIENT_ID, settings.TOY_CLIENT_SECRET = "https://auth.example.test/token", "cid", "csecret"
    responses.post(settings.TOY_TOKEN_URL, json={"access_token": "a1", "expires_in": 3600})
    kept = refresh_token_set(spec, TokenSet(refresh_token="r0"))
    assert kept.access_token == "a1" and kept.refresh_token == "r0" and kept.expires_at is not None
    body = str(responses.calls[0].request.body)
    assert "grant_type=refresh_token" in body and "client_secret=csecret" in body and "refresh_token=r0" in body
    responses.post(settings.TOY_TOKEN_URL, json={"access_token": "a2", "expires_in": 3600, "refresh_token": "r1"})
    assert refresh_token_set(spec, kept).refresh_token == "r1"


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, AuthError),
        (200, {"error": "invalid_code"}, AuthError),
        (401, {"error": "invalid_client"}, PermanentError),
        (503, "unavailable", TransientError),
    ],
)
def test_token_endpoint_failures_map_to_shared_errors(settings: Any, status: int, body: Any, error: type) -> None:
    settings.HTTP_MAX_ATTEMPTS = 1
    spec = OAuthSpec(settings_prefix="TOY")
    settings.TOY_TOKEN_URL, settings.TOY_CLIENT_ID, settings.TOY_CLIENT_SECRET = "https://auth.example.test/token", "cid", "csecret"
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    responses.post(settings.TOY_TOKEN_URL, status=status, **kwargs)
    with pytest.raises(error):
        refresh_token_set(spec, TokenSet(refresh_token="r0"))


def test_credentials_are_never_sent_over_plain_http_to_remote_hosts(settings: Any) -> None:
    spec = OAuthSpec(settings_prefix="TOY")
    settings.TOY_TOKEN_URL, settings.TOY_CLIENT_ID, settings.TOY_CLIENT_SECRET = "http://auth.example.test/token", "cid", "csecret"
    with pytest.raises(PermanentError, match="HTTPS"):
        refresh_token_set(spec, TokenSet(refresh_token="r0"))


@responses.activate
def test_request_log_has_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    auth = TokenAuth(TokenSet(access_token="super-secret-token-value"))
    responses.get(f"{BASE}/x", json={})
    with caplog.at_level(logging.INFO, logger="connectors.http"):
        client(auth).get_json("/x", params={"q": "1"})
    record = caplog.records[-1]
    assert record.getMessage() == "http.request"
    assert record.status == 200 and record.path == "/x"  # type: ignore[attr-defined]
    assert "super-secret-token-value" not in caplog.text


def test_paginators() -> None:
    cursor = CursorPaginator(token_path=("metadata", "nextPageToken"), page_size=2)
    assert cursor.first() == {"pageSize": 2}
    assert cursor.next({"metadata": {"nextPageToken": "t2"}}) == {"pageSize": 2, "pageToken": "t2"}
    assert cursor.next({"metadata": {}}) is None
    assert cursor.next({"metadata": {"nextPageToken": None}}) is None
    assert CursorPaginator(token_path=("next",)).first() == {}

    offset = OffsetPaginator(limit=2, records_path=("reports",), total_path=("total_items",))
    assert offset.first() == {"offset": 0, "count": 2}
    assert offset.next({"reports": [1, 2], "total_items": 3}) == {"offset": 2, "count": 2}
    assert offset.next({"reports": [3], "total_items": 3}) is None


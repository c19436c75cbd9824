"""The one HTTP client every connector uses.

``ApiClient`` owns the requests session, timeouts, token injection, one refresh-and-retry on an
expired token, bounded retries with exponential backoff and jitter, and the mapping of every
failure to ``connectors.errors``. Platforms differ only through an ``ErrorPolicy`` subclass (how
their throttle and error bodies read) and a few headers. Each request is logged as one structured
line, without headers or credentials.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from connectors import jsonio, progress
from connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponse,
    PermanentError,
    RateLimited,
    TransientError,
)

if TYPE_CHECKING:
    from connectors.auth import TokenAuth
    from connectors.paginators import Paginator

logger = logging.getLogger("connectors.http")
# The response type error policies read; connectors name it from here, not from requests.
Response = requests.Response
T = TypeVar("T")

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def require_secure_url(url: str) -> None:
    """Credentials travel over HTTPS only; plain HTTP is accepted for loopback (the sandbox)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        # oauthlib refuses plain HTTP unless told otherwise; only ever for loopback hosts.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        return
    raise PermanentError(
        f"Refusing to send credentials to {parts.scheme}://{parts.hostname}: HTTPS is required"
    )


def path_segment(value: object) -> str:
    """``value`` as one URL path segment: every character that could end it or start a query or
    fragment (``/ ? # %``, spaces...) is percent-encoded, and ``.``/``..`` (which a client or
    server would resolve into the parent path) or an empty segment are refused.

    Every id that goes into a URL path (an account id a person typed, a job id a platform sent)
    goes through here, so it can never point the request, and the token it carries, elsewhere.
    """
    text = str(value)
    if text in {"", ".", ".."}:
        raise PermanentError(f"{text!r} is not a usable id in an API path")
    return quote(text, safe="")


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a platform's own wait wins when it is longer."""
    base = settings.HTTP_BACKOFF_BASE_SECONDS
    ceiling = min(settings.HTTP_BACKOFF_MAX_SECONDS, base * (2 ** (attempt - 1)))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def retrying(call: Callable[[], T], *, what: str, sleep: Callable[[float], None] = progress.sleep) -> T:
    """Run ``call``, retrying ``retryable`` ConnectorErrors with backoff, a bounded number of times.

    A wait longer than HTTP_MAX_INLINE_WAIT_SECONDS is not slept here: the error goes up so the
    Celery step can be retried later without holding a worker.
    """
    attempts = settings.HTTP_MAX_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ConnectorError as exc:
            if not exc.retryable or attempt == attempts:
                raise
            delay = backoff_delay(attempt, getattr(exc, "retry_after", None))
            if delay > settings.HTTP_MAX_INLINE_WAIT_SECONDS:
                raise
            logger.warning(
                "http.retry",
                extra={
                    "what": what,
                    "attempt": attempt,
                    "error": type(exc).__name__,
                    "wait_s": round(delay, 2),
                },
            )
            progress.announce_wait(delay, f"{what}: {exc.message}")
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


class ErrorPolicy:
    """Maps a platform's responses to the shared errors. Subclass per platform when needed."""

    platform_name = "The platform"

    def classify(self, response: requests.Response) -> ConnectorError | None:
        status = response.status_code
        body_error = self.error_in_successful_body(response) if status < 400 else None
        if status < 400 and body_error is None:
            return None
        if body_error is not None:
            return body_error
        message = self.describe(response)
        code = self.error_code(response)
        if status == 401:
            return AuthError(message, status=status, code=code, expired=self.is_expired_token(response))
        if status == 429:
            return RateLimited(message, retry_after=self.retry_after(response), status=status, code=code)
        if status == 408 or status >= 500:
            return TransientError(message, status=status, code=code)
        return PermanentError(message, status=status, code=code)

    def error_in_successful_body(self, response: requests.Response) -> ConnectorError | None:
        """Some platforms report errors with HTTP 200. Default: none do."""
        return None

    def is_expired_token(self, response: requests.Response) -> bool:
        """Whether a 401 may be cured by refreshing the access token. Default: always try once."""
        return True

    def retry_after(self, response: requests.Response) -> float | None:
        header = response.headers.get("Retry-After")
        if header:
            try:
                return max(0.0, float(header))
            except ValueError:
                from email.utils import parsedate_to_datetime

                try:
                    return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
                except (TypeError, ValueError):
                    return None
        return self.retry_after_from_body(response)

    def retry_after_from_body(self, response: requests.Response) -> float | None:
        return None

    def error_code(self, response: requests.Response) -> str | None:
        body = safe_json(response)
        if isinstance(body, dict):
            for key in ("code", "errorCode", "error", "status"):
                if isinstance(body.get(key), str):
                    return str(body[key])
        return None

    def describe(self, response: requests.Response) -> str:
        body = safe_json(response)
        detail = ""
        if isinstance(body, dict):
            for key in ("message", "detail", "errorMessage", "error_description", "title", "error"):
                if isinstance(body.get(key), str) and body[key]:
                    detail = body[key]
                    break
        return f"{self.platform_name} answered HTTP {response.status_code}" + (
            f": {detail}" if detail else ""
        )


_pools: dict[str, Any] = {"pid": None, "adapter": None}


def pooled_session() -> requests.Session:
    """A new session (its own cookies) whose connections come from this process's one pool.

    A worker process runs one sync after another against the same few API hosts; with a pool per
    process, each sync reuses the connections (and TLS sessions) the previous one opened instead of
    paying a new TCP and TLS handshake per sync. Connections carry no credentials of their own:
    every request sends its connection's token in its headers. A forked process starts a pool of
    its own (sockets are never shared across processes).
    """
    adapter = _pools["adapter"]
    if adapter is None or _pools["pid"] != os.getpid():
        adapter = _pools["adapter"] = HTTPAdapter(pool_connections=16, pool_maxsize=16)
        _pools["pid"] = os.getpid()
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def safe_json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class ApiClient:
    """A configured session for one connection of one platform."""

    def __init__(
        self,
        *,
        base_url: str,
        auth: TokenAuth | None,
        policy: ErrorPolicy,
        platform: str,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = progress.sleep,
        concurrency: Callable[[], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.policy = policy
        self.platform = platform
        self.headers = dict(headers or {})
        self.session = session or pooled_session()
        self.sleep = sleep
        self.concurrency = concurrency
        # Called with what each request is ("GET /path", a library call's name) before it is sent,
        # retries included: counts it against the credential's daily budget (connectors.quota).
        self.spend: Callable[[str], None] | None = None
        self.timeout = (settings.HTTP_CONNECT_TIMEOUT_SECONDS, settings.HTTP_READ_TIMEOUT_SECONDS)

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        # Ids are quoted into their segments (``path_segment``); a path that still climbs out of
        # the API's base or carries a fragment was built wrong, and is not sent with a token.
        segments = path.split("?", 1)[0].split("/")
        if "#" in path or any(segment in {".", ".."} for segment in segments):
            raise PermanentError(f"Refusing to request {path!r}: an id in it was not quoted")
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request with retries; returns a successful response or raises a ConnectorError."""
        return self.call(method, path, lambda response: response, **kwargs)

    def call(
        self, method: str, path: str, decode: Callable[[requests.Response], T], *, retry: bool = True, **kwargs: Any
    ) -> T:
        """Send, check and decode one request; a failed decode (a truncated body) is retried too.

        ``retry=False`` sends it once (for requests that are not idempotent, e.g. creating a job):
        only an expired token is renewed and the request sent again, since a 401 did nothing.
        """
        return self.run(
            lambda: decode(self._send_once(method, path, **kwargs)),
            what=f"{method} {urlsplit(self.url(path)).path}",
            retry=retry,
        )

    def run(self, send: Callable[[], T], *, what: str, retry: bool = True) -> T:
        """Run one call to the platform under this client's policy: an expired access token is
        renewed once and the call made again, then ``retrying``'s bounded backoff (unless
        ``retry=False``). ``send`` raises ``connectors.errors`` types; an HTTP request, or a call a
        platform's own library makes (Google Ads over gRPC).
        """
        refreshed = False

        def counted() -> T:
            if self.spend is not None:
                self.spend(what)
            return send()

        def attempt() -> T:
            nonlocal refreshed
            try:
                return counted()
            except AuthError as exc:
                if exc.expired and not refreshed and self.auth is not None and self.auth.can_refresh:
                    self.auth.refresh()  # a failed refresh may be retried: it is not yet "refreshed"
                    refreshed = True
                    return counted()
                raise

        if not retry:
            return attempt()
        return retrying(attempt, what=f"{self.platform} {what}", sleep=self.sleep)

    def _send_once(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.url(path)
        extra_headers = kwargs.get("headers") or {}
        headers = {**self.headers, **(self.auth.headers() if self.auth else {}), **extra_headers}
        kwargs = {k: v for k, v in kwargs.items() if k != "headers"}
        started = time.monotonic()
        try:
            with self.concurrency() if self.concurrency else nullcontext():
                response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            self._log(method, url, None, started)
            raise TransientError(f"{self.policy.platform_name} did not answer in time") from None
        except requests.ConnectionError:
            self._log(method, url, None, started)
            raise TransientError(f"{self.policy.platform_name} could not be reached") from None
        self._log(method, url, response.status_code, started)
        progress.beat()
        error = self.policy.classify(response)
        if error is not None:
            raise error
        return response

    def _log(self, method: str, url: str, status: int | None, started: float) -> None:
        parts = urlsplit(url)
        logger.info(
            "http.request",
            extra={
                "platform": self.platform,
                "method": method,
                "host": parts.netloc,
                "path": parts.path,
                "status": status if status is not None else "error",
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, self.json, **kwargs)

    def post_json(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, self.json, **kwargs)

    def post_json_once(self, path: str, **kwargs: Any) -> Any:
        """POST without inline retries (not idempotent); an expired token is still renewed once."""
        return self.call("POST", path, self.json, retry=False, **kwargs)

    def json(self, response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            return jsonio.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise MalformedResponse(
                f"{self.policy.platform_name} sent a body that is not valid JSON "
                f"(HTTP {response.status_code}, {len(response.content)} bytes)"
            ) from None

    def paginate(
        self,
        path: str,
        paginator: Paginator,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        max_pages: int = 100_000,
    ) -> Iterator[Any]:
        """The one page loop: yields each page's JSON body until the paginator says stop.

        GET with the paging in the query string; with ``json_body``, POST with the paging merged
        into the JSON body (queries paged by a body cursor). ``headers`` go with every page.
        """
        page_params: dict[str, Any] | None = paginator.first()
        pages = 0
        while page_params is not None:
            if json_body is None:
                body = self.get_json(path, params={**(params or {}), **page_params}, headers=headers)
            else:
                body = self.post_json(path, params=params, json={**json_body, **page_params}, headers=headers)
            yield body
            pages += 1
            if pages >= max_pages:
                raise PermanentError(f"Stopped after {max_pages} pages of {path}: the paging never ended")
            page_params = paginator.next(body)

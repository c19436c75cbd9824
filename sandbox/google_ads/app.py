"""The Google Ads sandbox: Google's OAuth endpoints over HTTP and the Ads API over gRPC with TLS.

``GoogleAdsSandbox`` is the shared ``FakeApi`` (so ``run_sandbox`` and the tests serve it like any
other platform) for Google's authorization and token endpoints, and it starts the gRPC server of
the Ads API itself, with a certificate made at start, when it is created. ``env()`` names both.

Token endpoint (``POST /token``, form-encoded): the refresh grant answers an access token valid for
3599 s with no new refresh token (Google does not rotate them); a revoked or unknown refresh token
is HTTP 400 ``invalid_grant``; a wrong client is HTTP 401 ``invalid_client``.

The gRPC calls check the bearer token (``authorization`` metadata) and the ``login-customer-id``
header: accounts the sandbox's one Google user can open directly need none; a client account is
reached only with the id of a manager above it, and a cancelled, suspended or closed account
answers ``CUSTOMER_NOT_ENABLED``.

Faults (``faults.add(kind, ...)`` or ``POST /_sandbox/faults``; ``path`` matches the gRPC method,
e.g. ``/google.ads.googleads.v26.services.GoogleAdsService/SearchStream``):

- ``rate_limit``: RESOURCE_EXHAUSTED with ``quota_error_details`` (``retry_delay_seconds``, default 1);
- ``server_error``: ``code`` INTERNAL (default), UNAVAILABLE or DEADLINE_EXCEEDED, after
  ``after_batches`` stream messages (default 0: before any);
- ``expire_token``: the caller's access token expires, after ``after_batches`` messages (default 0),
  and the call fails UNAUTHENTICATED / ``OAUTH_TOKEN_EXPIRED``;
- ``revoke_refresh``: the next refresh finds every refresh token revoked (``invalid_grant``);
- ``malformed``: one streamed row loses ``segments.date`` (``variant`` ``missing_date``) or
  ``campaign.id`` (``missing_campaign_id``); ``index`` picks the row;
- ``silent_gap``: one streamed message loses ``drop`` rows (default 3) from ``index`` (default 0),
  otherwise answered as usual: the first message with more rows than that, ``after`` such messages;
- ``delay`` and ``hold`` (both transports: a held call is not answered until ``release_held()`` or
  its ``seconds`` cap) and ``truncated`` (the HTTP token endpoint only).

The daily quota of an access level (option ``daily_operations`` or ``POST /_sandbox/quota``, off by
default): each gRPC call is one operation of the sandbox's UTC day; once the day's operations are
spent, every call fails RESOURCE_EXHAUSTED / ``quota_error`` ``RESOURCE_EXHAUSTED`` with
``retry_delay`` = the seconds left until the day ends, until the sandbox's clock passes midnight
(``POST /_sandbox/clock`` moves it forward).

Tenants unlike the demo (options, off by default): ``unreported_metrics`` names, per campaign type,
metrics the campaign rows of that type come without (the field left unset, never 0), and
``refused_metrics`` names, per account, metrics whose selection that account's queries refuse with
INVALID_ARGUMENT / ``PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE``, the metric quoted in the message.
"""

from __future__ import annotations

import math
import secrets
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Final

import grpc

from connectors.google_ads.mapping import ADWORDS_SCOPE
from sandbox.core import BASE_FAULT_KINDS, SandboxRequest, SandboxResponse, json_response, route
from sandbox.google_ads import catalogue
from sandbox.google_ads.catalogue import SandboxCustomer
from sandbox.google_ads.grpc_service import USER_PERMISSION_NOTE, RpcFailure, start_server
from sandbox.google_ads.tls import SandboxTls
from sandbox.oauth import OAuthApi, OAuthSpec, RefreshToken, Refusal, TokenRefused, oauth_error, state_of
from sandbox.restatements import RestatingApi

SANDBOX_CLIENT_ID: Final = "sandbox-google-ads-client.apps.googleusercontent.com"
SANDBOX_CLIENT_SECRET: Final = "GOCSPX-sandbox-google-ads-secret"
DEMO_REFRESH_TOKEN: Final = "1//sandbox-google-ads-refresh-demo"
ACCESS_TOKEN_TTL: Final = 3599
AUTHORIZATION_CODE_TTL: Final = 600
STREAM_BATCH_ROWS: Final = 10_000
SEARCH_PAGE_ROWS: Final = 10_000

FAULT_KINDS: Final = BASE_FAULT_KINDS | {
    "rate_limit",
    "server_error",
    "expire_token",
    "revoke_refresh",
    "malformed",
    "silent_gap",
}
SERVER_ERROR_CODES: Final = {
    "INTERNAL": ("internal_error", "INTERNAL_ERROR", "An internal error has occurred."),
    "UNAVAILABLE": ("", "", "The service is currently unavailable."),
    "DEADLINE_EXCEEDED": ("internal_error", "DEADLINE_EXCEEDED", "Deadline Exceeded"),
}


@dataclass(frozen=True)
class CallFaults:
    """Faults planned for one call that strike once ``cut_after`` stream messages have gone out."""

    cut_after: int | None = None
    kind: str = ""
    params: Mapping[str, Any] | None = None
    token: str = ""


# Google's token endpoint: the client may come as HTTP Basic authentication; refresh tokens are never
# rotated (only a redeemed code answers with one).
_UNKNOWN_CLIENT: Final = Refusal(401, "invalid_client", "The OAuth client was not found.")
OAUTH: Final = OAuthSpec(
    client_id=SANDBOX_CLIENT_ID,
    client_secret=SANDBOX_CLIENT_SECRET,
    authorize_path=r"^/o/oauth2/v2/auth$",
    token_path=r"^/token$",
    new_code=lambda: "4/sandbox-" + secrets.token_urlsafe(24),
    new_refresh_token=lambda: "1//sandbox-" + secrets.token_urlsafe(32),
    code_ttl=AUTHORIZATION_CODE_TTL,
    default_scope=ADWORDS_SCOPE,
    client_in_basic_auth=True,
    refusals={
        "missing_parameter": Refusal(400, "invalid_request", "Required parameter is missing: {name}"),
        "unknown_client": _UNKNOWN_CLIENT,
        "not_form": Refusal(400, "invalid_request", "Invalid request: the body must be form-encoded"),
        "no_grant_type": Refusal(400, "invalid_request", "Required parameter is missing: grant_type"),
        "grant_type": Refusal(400, "unsupported_grant_type", "Invalid grant_type: {grant_type}"),
        "client_authentication": _UNKNOWN_CLIENT,
        "refresh_token": Refusal(400, "invalid_grant", "Token has been expired or revoked."),
        "code": Refusal(400, "invalid_grant", "Malformed auth code."),
    },
)


class GoogleAdsSandbox(RestatingApi, OAuthApi):
    platform: ClassVar[str] = "google_ads"
    fault_kinds: ClassVar[frozenset[str]] = FAULT_KINDS
    oauth: ClassVar[OAuthSpec] = OAUTH
    # The metrics ``POST /_sandbox/restatements`` can revise (sandbox/restatements.py), by API name.
    restatable_metrics: ClassVar[frozenset[str]] = frozenset(
        {"impressions", "clicks", "cost_micros", "conversions", "conversions_value", "view_through_conversions"}
    )

    def restated_metrics(self, day: date, campaign_id: str, metrics: catalogue.DayMetrics) -> catalogue.DayMetrics:
        """One campaign-day's numbers as the restatements asked for so far change them."""
        named = {name: metrics.metric(name) for name in self.restatable_metrics}
        changed = self.restated(day, campaign_id, named)
        if changed == named:
            return metrics
        return catalogue.DayMetrics(
            impressions=int(changed["impressions"]),
            clicks=int(changed["clicks"]),
            cost_micros=int(changed["cost_micros"]),
            conversions_hundredths=round(float(changed["conversions"]) * 100),
            value_hundredths=round(float(changed["conversions_value"]) * 100),
            view_through=int(changed["view_through_conversions"]),
        )

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        access_token_ttl: int = ACCESS_TOKEN_TTL,
        stream_batch_rows: int = STREAM_BATCH_ROWS,
        search_page_rows: int = SEARCH_PAGE_ROWS,
        grpc_host: str = "127.0.0.1",
        grpc_port: int = 0,
        unreported_metrics: Mapping[str, Iterable[str]] | None = None,
        refused_metrics: Mapping[str, Iterable[str]] | None = None,
        daily_operations: int | None = None,
    ) -> None:
        super().__init__()
        # Operations (calls) allowed per sandbox day, as an access level's daily quota; None: no limit.
        self.daily_operations = daily_operations
        self.operations: dict[date, int] = {}
        # Campaign type (advertising_channel_type) → metrics its campaign rows come without.
        self.unreported_metrics = _metric_sets(
            unreported_metrics, {c.name for c in catalogue.CHANNELS}, "campaign type"
        )
        # Customer id → metrics that account refuses in a query.
        self.refused_metrics = _metric_sets(refused_metrics, set(catalogue.CUSTOMERS), "customer id")
        self.clock = clock
        self.access_token_ttl = access_token_ttl
        self.stream_batch_rows = stream_batch_rows
        self.search_page_rows = search_page_rows
        self.calls: list[dict[str, str | None]] = []  # the metadata of each gRPC call, for tests
        self.reset_state()
        self.tls = SandboxTls.generate()
        self.grpc_host = grpc_host
        self._server, self.grpc_port = start_server(self, self.tls, grpc_host, grpc_port)
        # SandboxServer.stop() knows nothing of the gRPC server: it is stopped by close(), or at exit.
        self._closer = weakref.finalize(self, _shut_down, self._server, self.tls)

    # -- FakeApi hooks --------------------------------------------------------------------------------
    @property
    def grpc_endpoint(self) -> str:
        return f"{self.grpc_host}:{self.grpc_port}"

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "GOOGLE_ADS_API_ENDPOINT": self.grpc_endpoint,
            "GOOGLE_ADS_CA_CERT": str(self.tls.ca_path),
            "GOOGLE_ADS_TOKEN_URL": base_url + "/token",
            "GOOGLE_ADS_AUTHORIZE_URL": base_url + "/o/oauth2/v2/auth",
            "GOOGLE_ADS_CLIENT_ID": SANDBOX_CLIENT_ID,
            "GOOGLE_ADS_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        }

    def error_response(self, status: int, code: str, message: str) -> SandboxResponse:
        return oauth_error(status, code.lower(), message)

    def reset_state(self) -> None:
        with self._counter_lock:
            self.calls.clear()
            self.operations.clear()
        super().reset_state()

    def seed_tokens(self) -> None:
        self.refresh[DEMO_REFRESH_TOKEN] = RefreshToken(ADWORDS_SCOPE)

    def new_access_token(self) -> str:
        return "ya29.sandbox-" + secrets.token_urlsafe(40)

    def extra_state(self) -> dict[str, Any]:
        with self._lock:
            live = sum(1 for t in self.access.values() if not t.expired and t.expires_at > self.now())
        today = datetime.fromtimestamp(self.now(), tz=UTC).date()
        return {
            "grpc_endpoint": self.grpc_endpoint,
            "live_access_tokens": live,
            "daily_operations": self.daily_operations,
            "operations_today": self.operations.get(today, 0),
        }

    def validate_fault(self, kind: str, params: Mapping[str, Any]) -> str | None:
        if kind == "rate_limit" and not isinstance(params.get("retry_delay_seconds", 1), int | float):
            return "rate_limit needs a numeric 'retry_delay_seconds'"
        if kind == "server_error" and params.get("code", "INTERNAL") not in SERVER_ERROR_CODES:
            return f"server_error 'code' must be one of {', '.join(SERVER_ERROR_CODES)}"
        if kind in ("server_error", "expire_token") and not isinstance(params.get("after_batches", 0), int):
            return f"{kind} needs an integer 'after_batches'"
        return super().validate_fault(kind, params)

    def close(self) -> None:
        """Stop the gRPC server and remove the certificate files (at most once)."""
        self._closer()

    # -- time and accounts ----------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock() + self.clock_offset

    # -- the daily operations quota -------------------------------------------------------------------
    def spend_operation(self) -> None:
        """One call is one operation of the day (UTC, on the fake's clock); past ``daily_operations``
        a call fails RESOURCE_EXHAUSTED with the wait until the day is over, as Google's does."""
        if self.daily_operations is None:
            return
        now = self.now()
        day = datetime.fromtimestamp(now, tz=UTC).date()
        with self._counter_lock:
            spent = self.operations.get(day, 0)
            if spent < self.daily_operations:
                self.operations[day] = spent + 1
                return
        midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC).timestamp()
        raise _throttle(
            {
                "retry_delay_seconds": max(1, math.ceil(midnight - now)),  # waiting that long is enough
                "rate_name": "Number of operations for basic access",
                "rate_scope": "DEVELOPER",
            },
            message="The daily operations limit of this project's access level has been reached.",
        )

    @route("POST", r"^/_sandbox/quota$")
    def control_quota(self, request: SandboxRequest) -> SandboxResponse:
        """Set the operations allowed per sandbox day: ``{"daily_operations": N}`` (null: no limit)."""
        spec = request.json_or_none()
        amount = spec.get("daily_operations", "missing") if isinstance(spec, dict) else "missing"
        if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool) or amount < 0):
            return self.error_response(400, "BAD_QUOTA", "The body must be {\"daily_operations\": N or null}")
        self.daily_operations = amount
        return json_response(200, self.state())

    def today_for(self, customer: SandboxCustomer | str) -> date:
        """The account's local date now: the newest day it reports, and the age of its conversions."""
        found = catalogue.CUSTOMERS[customer] if isinstance(customer, str) else customer
        return found.local_today(self.now())

    def accessible(self) -> list[SandboxCustomer]:
        return catalogue.accessible_customers()

    def served(self, customer_id: str, resource: str, rows: int) -> None:
        """Count served rows: in all, and per account and resource (``rows_served:<id>:campaign``)."""
        self.count("rows_served", rows)
        self.count(f"rows_served:{customer_id}:{resource}", rows)
        self.count("messages_served")

    # -- gRPC admission -------------------------------------------------------------------------------
    def admit(self, method: str, context: grpc.ServicerContext) -> CallFaults:
        """Count the call, apply delays and holds, check the token and fire the faults planned for it."""
        metadata = _metadata(context)
        with self._counter_lock:
            self.requests[method.rsplit("/", 1)[-1]] += 1
            self.calls.append(
                {
                    "method": method.rsplit("/", 1)[-1],
                    "login_customer_id": metadata.get("login-customer-id"),
                    "developer_token": metadata.get("developer-token"),
                }
            )
        delay = self.faults.take("delay", method)
        if delay is not None:
            time.sleep(float(delay.get("seconds", 1.0)))
        self.hold_if_planned(method)
        token = self.authenticate(metadata)
        self.spend_operation()
        throttle = self.faults.take("rate_limit", method)
        if throttle is not None:
            raise _throttle(throttle)
        for kind in ("expire_token", "server_error"):
            params = self.faults.take(kind, method)
            if params is not None:
                return CallFaults(int(params.get("after_batches", 0)), kind, params, token)
        return CallFaults(token=token)

    def cut_failure(self, faults: CallFaults, context: grpc.ServicerContext) -> RpcFailure:
        """The failure a planned fault ends a call with."""
        params = faults.params or {}
        if faults.kind == "expire_token":
            self.expire_access_token(faults.token)
            return _token_failure("OAUTH_TOKEN_EXPIRED", "Request had invalid authentication credentials.")
        code = str(params.get("code", "INTERNAL"))
        family, name, message = SERVER_ERROR_CODES[code]
        return RpcFailure(getattr(grpc.StatusCode, code), message, family, name)

    def authenticate(self, metadata: Mapping[str, str]) -> str:
        header = metadata.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise RpcFailure(
                grpc.StatusCode.UNAUTHENTICATED,
                "Request is missing required authentication credential. Expected OAuth 2 access token.",
            )
        try:
            self.access_token_check(token)
        except TokenRefused as refused:
            name = "OAUTH_TOKEN_EXPIRED" if refused.expired else "OAUTH_TOKEN_INVALID"
            raise _token_failure(name, "Request had invalid authentication credentials.") from None
        return token

    def target(self, customer_id: str, context: grpc.ServicerContext) -> SandboxCustomer:
        """The account a call is about, if this caller may reach it (login-customer-id rules)."""
        customer = _known_customer(customer_id, "customer ID")
        login = _metadata(context).get("login-customer-id")
        manager = _known_customer(login, "login-customer-id") if login is not None else None
        if customer is None:
            raise _denied()
        if login is None and not customer.accessible:
            raise _denied()
        if login is not None and (
            manager is None or not manager.accessible or not catalogue.is_under(customer.id, manager.id)
        ):
            raise _denied()
        if customer.status != "ENABLED":
            raise RpcFailure(
                grpc.StatusCode.PERMISSION_DENIED,
                "The customer account can't be accessed because it is not yet enabled or has been "
                "deactivated.",
                "authorization_error",
                "CUSTOMER_NOT_ENABLED",
            )
        return customer

    def maybe_malform(self, method: str, rows: list[Any]) -> None:
        fault = self.faults.take("malformed", method) if rows else None
        if fault is None:
            return
        row = rows[int(fault.get("index", len(rows) // 2)) % len(rows)]
        if fault.get("variant", "missing_date") == "missing_campaign_id":
            row.campaign.ClearField("id")
        else:
            row.segments.ClearField("date")

    # -- OAuth (the shared authorization server) ------------------------------------------------------
    def authorization_refusal(self, request: SandboxRequest) -> SandboxResponse | None:
        """Google judges the client first, then wants a code sent to a redirect URI."""
        if (request.arg("client_id") or "") != SANDBOX_CLIENT_ID:
            return self.refuse("unknown_client")
        if request.arg("response_type") != "code" or not request.arg("redirect_uri"):
            return self.refuse("missing_parameter", name="response_type or redirect_uri")
        return None

    def authorization_answer(self, request: SandboxRequest, code: str, scope: str) -> dict[str, str]:
        return {"code": code, "scope": scope, **state_of(request)}

    def grant(
        self, request: SandboxRequest, record: RefreshToken, refresh_token: str, *, new: bool
    ) -> SandboxResponse:
        body = {
            "access_token": self.mint_access_token(scope=record.scope),
            "expires_in": self.access_token_ttl,
            "scope": record.scope,
            "token_type": "Bearer",
        }
        if new:
            body["refresh_token"] = refresh_token
        return json_response(200, body)


def _metric_sets(
    given: Mapping[str, Iterable[str]] | None, keys: set[str], what: str
) -> dict[str, frozenset[str]]:
    """Check an option naming metrics (``view_through_conversions``) per key; unknown names fail."""
    found: dict[str, frozenset[str]] = {}
    for key, names in (given or {}).items():
        if key not in keys:
            raise ValueError(f"unknown {what} {key!r}: one of {', '.join(sorted(keys))}")
        metrics = frozenset(names)
        unknown = metrics - set(catalogue.METRIC_NAMES)
        if unknown:
            raise ValueError(
                f"unknown metric(s) {', '.join(sorted(unknown))}: one of {', '.join(catalogue.METRIC_NAMES)}"
            )
        found[key] = metrics
    return found


def _shut_down(server: grpc.Server, tls: SandboxTls) -> None:
    server.stop(grace=None).wait(5)
    tls.remove()


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        found[key.lower()] = value.decode() if isinstance(value, bytes) else str(value)
    return found


def _known_customer(raw: str, what: str) -> SandboxCustomer | None:
    if len(raw) != 10 or not raw.isdigit():
        raise RpcFailure(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Invalid {what} '{raw}'. Customer IDs are 10 digits without hyphens.",
            "request_error",
            "INVALID_CUSTOMER_ID",
        )
    return catalogue.CUSTOMERS.get(raw)


def _denied() -> RpcFailure:
    return RpcFailure(
        grpc.StatusCode.PERMISSION_DENIED,
        USER_PERMISSION_NOTE,
        "authorization_error",
        "USER_PERMISSION_DENIED",
    )


def _token_failure(name: str, message: str) -> RpcFailure:
    return RpcFailure(grpc.StatusCode.UNAUTHENTICATED, message, "authentication_error", name)


def _throttle(params: Mapping[str, Any], message: str = "") -> RpcFailure:
    delay = float(params.get("retry_delay_seconds", 1))
    return RpcFailure(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        message or f"Too many requests. Retry in {delay:g} seconds.",
        "quota_error",
        str(params.get("name", "RESOURCE_EXHAUSTED")),
        retry_delay=delay,
        rate_name=str(params.get("rate_name", "Number of operations for basic access")),
        rate_scope=str(params.get("rate_scope", "DEVELOPER")),
    )

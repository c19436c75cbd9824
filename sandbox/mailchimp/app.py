"""The Mailchimp fake: the OAuth service, the metadata endpoint and the data centres' Marketing API (see
the package's docstring for what it imitates)."""

from __future__ import annotations

import base64
import math
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from http import HTTPStatus
from typing import Any, ClassVar, Final

from sandbox.core import BASE_FAULT_KINDS, SandboxRequest, SandboxResponse, json_response, route
from sandbox.mailchimp.catalogue import (
    ACCOUNTS,
    DEMO_ACCOUNT_ID,
    SandboxAccount,
    SandboxCampaign,
    campaigns_between,
    drafts,
    find_campaign,
    links,
    render_campaign,
    render_report,
)
from sandbox.mailchimp.queries import BadParam, count_and_offset, moment_param, project
from sandbox.oauth import AccessToken, OAuthApi, OAuthSpec, RefreshToken, Refusal
from sandbox.paging import page_of

SANDBOX_CLIENT_ID: Final = "sandbox-mailchimp-client"
SANDBOX_CLIENT_SECRET: Final = "sandbox-mailchimp-secret"
DEMO_ACCESS_TOKEN: Final = ACCOUNTS[DEMO_ACCOUNT_ID].token

ERRORS_DOC: Final = "https://mailchimp.com/developer/marketing/docs/errors/"
MAX_CONNECTIONS: Final = 10
AUTHORIZATION_CODE_TTL: Final = 600

API_PATH: Final = re.compile(r"^/(?P<dc>[a-z]{2,10}[0-9]{1,4})/3\.0(?:/|$)")
DC_PREFIX: Final = r"^/(?P<dc>[a-z]{2,10}[0-9]{1,4})/3\.0"

FAULT_KINDS: Final = BASE_FAULT_KINDS | {
    "rate_limit",
    "silent_gap",
    "bare_throttle",
    "server_error",
    "forbidden",
    "invalid_token",
    "malformed",
}

TOO_MANY_CONNECTIONS: Final = "You have exceeded the limit of 10 simultaneous connections."
WRONG_KEY: Final = "Your API key may be invalid, or you've attempted to access the wrong datacenter."
INTERNAL_ERROR: Final = (
    "An unexpected internal error has occurred. Please contact Support for more information."
)

# The OAuth service (login.mailchimp.com): the authorization-code grant only; its tokens never expire
# and come without a refresh token. Codes open the demo account.
_UNSUPPORTED_GRANT: Final = Refusal(
    400, "unsupported_grant_type", "Only the authorization_code grant is supported"
)
OAUTH: Final = OAuthSpec(
    client_id=SANDBOX_CLIENT_ID,
    client_secret=SANDBOX_CLIENT_SECRET,
    authorize_path=r"^/oauth2/authorize$",
    token_path=r"^/oauth2/token$",
    new_code=lambda: secrets.token_hex(16),
    code_ttl=AUTHORIZATION_CODE_TTL,
    owner=DEMO_ACCOUNT_ID,
    grant_types=("authorization_code",),
    grant_type_checked_first=True,
    refusals={
        "missing_parameter": Refusal(400, "invalid_request", "Missing required parameter: {name}"),
        "unknown_client": Refusal(400, "invalid_client", "Invalid client_id"),
        "response_type": Refusal(400, "unsupported_response_type", "Only response_type=code is supported"),
        "not_form": Refusal(400, "invalid_request", "The request must be form-encoded"),
        "no_grant_type": _UNSUPPORTED_GRANT,
        "grant_type": _UNSUPPORTED_GRANT,
        "client_authentication": Refusal(401, "invalid_client", "Invalid client credentials"),
        "code": Refusal(400, "invalid_grant", "Invalid authorization code"),
    },
)


def problem(status: int, title: str, detail: str, **extra: Any) -> SandboxResponse:
    """Mailchimp's error document (``application/problem+json``)."""
    body = {
        "type": ERRORS_DOC,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
        **extra,
    }
    return json_response(status, body, {"Content-Type": "application/problem+json; charset=utf-8"})


def invalid_resource(field: str, message: str) -> SandboxResponse:
    detail = (
        "The resource submitted could not be validated. For field-specific details, see the 'errors' array."
    )
    return problem(400, "Invalid Resource", detail, errors=[{"field": field, "message": message}])


# =========================================================================== faults on report pages


def _set_bounce(report: Any) -> None:
    bounces = report.setdefault("bounces", {})
    if isinstance(bounces, dict):
        bounces["hard_bounces"] = "n/a"


_MALFORMATIONS: Final[Mapping[str, Callable[[dict[str, Any]], None]]] = {
    "non_numeric_emails_sent": lambda report: report.__setitem__("emails_sent", "1,204"),
    "missing_id": lambda report: report.pop("id", None),
    "bad_send_time": lambda report: report.__setitem__("send_time", "2026-02-30T25:00:00+00:00"),
    "non_numeric_bounces": _set_bounce,
}
NOT_AN_OBJECT: Final = "not_an_object"


class MailchimpSandbox(OAuthApi):
    """The Mailchimp fake. Options are described on :func:`create_app`."""

    platform: ClassVar[str] = "mailchimp"
    fault_kinds: ClassVar[frozenset[str]] = FAULT_KINDS
    oauth: ClassVar[OAuthSpec] = OAUTH
    access_token_ttl = math.inf  # Mailchimp's access tokens never expire

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        latency: float = 0.0,
        max_connections: int = MAX_CONNECTIONS,
        reports_without: Mapping[str, tuple[str, ...] | list[str]] | None = None,
    ) -> None:
        super().__init__()
        # Campaign type → top-level report objects its reports lack (e.g. {"plaintext": ["clicks"]}).
        self.reports_without = {kind: tuple(keys) for kind, keys in (reports_without or {}).items()}
        self._clock = clock
        self.latency = latency
        self.max_connections = max_connections
        self._in_flight: Counter[str] = Counter()
        self.peak_connections: Counter[str] = Counter()
        self.report_queries: list[dict[str, Any]] = []
        self.reset_state()

    # -- time

    def moment(self) -> datetime:
        """The fake's current time as an aware UTC datetime (``now()`` is the epoch seconds)."""
        return datetime.fromtimestamp(self.now(), tz=UTC)

    # -- FakeApi hooks

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "MAILCHIMP_API_BASE_URL": base_url + "/{dc}",
            "MAILCHIMP_METADATA_URL": base_url + "/oauth2/metadata",
            "MAILCHIMP_TOKEN_URL": base_url + "/oauth2/token",
            "MAILCHIMP_AUTHORIZE_URL": base_url + "/oauth2/authorize",
            "MAILCHIMP_CLIENT_ID": SANDBOX_CLIENT_ID,
            "MAILCHIMP_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        }

    def seed_tokens(self) -> None:
        """Every account's own access token (each token opens the account it belongs to)."""
        self.access.update((a.token, AccessToken(math.inf, owner=a.user_id)) for a in ACCOUNTS.values())

    def reset_state(self) -> None:
        with self._lock:
            super().reset_state()
            self._in_flight.clear()
            self.peak_connections.clear()
            self.report_queries.clear()

    def extra_state(self) -> dict[str, Any]:
        with self._lock:
            revoked = sum(token.expired for token in self.access.values())
            return {
                "tokens": {"valid": len(self.access) - revoked, "revoked": revoked},
                "peak_connections": dict(self.peak_connections),
                "report_queries": list(self.report_queries),
            }

    def validate_fault(self, kind: str, params: Mapping[str, Any]) -> str | None:
        variant = params.get("variant", "non_numeric_emails_sent")
        if kind == "malformed" and variant not in (*_MALFORMATIONS, NOT_AN_OBJECT):
            return f"malformed variant must be one of {', '.join([*_MALFORMATIONS, NOT_AN_OBJECT])}"
        status = params.get("status", 500)
        if kind == "server_error" and not (isinstance(status, int) and 500 <= status <= 599):
            return "server_error status must be 5xx"
        if kind == "bare_throttle" and params.get("status", 403) not in (403, 429):
            return "bare_throttle status must be 403 or 429"
        return super().validate_fault(kind, params)

    def error_response(self, status: int, code: str, message: str) -> SandboxResponse:
        titles = {404: "Resource Not Found", 405: "Method Not Allowed", 400: "Invalid Resource"}
        return problem(status, titles.get(status, HTTPStatus(status).phrase), message)

    # -- the connection limit, around every data-centre request

    def handle(self, request: SandboxRequest) -> SandboxResponse:
        account_id = self._slot_owner(request)
        if account_id is None:
            return super().handle(request)
        if not self._enter(account_id):
            self.count("connections_refused")
            return problem(429, "Too Many Requests", TOO_MANY_CONNECTIONS)
        try:
            if self.latency:
                time.sleep(self.latency)
            return super().handle(request)
        finally:
            with self._lock:
                self._in_flight[account_id] -= 1

    def _slot_owner(self, request: SandboxRequest) -> str | None:
        if API_PATH.match(request.path) is None:
            return None
        with self._lock:
            record = self.access.get(self._api_token(request) or "")
            return record.owner if record is not None else None

    def _enter(self, account_id: str) -> bool:
        with self._lock:
            if self._in_flight[account_id] >= self.max_connections:
                return False
            self._in_flight[account_id] += 1
            self.peak_connections[account_id] = max(
                self.peak_connections[account_id], self._in_flight[account_id]
            )
            return True

    # -- credentials

    @staticmethod
    def _api_token(request: SandboxRequest) -> str | None:
        """The token of a data-centre request: OAuth or Bearer, or an API key as the Basic password."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        value = value.strip()
        if scheme.lower() in ("oauth", "bearer") and value:
            return value
        if scheme.lower() == "basic" and value:
            try:
                _, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            return password or None
        return None

    def _account_of(self, token: str | None) -> SandboxAccount | None:
        with self._lock:
            record = self.access.get(token or "")
            if record is None or record.expired:
                return None
        return ACCOUNTS.get(record.owner)

    def _revoke_if_planned(self, request: SandboxRequest, token: str | None) -> None:
        if self.faults.take("invalid_token", request.path) is not None and token:
            self.expire_access_token(token)

    def caller(self, request: SandboxRequest) -> SandboxAccount:
        account = self._account_of(self._api_token(request))
        assert account is not None, "preflight lets only known tokens through"
        return account

    def api_base(self, request: SandboxRequest) -> str:
        host = request.headers.get("Host", "127.0.0.1")
        return f"http://{host}/{request.path_params.get('dc', '')}".rstrip("/")

    # -- data-centre request checks

    def preflight(self, request: SandboxRequest) -> SandboxResponse | None:
        match = API_PATH.match(request.path)
        if match is None:
            return None
        token = self._api_token(request)
        if token is None:
            return problem(401, "API Key Missing", "Your request did not include an API key.")
        self._revoke_if_planned(request, token)
        account = self._account_of(token)
        if account is None or account.dc != match.group("dc"):
            return problem(401, "API Key Invalid", WRONG_KEY)
        return self._injected_failure(request)

    def _injected_failure(self, request: SandboxRequest) -> SandboxResponse | None:
        if self.faults.take("rate_limit", request.path) is not None:
            return problem(429, "Too Many Requests", TOO_MANY_CONNECTIONS)
        bare = self.faults.take("bare_throttle", request.path)
        if bare is not None:
            return SandboxResponse(int(bare.get("status", 403)))
        failure = self.faults.take("server_error", request.path)
        if failure is not None:
            status = int(failure.get("status", 500))
            title = str(failure.get("title", HTTPStatus(status).phrase))
            return problem(status, title, str(failure.get("detail", INTERNAL_ERROR)))
        if self.faults.take("forbidden", request.path) is not None:
            return problem(403, "Forbidden", "You are not permitted to access this resource.")
        return None

    # -- OAuth (the shared authorization server: the authorization-code grant only, no refresh token)

    def new_access_token(self) -> str:
        return secrets.token_hex(16)

    def grant(
        self, request: SandboxRequest, record: RefreshToken, refresh_token: str, *, new: bool
    ) -> SandboxResponse:
        access_token = self.mint_access_token(owner=record.owner)
        return json_response(200, {"access_token": access_token, "expires_in": 0, "scope": None})

    @route("GET", r"^/oauth2/metadata$")
    def metadata(self, request: SandboxRequest) -> SandboxResponse:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme == "OAuth" else ""
        self._revoke_if_planned(request, token)
        failure = self._injected_failure(request)
        if failure is not None:
            return failure
        account = self._account_of(token)
        if account is None:
            return json_response(200, {"error": "invalid_token"})
        host = request.headers.get("Host", "127.0.0.1")
        login_id = int(account.user_id) + 7_000_000
        return json_response(
            200,
            {
                "dc": account.dc,
                "role": "owner",
                "accountname": account.name,
                "user_id": int(account.user_id),
                "login": {
                    "email": account.email,
                    "avatar": None,
                    "login_id": login_id,
                    "login_name": account.login_name,
                    "login_email": account.email,
                },
                "login_url": "https://login.mailchimp.com",
                "api_endpoint": f"http://{host}/{account.dc}",
            },
        )

    # -- reports and campaigns

    @route("GET", DC_PREFIX + r"/reports$")
    def reports(self, request: SandboxRequest) -> SandboxResponse:
        account, now = self.caller(request), self.moment()
        try:
            count, offset = count_and_offset(request)
            since, before = (
                moment_param(request, "since_send_time"),
                moment_param(request, "before_send_time"),
            )
        except BadParam as exc:
            return invalid_resource(exc.field, str(exc))
        self._note_query(request, count, offset)
        kind = request.arg("type")
        sent = [
            campaign
            for campaign in campaigns_between(account.user_id, since, before, today=now.date())
            if campaign.sent_by(now) and (not kind or campaign.type == kind)
        ]
        api = self.api_base(request)
        page: list[Any] = self.silent_gap(
            request.path, [self._render_report(c, now.date(), api) for c in page_of(sent, offset, count).items]
        )
        if page:
            self._maybe_malform(request.path, page)
        self.count("reports_served", len(page))
        body = {"reports": page, "total_items": len(sent), "_links": links(api, "reports", "Reports")}
        return json_response(200, project(body, request))

    @route("GET", DC_PREFIX + r"/reports/(?P<campaign_id>[0-9a-f]+)$")
    def report(self, request: SandboxRequest) -> SandboxResponse:
        account, now = self.caller(request), self.moment()
        campaign = find_campaign(account.user_id, request.path_params["campaign_id"], now.date())
        if campaign is None or not campaign.sent_by(now):
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        return json_response(
            200, project(self._render_report(campaign, now.date(), self.api_base(request)), request)
        )

    def _render_report(self, campaign: SandboxCampaign, today: date, api_base: str) -> dict[str, Any]:
        report = render_report(campaign, today, api_base)
        for key in self.reports_without.get(campaign.type, ()):
            report.pop(key, None)
        return report

    @route("GET", DC_PREFIX + r"/campaigns$")
    def campaigns(self, request: SandboxRequest) -> SandboxResponse:
        account, now = self.caller(request), self.moment()
        try:
            count, offset = count_and_offset(request)
            since, before = (
                moment_param(request, "since_send_time"),
                moment_param(request, "before_send_time"),
            )
            created_since = moment_param(request, "since_create_time")
            created_before = moment_param(request, "before_create_time")
            order = self._campaign_order(request)
        except BadParam as exc:
            return invalid_resource(exc.field, str(exc))
        found = list(campaigns_between(account.user_id, since, before, today=now.date()))
        if since is None and before is None:
            found += drafts(account.user_id)
        rendered = [render_campaign(c, now, self.api_base(request)) for c in found]
        chosen = [
            body
            for body, campaign in zip(rendered, found, strict=True)
            if self._campaign_matches(request, body)
            and (created_since is None or campaign.create_time >= created_since)
            and (created_before is None or campaign.create_time < created_before)
        ]
        field, descending = order
        chosen.sort(key=lambda body: (body[field], body["id"]), reverse=descending)
        body = {
            "campaigns": page_of(chosen, offset, count).items,
            "total_items": len(chosen),
            "_links": links(self.api_base(request), "campaigns", "Campaigns"),
        }
        return json_response(200, project(body, request))

    @staticmethod
    def _campaign_order(request: SandboxRequest) -> tuple[str, bool]:
        field = request.arg("sort_field") or "create_time"
        direction = (request.arg("sort_dir") or "ASC").upper()
        if field not in ("create_time", "send_time"):
            raise BadParam("sort_field", "sort_field must be create_time or send_time.")
        if direction not in ("ASC", "DESC"):
            raise BadParam("sort_dir", "sort_dir must be ASC or DESC.")
        return field, direction == "DESC"

    @staticmethod
    def _campaign_matches(request: SandboxRequest, body: dict[str, Any]) -> bool:
        for param, value in (
            ("type", body["type"]),
            ("status", body["status"]),
            ("list_id", body["recipients"]["list_id"]),
        ):
            wanted = request.arg(param)
            if wanted and wanted != value:
                return False
        return True

    def _note_query(self, request: SandboxRequest, count: int, offset: int) -> None:
        query = {
            "count": count,
            "offset": offset,
            **{
                name: request.arg(name)
                for name in ("since_send_time", "before_send_time", "fields", "exclude_fields")
                if request.arg(name) is not None
            },
        }
        with self._lock:
            self.report_queries.append(query)
            del self.report_queries[:-200]

    def _maybe_malform(self, path: str, page: list[Any]) -> None:
        fault = self.faults.take("malformed", path)
        if fault is None:
            return
        index = int(fault.get("index", len(page) // 2)) % len(page)
        variant = str(fault.get("variant", "non_numeric_emails_sent"))
        if variant == NOT_AN_OBJECT:
            page[index] = "report unavailable"
        else:
            _MALFORMATIONS[variant](page[index])

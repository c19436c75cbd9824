"""The Zoho CRM fake: the accounts server and the REST API on one host (see the package's docstring for
what it imitates)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Final

from sandbox.core import BASE_FAULT_KINDS, SandboxRequest, SandboxResponse, json_response, route
from sandbox.oauth import OAuthApi, OAuthSpec, RefreshToken, Refusal, TokenRefused, oauth_error, state_of
from sandbox.paging import Page, page_of
from sandbox.zoho_crm.catalogue import (
    CONCURRENCY_BY_EDITION,
    DEMO_ORG,
    ORGS,
    SERVED_MODULES,
    STANDARD_MODULES,
    Listing,
    SandboxOrg,
    Stored,
    credit_limit,
    field_names,
    layout,
    org_data,
    render,
    select,
    stamp,
)

SANDBOX_CLIENT_ID: Final = "1000.SANDBOXZOHOCRMCLIENT01"
SANDBOX_CLIENT_SECRET: Final = "sandbox-zoho-crm-secret"

ACCESS_TOKEN_TTL: Final = 3_600
AUTHORIZATION_CODE_TTL: Final = 120
PAGE_TOKEN_TTL: Final = 86_400
TOKENS_PER_WINDOW: Final = 10  # access tokens per refresh token ...
TOKEN_WINDOW_SECONDS: Final = 600  # ... per ten minutes
DEFAULT_SCOPE: Final = (
    "ZohoCRM.modules.leads.READ,ZohoCRM.modules.deals.READ,ZohoCRM.modules.campaigns.READ,"
    "ZohoCRM.settings.fields.READ,ZohoCRM.org.READ,ZohoSearch.securesearch.READ"
)
# A record count narrowed by a search parameter is a search: Zoho asks for this scope besides the
# module's (the record count API's security requirements).
SEARCH_SCOPES: Final = frozenset({"zohosearch.securesearch.read", "zohosearch.securesearch.all"})
SEARCH_PARAMETERS: Final = ("criteria", "email", "phone", "word")

MAX_PER_PAGE: Final = 200
DISCRETE_LIMIT: Final = 2_000
MAX_FIELDS: Final = 50
SUPPORTED_VERSIONS: Final = frozenset({"v3", "v4", "v5", "v6", "v7", "v8"})
CREDIT_WINDOW_SECONDS: Final = 86_400

FAULT_KINDS: Final = BASE_FAULT_KINDS | {
    "rate_limit",
    "server_error",
    "expire_token",
    "revoke_refresh",
    "invalid_client",
    "malformed",
    "expire_page_token",
}


def _zoho_token() -> str:
    """Zoho's form of codes and tokens: ``1000.<32 hex>.<32 hex>``."""
    return "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)


# Zoho's accounts server answers most refusals with HTTP 200 and an ``error`` alone; it never rotates
# refresh tokens, and takes its parameters from the query as well as from a form.
_UNSUPPORTED_GRANT: Final = Refusal(200, "unsupported_grant_type")
_INVALID_CODE: Final = Refusal(200, "invalid_code")
OAUTH: Final = OAuthSpec(
    client_id=SANDBOX_CLIENT_ID,
    client_secret=SANDBOX_CLIENT_SECRET,
    authorize_path=r"^/oauth/v2/auth$",
    token_path=r"^/oauth/v2/token$",
    new_code=_zoho_token,
    new_refresh_token=_zoho_token,
    code_ttl=AUTHORIZATION_CODE_TTL,
    owner=DEMO_ORG,
    authorize_requires=("response_type", "client_id", "redirect_uri", "scope"),
    params_in_query=True,
    refusals={
        "missing_parameter": Refusal(400, "invalid_request", "The parameter {name} is missing"),
        "unknown_client": Refusal(400, "invalid_client"),
        "response_type": Refusal(400, "unsupported_response_type"),
        "no_grant_type": _UNSUPPORTED_GRANT,
        "grant_type": _UNSUPPORTED_GRANT,
        "client_authentication": Refusal(200, "invalid_client"),
        "refresh_token": _INVALID_CODE,
        "code": _INVALID_CODE,
    },
)


# =========================================================================== errors


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})

    def response(self) -> SandboxResponse:
        return zoho_error(self.status, self.code, self.message, self.details)


def zoho_error(
    status: int, code: str, message: str, details: Mapping[str, Any] | None = None
) -> SandboxResponse:
    return json_response(
        status, {"code": code, "details": dict(details or {}), "message": message, "status": "error"}
    )


def _empty(status: int) -> SandboxResponse:
    return SandboxResponse(status, b"", {})


_MALFORMATIONS: Final[Mapping[str, Callable[[dict[str, Any]], Any]]] = {
    "bad_datetime": lambda r: {**r, "Modified_Time": "2026-02-30T15:26:00+05:30"},
    "missing_id": lambda r: {**r, "id": None},
    "non_numeric_amount": lambda r: {**r, "Amount": "12,500.00"},
    "not_an_object": lambda r: "record unavailable",
}


_COMPARISONS: Final[Mapping[str, Callable[[float, float], bool]]] = {
    "equals": lambda value, bound: value == bound,
    "greater_equal": lambda value, bound: value >= bound,
    "greater_than": lambda value, bound: value > bound,
    "less_equal": lambda value, bound: value <= bound,
    "less_than": lambda value, bound: value < bound,
}
_SEARCHED_TIMES: Final[Mapping[str, str]] = {"Modified_Time": "modified", "Created_Time": "created"}
_CONDITION: Final = re.compile(r"\((\w+):(\w+):([^()]+)\)")


def _criteria(raw: str | None) -> list[Callable[[Stored], bool]]:
    """``(Field:operator:value)`` conditions joined by ``and`` (Zoho's criteria syntax), on the
    datetime fields the fake searches; anything else is Zoho's ``INVALID_QUERY``."""
    if raw is None:
        return []
    text = raw.strip()
    inner = text[1:-1] if text.startswith("((") and text.endswith("))") else text
    conditions: list[Callable[[Stored], bool]] = []
    for part in re.split(r"\)and\(", inner.strip("()")):
        match = _CONDITION.fullmatch(f"({part})")
        if match is None or match.group(1) not in _SEARCHED_TIMES or match.group(2) not in _COMPARISONS:
            raise ApiError(400, "INVALID_QUERY", "invalid query formed", {"criteria": raw})
        try:
            bound = datetime.fromisoformat(match.group(3)).timestamp()
        except ValueError:
            raise ApiError(400, "INVALID_QUERY", "invalid query formed", {"criteria": raw}) from None
        attribute, compare = _SEARCHED_TIMES[match.group(1)], _COMPARISONS[match.group(2)]
        conditions.append(functools.partial(_holds, attribute=attribute, compare=compare, bound=bound))
    return conditions


def _holds(stored: Stored, *, attribute: str, compare: Callable[[float, float], bool], bound: float) -> bool:
    return bool(compare(getattr(stored, attribute), bound))


def _scopes(scope: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in scope.replace(" ", ",").split(",") if part.strip())


def _scope_allows(granted: frozenset[str], path: str) -> bool:
    parts = path.strip("/").split("/")  # crm, version, ...
    if parts[2] == "org":
        wanted = {"zohocrm.org.read", "zohocrm.org.all"}
    elif parts[2] == "settings":
        wanted = {"zohocrm.settings.fields.read", "zohocrm.settings.fields.all", "zohocrm.settings.read",
                  "zohocrm.settings.all"}  # fmt: skip
    elif parts[2] not in STANDARD_MODULES:
        return True  # the handler answers INVALID_MODULE
    else:
        module = parts[2].lower()
        wanted = {f"zohocrm.modules.{module}.read", f"zohocrm.modules.{module}.all", "zohocrm.modules.read",
                  "zohocrm.modules.all"}  # fmt: skip
    return bool(granted & wanted)


# =========================================================================== the fake service


class ZohoCrmSandbox(OAuthApi):
    """The Zoho CRM fake (accounts server and API on one host). Options: see :func:`create_app`."""

    platform: ClassVar[str] = "zoho_crm"
    fault_kinds: ClassVar[frozenset[str]] = FAULT_KINDS
    oauth: ClassVar[OAuthSpec] = OAUTH

    def __init__(
        self,
        *,
        access_token_ttl: int = ACCESS_TOKEN_TTL,
        api_domain: str | None = None,
        credit_limit: int | None = None,
        concurrency_limit: int | None = None,
        tokens_per_window: int = TOKENS_PER_WINDOW,
        clock: Callable[[], float] | None = None,
        removed_fields: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__()
        # API names an org has renamed or deleted: absent from every module's layout and refused in
        # ``fields`` (INVALID_DATA), as on an org whose layout differs from the demo's.
        self.removed_fields = frozenset(removed_fields)
        self.access_token_ttl = access_token_ttl
        self.api_domain = api_domain
        self.credit_limit = credit_limit
        self.concurrency_limit = concurrency_limit
        self.tokens_per_window = tokens_per_window
        self._clock = clock
        self._secret = secrets.token_bytes(16)
        self._minted: dict[str, deque[float]] = {}  # refresh token -> when it was last exchanged
        self._credits: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}
        self.peak_in_flight: dict[str, int] = {}
        self.reset_state()

    # -- FakeApi hooks

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "ZOHO_CRM_ACCOUNTS_URL": base_url,
            "ZOHO_CRM_TOKEN_URL": "",
            "ZOHO_CRM_API_BASE_URL": "",
            "ZOHO_CRM_CLIENT_ID": SANDBOX_CLIENT_ID,
            "ZOHO_CRM_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        }

    def error_response(self, status: int, code: str, message: str) -> SandboxResponse:
        if code == "NOT_FOUND":
            code, message = "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
        return zoho_error(status, code, message)

    def reset_state(self) -> None:
        with self._lock:
            super().reset_state()
            self._minted.clear()
            self._credits.clear()
            self._in_flight.clear()
            self.peak_in_flight.clear()

    def extra_state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "tokens": self.token_counts(),
                "credits_used": {org: len(used) for org, used in self._credits.items()},
                "peak_in_flight": dict(self.peak_in_flight),
            }

    def validate_fault(self, kind: str, params: Mapping[str, Any]) -> str | None:
        if kind == "malformed" and params.get("variant", "bad_datetime") not in _MALFORMATIONS:
            return f"malformed variant must be one of {', '.join(_MALFORMATIONS)}"
        status = params.get("status", 500)
        if kind == "server_error" and not (isinstance(status, int) and 500 <= status <= 599):
            return "server_error status must be 5xx"
        return super().validate_fault(kind, params)

    # -- API request handling: simultaneous calls, credits, token, scope, faults

    def handle(self, request: SandboxRequest) -> SandboxResponse:
        if not request.path.startswith("/crm/"):
            return super().handle(request)
        org = self._org_of(request)
        if org is None:
            return super().handle(request)
        with self._lock:
            self._in_flight[org] = self._in_flight.get(org, 0) + 1
            busy = self._in_flight[org]
            self.peak_in_flight[org] = max(self.peak_in_flight.get(org, 0), busy)
        try:
            if busy > (self.concurrency_limit or CONCURRENCY_BY_EDITION[ORGS[org].edition]):
                self.count("throttled_concurrency")
                return self._too_many("Concurrency limit of your organization exceeded")
            response = super().handle(request)
            remaining = self._credits_remaining(org)
            if remaining is not None:
                response.headers["X-API-CREDITS-REMAINING"] = str(remaining)
            return response
        finally:
            with self._lock:
                self._in_flight[org] -= 1

    def preflight(self, request: SandboxRequest) -> SandboxResponse | None:
        if not request.path.startswith("/crm/"):
            return None
        version = request.path.split("/")[2]
        if version not in SUPPORTED_VERSIONS:
            return self.error_response(404, "NOT_FOUND", "")
        return self._check_token(request) or self._spend_credit(request) or self._injected_failure(request)

    @staticmethod
    def _token_of(request: SandboxRequest) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme == "Zoho-oauthtoken" and token.strip() else None

    def _org_of(self, request: SandboxRequest) -> str | None:
        token = self._token_of(request)
        with self._lock:
            record = self.access.get(token or "")
            return record.owner if record is not None else None

    def _check_token(self, request: SandboxRequest) -> SandboxResponse | None:
        token = self._token_of(request)
        if token is None:
            return zoho_error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        try:
            record = self.access_token_check(token, fault_path=request.path)
        except TokenRefused:
            return zoho_error(401, "INVALID_TOKEN", "invalid oauth token")
        granted = _scopes(record.scope)
        if not _scope_allows(granted, request.path):
            return zoho_error(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")
        searching = request.path.endswith("/actions/count") and any(request.arg(p) for p in SEARCH_PARAMETERS)
        if searching and not granted & SEARCH_SCOPES:
            return zoho_error(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")
        return None

    def _credit_budget(self, org: str) -> int:
        return self.credit_limit if self.credit_limit is not None else credit_limit(ORGS[org])

    def _spend_credit(self, request: SandboxRequest) -> SandboxResponse | None:
        org = self._org_of(request) or ""
        now = self.now()
        with self._lock:
            used = self._credits.setdefault(org, deque())
            while used and used[0] <= now - CREDIT_WINDOW_SECONDS:
                used.popleft()
            if len(used) >= self._credit_budget(org):
                exhausted = True
            else:
                used.append(now)
                exhausted = False
        if exhausted:
            self.count("throttled_credits")
            return self._too_many("You have exceeded the API credit limit of your organization")
        return None

    def _credits_remaining(self, org: str) -> int | None:
        """``X-API-CREDITS-REMAINING`` is only sent once half the credits are used."""
        budget = self._credit_budget(org)
        with self._lock:
            used = len(self._credits.get(org, ()))
        return budget - used if used * 2 >= budget else None

    @staticmethod
    def _too_many(message: str) -> SandboxResponse:
        return zoho_error(429, "TOO_MANY_REQUESTS", message)

    def _injected_failure(self, request: SandboxRequest) -> SandboxResponse | None:
        if self.faults.take("rate_limit", request.path) is not None:
            self.count("throttled_fault")
            return self._too_many("Too many requests are made")
        failure = self.faults.take("server_error", request.path)
        if failure is not None:
            status = int(failure.get("status", 500))
            return zoho_error(status, "INTERNAL_ERROR", "Internal Server Error")
        return None

    # -- accounts server

    def _accounts_url(self, request: SandboxRequest) -> str:
        return f"http://{request.headers.get('Host', '127.0.0.1')}"

    def authorization_answer(self, request: SandboxRequest, code: str, scope: str) -> dict[str, str]:
        """Zoho also names the user's data centre and its accounts server."""
        return {
            **state_of(request),
            "code": code,
            "location": ORGS[DEMO_ORG].location,
            "accounts-server": self._accounts_url(request),
        }

    def new_access_token(self) -> str:
        return _zoho_token()

    def seed_tokens(self) -> None:
        self.refresh.update(
            (org.refresh_token, RefreshToken(DEFAULT_SCOPE, org.zgid)) for org in ORGS.values()
        )

    def grant(
        self, request: SandboxRequest, record: RefreshToken, refresh_token: str, *, new: bool
    ) -> SandboxResponse:
        """The refresh token is never rotated: only a redeemed code answers with one."""
        if not new and self._too_many_tokens(refresh_token):
            self.count("token_requests_refused")
            return oauth_error(
                400,
                "Access Denied",
                "You have made too many requests continuously. Please try again after some time.",
            )
        body: dict[str, Any] = {
            "access_token": self.mint_access_token(scope=record.scope, owner=record.owner)
        }
        if new:
            body["refresh_token"] = refresh_token
        body.update(
            scope=record.scope,
            api_domain=self.api_domain or self._accounts_url(request),
            token_type="Bearer",
            expires_in=self.access_token_ttl,
        )
        return json_response(200, body)

    def _too_many_tokens(self, refresh_token: str) -> bool:
        """More than ``tokens_per_window`` access tokens for one refresh token in ten minutes; else
        this one is counted."""
        now = self.now()
        minted = self._minted.setdefault(refresh_token, deque())
        while minted and minted[0] <= now - TOKEN_WINDOW_SECONDS:
            minted.popleft()
        if len(minted) >= self.tokens_per_window:
            return True
        minted.append(now)
        return False

    # -- API

    def _org(self, request: SandboxRequest) -> SandboxOrg:
        zgid = self._org_of(request)
        if zgid is None:  # preflight let it through, so the token was valid a moment ago
            raise ApiError(401, "INVALID_TOKEN", "invalid oauth token")
        return ORGS[zgid]

    @route("GET", r"^/crm/v[^/]+/org$")
    def get_org(self, request: SandboxRequest) -> SandboxResponse:
        org = self._org(request)
        body = {
            "id": org.id,
            "zgid": org.zgid,
            "company_name": org.company_name,
            "domain_name": org.domain_name,
            "primary_email": f"admin@{org.domain_name}.example",
            "country": org.country,
            "time_zone": org.time_zone,
            "currency": org.currency_name,
            "iso_code": org.iso_code,
            "currency_symbol": org.currency_symbol,
            "currency_locale": "en_IN" if org.time_zone == "Asia/Kolkata" else "de_DE",
            "mc_status": org.multi_currency,
            "type": "production",
            "license_details": {
                "paid": org.edition != "free",
                "paid_type": org.edition,
                "users_license_purchased": org.users,
                "portal_users_license_purchased": 0,
                "paid_expiry": None,
                "trial_type": None,
                "trial_expiry": None,
            },
        }
        return json_response(200, {"org": [body]})

    @route("GET", r"^/crm/v[^/]+/settings/fields$")
    def get_fields(self, request: SandboxRequest) -> SandboxResponse:
        org = self._org(request)
        module = request.arg("module")
        if not module:
            return zoho_error(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                              {"param_name": "module"})  # fmt: skip
        if module not in SERVED_MODULES:
            return zoho_error(
                400, "INVALID_MODULE", "the module name given seems to be invalid", {"param_name": "module"}
            )
        fields = [f for f in layout(org, module) if f["api_name"] not in self.removed_fields]
        return json_response(200, {"fields": fields})

    @route("GET", r"^/crm/v[^/]+/(?P<module>(?!org$)[A-Za-z_]+)$")
    def get_records(self, request: SandboxRequest) -> SandboxResponse:
        try:
            return self._records(request, request.path_params["module"])
        except ApiError as exc:
            return exc.response()

    def _records(self, request: SandboxRequest, module: str) -> SandboxResponse:
        org = self._org(request)
        if module not in STANDARD_MODULES:
            raise ApiError(
                400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": 0}
            )
        fields = self._fields_param(request, org, module)
        removed = [name for name in fields if name in self.removed_fields]
        if removed:
            raise ApiError(
                400, "INVALID_DATA", "invalid data", {"api_name": removed[0], "param_name": "fields"}
            )
        per_page = self._per_page(request)
        listing = Listing(
            module,
            self._choice(request, "sort_by", ("id", "Created_Time", "Modified_Time"), "id"),
            self._choice(request, "sort_order", ("asc", "desc"), "desc"),
            self._choice(request, "converted", ("true", "false", "both"), "false"),
            self._since(request),
        )
        offset = self._offset(request, org, listing, per_page)
        records = org_data(org.zgid, self.today()).module(module) if module in SERVED_MODULES else ()
        if not records:
            return _empty(204)
        selected = select(records, listing)
        if not selected and listing.since is not None:
            return _empty(304)
        page = page_of(selected, offset, per_page)
        if not page.items:
            return _empty(204)
        data = [render(org, module, stored, fields) for stored in page.items]
        data = self._maybe_malform(request.path, data)
        self.count(f"served:{org.zgid}:{module}", len(data))
        return json_response(200, {"data": data, "info": self._info(org, listing, page)})

    @route("GET", r"^/crm/v[^/]+/(?P<module>[A-Za-z_]+)/actions/count$")
    def get_count(self, request: SandboxRequest) -> SandboxResponse:
        """``{"count": n}``: the module's records, narrowed by ``criteria`` on their created or
        modified time (the only fields the fake searches) and, for leads, ``converted``."""
        try:
            org = self._org(request)
            module = request.path_params["module"]
            if module not in STANDARD_MODULES:
                raise ApiError(
                    400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": 0}
                )
            conditions = _criteria(request.arg("criteria"))
            converted = self._choice(request, "converted", ("true", "false", "both"), "false")
        except ApiError as exc:
            return exc.response()
        records = org_data(org.zgid, self.today()).module(module) if module in SERVED_MODULES else ()
        chosen = select(records, Listing(module, "id", "asc", converted, None))
        count = sum(1 for stored in chosen if all(keep(stored) for keep in conditions))
        return json_response(200, {"count": count})

    def _info(self, org: SandboxOrg, listing: Listing, page: Page[Stored]) -> dict[str, Any]:
        expiry = self.now() + PAGE_TOKEN_TTL

        def token(offset: int | None) -> str | None:
            return None if offset is None else self._page_token(org, listing, offset, expiry)

        return {
            "per_page": page.size,
            "next_page_token": token(page.next_offset),
            "count": len(page.items),
            "sort_by": listing.sort_by,
            "page": page.number,
            "previous_page_token": token(page.previous_offset),
            "page_token_expiry": stamp(org, int(expiry)),
            "sort_order": listing.sort_order,
            "more_records": page.next_offset is not None,
        }

    # -- parameters

    @staticmethod
    def _fields_param(request: SandboxRequest, org: SandboxOrg, module: str) -> list[str]:
        raw = request.arg("fields")
        if not raw:
            raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                           {"param_name": "fields"})  # fmt: skip
        names = list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
        if len(names) > MAX_FIELDS:
            raise ApiError(
                400, "LIMIT_EXCEEDED", "fields limit exceeded", {"param_name": "fields", "limit": MAX_FIELDS}
            )
        known = field_names(org, module) | {"id"}
        for name in names:
            if name not in known:
                raise ApiError(
                    400, "INVALID_DATA", "invalid data", {"api_name": name, "param_name": "fields"}
                )
        return [name for name in names if name != "id"]

    @staticmethod
    def _per_page(request: SandboxRequest) -> int:
        raw = request.arg("per_page", str(MAX_PER_PAGE)) or ""
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PER_PAGE:
            raise ApiError(
                400, "INVALID_DATA", "invalid data", {"param_name": "per_page", "maximum": MAX_PER_PAGE}
            )
        return int(raw)

    @staticmethod
    def _choice(request: SandboxRequest, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = request.arg(name, default) or default
        if value not in allowed:
            raise ApiError(
                400, "INVALID_DATA", "invalid data", {"param_name": name, "supported_values": list(allowed)}
            )
        return value

    @staticmethod
    def _since(request: SandboxRequest) -> datetime | None:
        raw = request.headers.get("If-Modified-Since")
        if raw is None:
            return None
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            try:
                parsed = parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ApiError(400, "INVALID_DATA", "invalid data", {"header_name": "If-Modified-Since"})
        return parsed

    def _offset(self, request: SandboxRequest, org: SandboxOrg, listing: Listing, per_page: int) -> int:
        page_raw, token = request.arg("page"), request.arg("page_token")
        if page_raw is not None and token is not None:
            raise ApiError(400, "AMBIGUITY_DURING_PROCESSING", "page and page_token cannot be used together",
                           {"ambiguity_due_to": ["page", "page_token"]})  # fmt: skip
        if token is not None:
            if self.faults.take("expire_page_token", request.path) is not None:
                raise ApiError(
                    400, "EXPIRED_VALUE", "the page_token has expired", {"param_name": "page_token"}
                )
            return self._token_offset(token, org, listing)
        page = page_raw or "1"
        if not page.isdigit() or int(page) < 1:
            raise ApiError(400, "INVALID_DATA", "invalid data", {"param_name": "page"})
        if int(page) * per_page > DISCRETE_LIMIT:
            raise ApiError(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                           "You can only get the first 2000 records without using page_token param.",
                           {"limit": DISCRETE_LIMIT})  # fmt: skip
        return (int(page) - 1) * per_page

    # -- page tokens: signed, bound to the listing, valid 24 hours

    def _page_token(self, org: SandboxOrg, listing: Listing, offset: int, expiry: float) -> str:
        payload = json.dumps(
            {"b": listing.binding(org), "o": offset, "e": int(expiry)}, separators=(",", ":")
        )
        raw = payload.encode()
        signature = hmac.new(self._secret, raw, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(raw + signature).decode().rstrip("=")

    def _token_offset(self, token: str, org: SandboxOrg, listing: Listing) -> int:
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            raw, signature = blob[:-12], blob[-12:]
            valid = hmac.compare_digest(hmac.new(self._secret, raw, hashlib.sha256).digest()[:12], signature)
            payload = json.loads(raw) if valid else None
        except (ValueError, TypeError):
            payload = None
        if not isinstance(payload, dict):
            raise ApiError(400, "INVALID_DATA", "invalid data", {"param_name": "page_token"})
        if payload.get("b") != listing.binding(org):
            raise ApiError(400, "TOKEN_BOUND_DATA_MISMATCH", "the page_token does not belong to this request",
                           {"param_name": "page_token"})  # fmt: skip
        if self.now() >= float(payload.get("e", 0)):
            raise ApiError(400, "EXPIRED_VALUE", "the page_token has expired", {"param_name": "page_token"})
        return int(payload["o"])

    def _maybe_malform(self, path: str, data: list[Any]) -> list[Any]:
        fault = self.faults.take("malformed", path)
        if fault is None:
            return data
        index = int(fault.get("index", len(data) // 2)) % len(data)
        data[index] = _MALFORMATIONS[str(fault.get("variant", "bad_datetime"))](data[index])
        return data

"""The LinkedIn Marketing API fake: OAuth, the version and protocol headers, ad accounts, campaigns and
analytics (see the package's docstring for what it imitates)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar, Final

from sandbox.core import BASE_FAULT_KINDS, SandboxRequest, SandboxResponse, json_response, route
from sandbox.linkedin_ads.catalogue import ACCOUNTS, ORGANIZATION_ID, SandboxCampaign, epoch_ms
from sandbox.linkedin_ads.queries import (
    ParamError,
    analytics_buckets,
    campaign_search,
    page_token,
    parse_analytics_query,
    render_element,
)
from sandbox.oauth import OAuthApi, OAuthSpec, RefreshToken, Refusal, TokenRefused, bearer_token
from sandbox.paging import page_of
from sandbox.restatements import RestatingApi

SANDBOX_CLIENT_ID: Final = "sandbox-linkedin-client"
SANDBOX_CLIENT_SECRET: Final = "sandbox-linkedin-secret"
DEMO_REFRESH_TOKEN: Final = "sandbox-li-refresh-demo"
# The demo's second account is connected with a grant that ends soon, so Sync health has an
# authorization to forecast: its year started DEMO_EXPIRING_DAYS_LEFT days short of a full one.
DEMO_EXPIRING_REFRESH_TOKEN: Final = "sandbox-li-refresh-demo-expiring"
DEMO_EXPIRING_DAYS_LEFT: Final = 12

ACCESS_TOKEN_TTL: Final = 5_184_000  # 60 days
REFRESH_TOKEN_TTL: Final = 31_536_000  # 365 days
AUTHORIZATION_CODE_TTL: Final = 1_800
DEFAULT_SCOPE: Final = "r_ads,r_ads_reporting"

ROW_CAP: Final = 15_000
VERSION_LIFETIME_MONTHS: Final = 12

# The metrics ``POST /_sandbox/restatements`` can revise (sandbox/restatements.py).
RESTATABLE_METRICS: Final = frozenset(
    {
        "impressions",
        "clicks",
        "costInLocalCurrency",
        "externalWebsiteConversions",
        "externalWebsitePostViewConversions",
        "conversionValueInLocalCurrency",
    }
)
FAULT_KINDS: Final = BASE_FAULT_KINDS | {
    "rate_limit",
    "server_error",
    "expire_token",
    "revoke_refresh",
    "malformed",
    "silent_gap",
    "version_retired",
}

_INVALID_GRANT: Final = Refusal(
    400, "invalid_request", "The provided authorization grant or refresh token is invalid, expired or revoked"
)
_CLIENT: Final = Refusal(401, "invalid_client", "Client authentication failed")
OAUTH: Final = OAuthSpec(
    client_id=SANDBOX_CLIENT_ID,
    client_secret=SANDBOX_CLIENT_SECRET,
    authorize_path=r"^/oauth/v2/authorization$",
    token_path=r"^/oauth/v2/accessToken$",
    token_route="access_token",
    new_code=lambda: "sandbox-li-code-" + secrets.token_urlsafe(18),
    new_refresh_token=lambda: "sandbox-li-refresh-" + secrets.token_urlsafe(24),
    code_ttl=AUTHORIZATION_CODE_TTL,
    default_scope=DEFAULT_SCOPE,
    scope_delimiter=",",
    grant_type_checked_first=True,
    refusals={
        "missing_parameter": Refusal(400, "invalid_request", 'A required parameter "{name}" is missing'),
        "unknown_client": _CLIENT,
        "response_type": Refusal(400, "unsupported_response_type", "Only response_type=code is supported"),
        "not_form": Refusal(400, "invalid_request", "The request must be form-encoded"),
        "no_grant_type": Refusal(400, "invalid_request", 'A required parameter "grant_type" is missing'),
        "grant_type": Refusal(400, "unsupported_grant_type", "Grant type {grant_type} is not supported"),
        "client_authentication": _CLIENT,
        "refresh_token": _INVALID_GRANT,
        "code": _INVALID_GRANT,
    },
)

_MALFORMATIONS: Final[Mapping[str, Callable[[dict[str, Any]], None]]] = {
    "missing_pivot_values": lambda element: element.pop("pivotValues", None),
    "non_numeric_impressions": lambda element: element.__setitem__("impressions", "abc"),
    "non_numeric_cost": lambda element: element.__setitem__("costInLocalCurrency", "12.5O"),
}


class LinkedInAdsSandbox(RestatingApi, OAuthApi):
    """The LinkedIn Marketing API fake. Options are described on :func:`create_app`."""

    platform: ClassVar[str] = "linkedin_ads"
    fault_kinds: ClassVar[frozenset[str]] = FAULT_KINDS
    oauth: ClassVar[OAuthSpec] = OAUTH
    restatable_metrics: ClassVar[frozenset[str]] = RESTATABLE_METRICS

    def __init__(
        self,
        *,
        access_token_ttl: int = ACCESS_TOKEN_TTL,
        refresh_token_ttl: int = REFRESH_TOKEN_TTL,
        row_cap: int = ROW_CAP,
        clock: Callable[[], float] | None = None,
        unreturned_metrics: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__()
        # Metrics still accepted in ``fields`` but no longer returned (retired in a newer API version,
        # or not reported for this account): left out of every adAnalytics element.
        self.unreturned_metrics = tuple(unreturned_metrics)
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.row_cap = row_cap
        self._clock = clock
        self.reset_state()

    # -- FakeApi hooks

    def env(self, base_url: str) -> dict[str, str]:
        return {
            "LINKEDIN_ADS_API_BASE_URL": base_url,
            "LINKEDIN_ADS_TOKEN_URL": base_url + "/oauth/v2/accessToken",
            "LINKEDIN_ADS_AUTHORIZE_URL": base_url + "/oauth/v2/authorization",
            "LINKEDIN_ADS_CLIENT_ID": SANDBOX_CLIENT_ID,
            "LINKEDIN_ADS_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        }

    def extra_state(self) -> dict[str, Any]:
        return {"tokens": self.token_counts()}

    def validate_fault(self, kind: str, params: Mapping[str, Any]) -> str | None:
        if kind == "malformed" and params.get("variant", "non_numeric_impressions") not in _MALFORMATIONS:
            return f"malformed variant must be one of {', '.join(_MALFORMATIONS)}"
        status = params.get("status", 500)
        if kind == "server_error" and not (isinstance(status, int) and 500 <= status <= 599):
            return "server_error status must be 5xx"
        return super().validate_fault(kind, params)

    def preflight(self, request: SandboxRequest) -> SandboxResponse | None:
        if not request.path.startswith("/rest/"):
            return None
        return self._check_token(request) or self._check_headers(request) or self._injected_failure(request)

    # -- /rest/ request checks

    def _check_token(self, request: SandboxRequest) -> SandboxResponse | None:
        try:
            self.access_token_check(bearer_token(request), fault_path=request.path)
        except TokenRefused as refused:
            if refused.expired:
                return self._unauthorized(
                    65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"
                )
            return self._unauthorized(65600, "INVALID_ACCESS_TOKEN", "Invalid access token")
        return None

    @staticmethod
    def _unauthorized(service_code: int, code: str, message: str) -> SandboxResponse:
        body = {"status": 401, "serviceErrorCode": service_code, "code": code, "message": message}
        return json_response(401, body)

    def _check_headers(self, request: SandboxRequest) -> SandboxResponse | None:
        version = request.headers.get("LinkedIn-Version", "").strip()
        if not version:
            message = (
                "A version must be present. Please specify a version by adding the LinkedIn-Version header."
            )
            return json_response(400, {"status": 400, "code": "VERSION_MISSING", "message": message})
        if not self._version_is_active(version):
            return self._version_inactive(version)
        if request.headers.get("X-Restli-Protocol-Version", "").strip() != "2.0.0":
            message = "This API only speaks Rest.li protocol 2.0.0; send the X-Restli-Protocol-Version: 2.0.0 header."
            return json_response(400, {"status": 400, "code": "ILLEGAL_ARGUMENT", "message": message})
        return None

    def oldest_version(self) -> str:
        """The oldest LinkedIn-Version served for a whole month more: a year old, less a month."""
        today = self.today()
        months = today.year * 12 + today.month - 1 - (VERSION_LIFETIME_MONTHS - 1)
        return f"{months // 12:04d}{months % 12 + 1:02d}"

    def demo_env(self) -> dict[str, str]:
        # The demo speaks the oldest version still served, so Sync health's API radar has a sunset
        # to announce (a year after the version's month, weeks from now).
        return {"LINKEDIN_ADS_API_VERSION": self.oldest_version()}

    def _version_is_active(self, version: str) -> bool:
        match = re.fullmatch(r"(\d{4})(\d{2})(?:\.\d{2})?", version)
        if match is None or not 1 <= int(match.group(2)) <= 12:
            return False
        requested = int(match.group(1)) * 12 + int(match.group(2)) - 1
        today = self.today()
        current = today.year * 12 + today.month - 1
        return current - VERSION_LIFETIME_MONTHS <= requested <= current

    @staticmethod
    def _version_inactive(version: str) -> SandboxResponse:
        message = f"Requested version {version} is not active"
        return json_response(426, {"status": 426, "code": "NONEXISTENT_VERSION", "message": message})

    def _injected_failure(self, request: SandboxRequest) -> SandboxResponse | None:
        if self.faults.take("version_retired", request.path) is not None:
            return self._version_inactive(request.headers.get("LinkedIn-Version", ""))
        if self.faults.take("rate_limit", request.path) is not None:
            message = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."
            body = {"status": 429, "serviceErrorCode": 101, "code": "TOO_MANY_REQUESTS", "message": message}
            return json_response(429, body)
        failure = self.faults.take("server_error", request.path)
        if failure is not None:
            status = int(failure.get("status", 500))
            message = str(failure.get("message", "Internal Server Error"))
            return json_response(
                status, {"status": status, "code": "INTERNAL_SERVER_ERROR", "message": message}
            )
        return None

    @staticmethod
    def _bad_param(error: ParamError) -> SandboxResponse:
        if error.missing:
            return json_response(400, {"message": str(error), "status": 400})
        return json_response(400, {"status": 400, "code": "ILLEGAL_ARGUMENT", "message": str(error)})

    # -- OAuth (the shared authorization server; LinkedIn's refresh token lives a year, counted down)

    def new_access_token(self) -> str:
        return "sandbox-li-access-" + secrets.token_urlsafe(32)

    def seed_tokens(self) -> None:
        self.refresh[DEMO_REFRESH_TOKEN] = RefreshToken(DEFAULT_SCOPE, issued_at=self.now())
        self.refresh[DEMO_EXPIRING_REFRESH_TOKEN] = RefreshToken(
            DEFAULT_SCOPE, issued_at=self._expiring_issued_at()
        )

    def _expiring_issued_at(self) -> float:
        return self.now() - self.refresh_token_ttl + DEMO_EXPIRING_DAYS_LEFT * 86_400

    def grant(
        self, request: SandboxRequest, record: RefreshToken, refresh_token: str, *, new: bool
    ) -> SandboxResponse:
        remaining = self.refresh_token_ttl if new else self._refresh_remaining(refresh_token, record)
        if remaining <= 0:
            return self.refuse("refresh_token")
        body = {
            "access_token": self.mint_access_token(scope=record.scope),
            "expires_in": self.access_token_ttl,
            "refresh_token": refresh_token,
            "refresh_token_expires_in": remaining,
            "scope": record.scope,
        }
        return json_response(200, body)

    def _refresh_remaining(self, token: str, record: RefreshToken) -> int:
        remaining = int(record.issued_at + self.refresh_token_ttl - self.now())
        if remaining <= 0 and token in (DEMO_REFRESH_TOKEN, DEMO_EXPIRING_REFRESH_TOKEN):
            # The demo's tokens never run out: when one's year is over it starts again (the
            # expiring one again DEMO_EXPIRING_DAYS_LEFT days from its end).
            record.issued_at = self.now() if token == DEMO_REFRESH_TOKEN else self._expiring_issued_at()
            remaining = int(record.issued_at + self.refresh_token_ttl - self.now())
        return remaining

    # -- ad accounts and campaigns

    def _access_denied(self, resource: str) -> SandboxResponse:
        message = f"Not enough permissions to access: {resource}"
        return json_response(
            403, {"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED", "message": message}
        )

    @route("GET", r"^/rest/adAccounts/(?P<account_id>\d+)$")
    def ad_account(self, request: SandboxRequest) -> SandboxResponse:
        account = ACCOUNTS.get(request.path_params["account_id"])
        if account is None:
            return self._access_denied(f"adAccounts.GET.{request.path_params['account_id']}")
        body = {
            "id": account.id,
            "name": account.name,
            "currency": account.currency,
            "status": "ACTIVE",
            "type": "BUSINESS",
            "reference": f"urn:li:organization:{ORGANIZATION_ID}",
            "test": False,
        }
        return json_response(200, body)

    @route("GET", r"^/rest/adAccounts/(?P<account_id>\d+)/adCampaigns$")
    def ad_campaigns(self, request: SandboxRequest) -> SandboxResponse:
        account_id = request.path_params["account_id"]
        if account_id not in ACCOUNTS:
            return self._access_denied(f"adAccounts/{account_id}/adCampaigns.FINDER-search")
        try:
            page_size, offset, matches = campaign_search(request.query_string, account_id)
        except ParamError as exc:
            return self._bad_param(exc)
        page = page_of(matches, offset, page_size)
        metadata: dict[str, str] = {}
        if page.next_offset is not None:
            metadata["nextPageToken"] = page_token(account_id, page.next_offset)
        body = {
            "paging": {"start": 0, "count": page_size, "links": []},
            "elements": [_campaign_element(campaign) for campaign in page.items],
            "metadata": metadata,
        }
        return json_response(200, body)

    # -- analytics

    @route("GET", r"^/rest/adAnalytics$")
    def ad_analytics(self, request: SandboxRequest) -> SandboxResponse:
        try:
            query = parse_analytics_query(request.query_string, self.today())
        except ParamError as exc:
            return self._bad_param(exc)
        buckets = analytics_buckets(query, self.restated)
        served = buckets[: self.row_cap]
        elements = self.silent_gap(request.path, [render_element(bucket, query.fields) for bucket in served])
        for element in elements:
            for name in self.unreturned_metrics:
                element.pop(name, None)
        if elements:
            self._maybe_malform(request.path, elements)
        self.count("analytics_rows_served", len(elements))
        self.count("analytics_rows_dropped", len(buckets) - len(served))
        return json_response(200, {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements})

    def _maybe_malform(self, path: str, elements: list[dict[str, Any]]) -> None:
        fault = self.faults.take("malformed", path)
        if fault is None:
            return
        index = int(fault.get("index", len(elements) // 2)) % len(elements)
        _MALFORMATIONS[str(fault.get("variant", "non_numeric_impressions"))](elements[index])


def _money_object(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": format(amount, "f"), "currencyCode": currency}


def _campaign_element(campaign: SandboxCampaign) -> dict[str, Any]:
    schedule: dict[str, int] = {"start": epoch_ms(campaign.start)}
    if campaign.end is not None:
        schedule["end"] = epoch_ms(campaign.end + timedelta(days=1))  # exclusive end
    return {
        "id": campaign.id,
        "account": f"urn:li:sponsoredAccount:{campaign.account_id}",
        "campaignGroup": campaign.group_urn,
        "associatedEntity": f"urn:li:organization:{ORGANIZATION_ID}",
        "name": campaign.name,
        "status": campaign.status,
        "type": campaign.type,
        "costType": campaign.cost_type,
        "objectiveType": campaign.objective,
        "dailyBudget": _money_object(campaign.daily_budget, campaign.currency),
        "unitCost": _money_object(campaign.unit_cost, campaign.currency),
        "runSchedule": schedule,
        "locale": {"country": "US", "language": "en"},
        "test": False,
        "changeAuditStamps": {
            "created": {"time": campaign.created_ms},
            "lastModified": {"time": campaign.last_modified_ms},
        },
        "version": {"versionTag": campaign.version_tag},
    }

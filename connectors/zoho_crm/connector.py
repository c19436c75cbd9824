"""Zoho CRM: leads and deals, read incrementally from the CRM REST API (v8).

Platform facts encoded here (docs/platform-apis.md, section 4):

- Every org lives in one data centre with its own accounts server (``accounts.zoho.com``, ``.eu``,
  ``.in``, ``.com.au``, ...). The connection option ``accounts_server`` names it; the setting
  ``ZOHO_CRM_ACCOUNTS_URL`` overrides it for every connection. Tokens come from
  ``<accounts>/oauth/v2/token`` (or ``ZOHO_CRM_TOKEN_URL``) with the refresh-token grant; the refresh
  token does not rotate, and the token endpoint reports errors with HTTP 200 ``{"error": ...}``
  (``invalid_code``: revoked, so re-authorize) or HTTP 400 ``Access Denied`` when more than ten
  access tokens were asked for within ten minutes (a throttle, not a revocation).
- The API host is the ``api_domain`` of the token answer (``https://www.zohoapis.eu`` ...), unless
  ``ZOHO_CRM_API_BASE_URL`` is set. A refresh that moves it is followed at once.
- Requests carry ``Authorization: Zoho-oauthtoken <token>``; an expired token answers 401
  ``INVALID_TOKEN`` (refreshed once, then retried by the shared client).
- ``GET /crm/v8/{Module}`` needs ``fields`` (at most 50); ``page`` reaches 2,000 records and
  ``page_token`` the rest (see ``paging.py``). ``If-Modified-Since`` limits a listing to records changed
  after the start of the sync window; nothing changed answers 304, nothing at all 204.
- Throttling (24 h credits or concurrent calls) is 429 ``TOO_MANY_REQUESTS`` with no ``Retry-After``:
  the shared backoff applies. Simultaneous calls per org are capped by edition (Free 5 ... Ultimate
  25): ``max_concurrent_requests`` defaults to the Free edition's 5.
- Field API names differ between orgs, so the fields asked for are checked against
  ``GET /crm/v8/settings/fields?module=...`` first; the UTM custom fields' names are options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from connectors.auth import OAuthSpec, TokenSet, refresh_token_set
from connectors.base import (
    ApiVersion,
    BaseConnector,
    Field,
    GrantLifetimes,
    Option,
    Page,
    PlatformTotal,
    StreamSpec,
    Window,
)
from connectors.errors import AuthError, ConnectorError, MalformedResponse, PermanentError, RateLimited
from connectors.http import ErrorPolicy, Response, require_secure_url, safe_json
from connectors.platform_settings import value
from connectors.quota import QuotaTerms
from connectors.zoho_crm import mapping
from connectors.zoho_crm.paging import ZohoRecordsPaginator

DEFAULT_ACCOUNTS_SERVER = "https://accounts.zoho.com"
# Zoho's accounts server per data centre (docs/platform-apis.md, section 4.1). The refresh token and
# the app's secret are sent there, so no other host is accepted as a connection's option.
DATA_CENTRES = (
    ("", "United States (accounts.zoho.com)"),
    ("https://accounts.zoho.eu", "Europe (accounts.zoho.eu)"),
    ("https://accounts.zoho.uk", "United Kingdom (accounts.zoho.uk)"),
    ("https://accounts.zoho.in", "India (accounts.zoho.in)"),
    ("https://accounts.zoho.com.au", "Australia (accounts.zoho.com.au)"),
    ("https://accounts.zoho.jp", "Japan (accounts.zoho.jp)"),
    ("https://accounts.zohocloud.ca", "Canada (accounts.zohocloud.ca)"),
    ("https://accounts.zoho.sa", "Saudi Arabia (accounts.zoho.sa)"),
    ("https://accounts.zoho.com.cn", "China (accounts.zoho.com.cn)"),
)
DEFAULT_API_DOMAIN = "https://www.zohoapis.com"
DEFAULT_MAX_CONCURRENT = 5  # the Free edition's limit; paid editions allow 10 to 25
REFRESHABLE_CODES = {"INVALID_TOKEN", "AUTHENTICATION_FAILURE"}
TOKEN_THROTTLE_ERROR = "Access Denied"


class ZohoErrorPolicy(ErrorPolicy):
    """Zoho's error envelope is ``{"code", "details", "message", "status": "error"}``."""

    platform_name = "Zoho CRM"

    def classify(self, response: Response) -> ConnectorError | None:
        code = self.error_code(response)
        if response.status_code == 401 and code == "OAUTH_SCOPE_MISMATCH":
            return AuthError(
                "Zoho CRM refused the request: the authorization lacks a permission this app needs. "
                "Reconnect the account and accept every requested permission.",
                status=401,
                code=code,
            )
        if response.status_code == 403:
            return PermanentError(
                f"{self.describe(response)}. The connected Zoho user needs read access to leads, deals, "
                "field settings and the organization details.",
                status=403,
                code=code,
            )
        if response.status_code == 400 and code == "EXPIRED_VALUE":
            # A page token outlived its 24 hours: the extract step starts the listing again.
            return MalformedResponse(self.describe(response), status=400, code=code)
        return super().classify(response)

    def is_expired_token(self, response: Response) -> bool:
        return self.error_code(response) in REFRESHABLE_CODES

    def error_code(self, response: Response) -> str | None:
        body = safe_json(response)
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return str(body["code"])
        return None

    def describe(self, response: Response) -> str:
        if response.status_code == 429:
            return (
                "Zoho CRM is throttling this organization (its 24-hour API credits or its limit of "
                "simultaneous calls is used up)"
            )
        code = self.error_code(response)
        text = super().describe(response)
        return f"{text} ({code})" if code and code not in text else text


def records_stream(name: str, dataset: str, fields: Mapping[str, Field]) -> StreamSpec:
    """A module's records: ``GET /crm/v8/{Module}`` sorted by id, ``data`` paged by Zoho's rule."""
    return StreamSpec(
        name,
        dataset,
        fields,
        path=f"/crm/{mapping.API_VERSION}/{mapping.MODULES[name]}",
        params={"sort_by": "id", "sort_order": "asc", **mapping.PARAMS[name]},
        records_path=("data",),
        paginator=lambda _stream: ZohoRecordsPaginator(
            per_page=mapping.PER_PAGE, discrete_limit=mapping.DISCRETE_PAGING_LIMIT
        ),
    )


class Connector(BaseConnector):
    platform = "zoho_crm"
    display_name = "Zoho CRM"
    oauth = OAuthSpec(
        scopes=(
            "ZohoCRM.modules.leads.READ",
            "ZohoCRM.modules.deals.READ",
            "ZohoCRM.settings.fields.READ",
            "ZohoCRM.org.READ",
            # The record count narrowed by criteria (reconciliation, ``platform_totals``) is a search.
            "ZohoSearch.securesearch.READ",
        ),
        extra_authorize_params={"access_type": "offline", "prompt": "consent"},
    )
    streams = (
        records_stream("leads", "crm_lead", mapping.CRM_LEAD),
        records_stream("deals", "crm_deal", mapping.CRM_DEAL),
    )
    account_id_pattern = r"[0-9]{1,20}"
    account_id_format = "the org id (zgid): digits only, as Setup > Company Details shows it"
    auth_scheme = "Zoho-oauthtoken"
    policy = ZohoErrorPolicy()
    min_restatement_days = 1
    min_restatement_source = (
        "records are read by Modified_Time (If-Modified-Since), so any edit is read whatever its age; "
        "one day covers clock skew (Zoho CRM API get-records)"
    )
    max_concurrent_requests = DEFAULT_MAX_CONCURRENT
    account_id_help = "The Zoho CRM organization id (Setup > Company Details)."
    credential_specs = {
        "refresh_token": Option(
            "OAuth refresh token issued by the org's data centre (valid until revoked)", secret=True
        ),
        "access_token": Option("OAuth access token (optional; it lasts one hour)", secret=True),
    }
    option_specs = {
        "accounts_server": Option(
            "The org's Zoho accounts server, e.g. https://accounts.zoho.eu (default https://accounts.zoho.com; "
            "ZOHO_CRM_ACCOUNTS_URL overrides it)",
            label="Data centre",
            choices=DATA_CENTRES,
            primary=True,
        ),
        "utm_source_field": Option("API name of the custom field with the UTM source (default UTM_Source)"),
        "utm_medium_field": Option("API name of the custom field with the UTM medium (default UTM_Medium)"),
        "utm_campaign_field": Option("API name of the custom field with the UTM campaign (default UTM_Campaign)"),
        "max_concurrent_requests": Option(
            "Simultaneous API calls allowed by the org's edition (Free 5, Standard 10, Professional 15, "
            "Enterprise 20, Ultimate 25; default 5)"
        ),
    }

    def __init__(self, **kwargs: Any) -> None:
        self._org: dict[str, Any] | None = None
        self._layout: dict[str, frozenset[str]] = {}
        super().__init__(**kwargs)

    # -- hosts ----------------------------------------------------------------------------------
    def accounts_url(self) -> str:
        configured = str(self.setting("ACCOUNTS_URL") or self.options.get("accounts_server") or "")
        url = (configured or DEFAULT_ACCOUNTS_SERVER).strip().rstrip("/")
        if "://" not in url:
            url = "https://" + url
        if not urlsplit(url).hostname:
            raise PermanentError(f"The Zoho accounts server {configured!r} is not a valid address")
        return url

    def token_url(self) -> str:
        return str(self.setting("TOKEN_URL") or f"{self.accounts_url()}/oauth/v2/token")

    def authorize_url(self) -> str:
        return str(self.setting("AUTHORIZE_URL") or f"{self.accounts_url()}/oauth/v2/auth")


    @classmethod
    def api_version(cls) -> ApiVersion:
        return ApiVersion(mapping.API_VERSION, None, "Zoho has announced no end of service for CRM API v8")

    daily_quota = QuotaTerms(
        unit="credits",
        holder="Zoho CRM organization",
        rolling=True,
        source="Zoho CRM API limits: credits per organization in a rolling 24 hours; a GET of records costs 1",
    )

    @classmethod
    def grant_lifetimes(cls) -> GrantLifetimes:
        # Access tokens live 1 hour; the refresh token lasts until it is revoked
        # (zoho.com/crm/developer/docs/api/v8/refresh.html).
        return GrantLifetimes(timedelta(hours=1), None, "Zoho CRM OAuth: refresh token until revoked")

    def base_url(self) -> str:
        return self._api_base(self.auth.tokens)

    @staticmethod
    def _api_base(tokens: TokenSet) -> str:
        override = str(value("zoho_crm", "API_BASE_URL") or "")
        if override:
            return override.rstrip("/")
        domain = str(tokens.extra.get("api_domain") or "").rstrip("/")
        if not domain:
            return DEFAULT_API_DOMAIN
        require_secure_url(domain)  # the token goes there: HTTPS only (plain HTTP on loopback)
        return domain

    # -- tokens and clients ---------------------------------------------------------------------
    def refresher(self) -> Callable[[TokenSet], TokenSet] | None:
        spec = self.oauth
        if spec is None:
            return None

        def refresh(tokens: TokenSet) -> TokenSet:
            try:
                fresh = refresh_token_set(spec, tokens, token_url=self.token_url())
            except AuthError as exc:
                if exc.code != TOKEN_THROTTLE_ERROR:
                    raise
                raise RateLimited(
                    "Zoho's accounts server refuses new access tokens for a while (at most ten per "
                    "ten minutes)",
                    code=exc.code,
                ) from None
            except PermanentError as exc:
                if exc.code != "invalid_client":
                    raise
                raise PermanentError(
                    f"Zoho's accounts server {self.accounts_url()} rejected this installation's client: "
                    "check ZOHO_CRM_CLIENT_ID and ZOHO_CRM_CLIENT_SECRET, and that the connection's "
                    "accounts_server is the org's data centre (clients are registered per data centre).",
                    code=exc.code,
                ) from None
            self.client.base_url = self._api_base(fresh)
            return fresh

        return refresh

    def concurrency_limit(self) -> int:
        """The org edition's limit, from the connection's ``max_concurrent_requests`` option."""
        raw = self.options.get("max_concurrent_requests") or self.max_concurrent_requests
        try:
            limit = int(raw)
        except (TypeError, ValueError):
            limit = 0
        if limit < 1:
            raise PermanentError(f"max_concurrent_requests must be a positive whole number, not {raw!r}")
        return limit

    def _ensure_api_domain(self) -> None:
        """Before the first call: without a known api_domain the API host is unknown, so refresh."""
        if not self.setting("API_BASE_URL") and not self.auth.tokens.extra.get("api_domain"):
            self.refresh_tokens(force=True)

    # -- endpoints ------------------------------------------------------------------------------
    def org(self) -> dict[str, Any]:
        """The organization behind the token: ids, name, home currency, time zone."""
        if self._org is None:
            self._ensure_api_domain()
            body = self.client.get_json(f"/crm/{mapping.API_VERSION}/org")
            orgs = body.get("org") if isinstance(body, dict) else None
            if not isinstance(orgs, list) or not orgs or not isinstance(orgs[0], dict):
                raise MalformedResponse("Zoho CRM's organization answer has no org")
            self._org = orgs[0]
        return self._org

    def layout_fields(self, module: str) -> frozenset[str]:
        """API names of the module's fields in this org."""
        if module not in self._layout:
            self._ensure_api_domain()
            body = self.client.get_json(
                f"/crm/{mapping.API_VERSION}/settings/fields", params={"module": module}
            )
            fields = body.get("fields") if isinstance(body, dict) else None
            if not isinstance(fields, list):
                raise MalformedResponse(f"Zoho CRM's field list for {module} has no fields")
            self._layout[module] = frozenset(
                str(f["api_name"]) for f in fields if isinstance(f, dict) and f.get("api_name")
            )
        return self._layout[module]

    def utm_fields(self) -> dict[str, str]:
        """Canonical UTM column → the API name of the org's custom field holding it."""
        return {
            column: str(self.options.get(option) or default)
            for column, (option, default) in mapping.UTM_FIELDS.items()
        }

    def requested_fields(self, stream: StreamSpec) -> list[str]:
        """The wanted fields the org's layout has. A missing key field is a PermanentError naming it;
        a missing optional one is a note on the run, and its column loads empty."""
        module = mapping.MODULES[stream.name]
        available = self.layout_fields(module)
        absent = [name for name in mapping.REQUIRED_FIELDS[stream.name] if name not in available]
        if absent:
            raise PermanentError(
                f"Zoho CRM: this org's {module} layout has no field {', '.join(absent)}, which every "
                f"{stream.name[:-1]} record needs. Ask a Zoho CRM admin to restore it (or give the "
                "connected user access to it), then sync again.",
                code="required_field_missing",
            )
        utm = self.utm_fields()
        wanted = [*mapping.FIELDS[stream.name], *utm.values()]
        fields = [name for name in dict.fromkeys(wanted) if name in available]
        if not fields:
            raise PermanentError(f"None of the expected {stream.name} fields exist in this Zoho CRM org")
        missing = [
            name
            for name in dict.fromkeys(wanted)
            if name not in available and name not in mapping.QUIET_FIELDS
        ]
        if missing:
            labels = {
                **mapping.FIELD_LABELS,
                **{name: column.replace("_", " ") for column, name in utm.items()},
            }
            described = ", ".join(f"{name} ({labels.get(name, name)})" for name in missing)
            self.note_once(
                f"Zoho CRM: this org's {module} layout has no field {described}; "
                f"{'that column stays' if len(missing) == 1 else 'those columns stay'} empty for its "
                f"{stream.name}."
            )
        return fields[: mapping.MAX_FIELDS]

    # -- the contract ---------------------------------------------------------------------------
    def check(self) -> str:
        org = self.org()
        known = {str(org.get(key)) for key in ("id", "zgid", "domain_name") if org.get(key)}
        if known and self.account_id not in known:
            raise PermanentError(
                f"This Zoho authorization belongs to org {org.get('zgid') or org.get('id')} "
                f"({org.get('company_name') or 'unnamed'}), not {self.account_id}"
            )
        return str(org.get("company_name") or f"Zoho CRM {self.account_id}")

    def platform_totals(self, window: Window) -> list[PlatformTotal]:
        """Each module's record count (``GET /crm/v8/{Module}/actions/count``) of the records last
        modified within the window's days (UTC), with the listing's own parameters (converted leads
        included), beside the warehouse's records whose modified time falls on those days. Zoho
        counts with a lag of a few minutes; the days compared end before the sync's, so a record
        changed meanwhile moves out of both sides alike."""
        self._ensure_api_domain()
        start = datetime.combine(window.start, time(0, 0), tzinfo=UTC).isoformat()
        end = datetime.combine(window.end + timedelta(days=1), time(0, 0), tzinfo=UTC).isoformat()
        criteria = f"((Modified_Time:greater_equal:{start})and(Modified_Time:less_than:{end}))"
        totals = []
        for stream in self.streams:
            module = mapping.MODULES[stream.name]
            try:
                body = self.client.get_json(
                    f"/crm/{mapping.API_VERSION}/{module}/actions/count",
                    params={"criteria": criteria, **mapping.PARAMS[stream.name]},
                )
            except AuthError as exc:
                if exc.code != "OAUTH_SCOPE_MISMATCH":
                    raise
                raise PermanentError(
                    "Zoho CRM counts records by modification time only with the ZohoSearch.securesearch.READ "
                    "permission, which this connection's authorization does not include (it predates it). "
                    "Reconnect the Zoho CRM account to compare totals; the sync itself is not affected.",
                    status=exc.status,
                    code=exc.code,
                ) from exc
            count = body.get("count") if isinstance(body, dict) else None
            if body is None:  # 204: nothing matches
                count = 0
            if not isinstance(count, int) or isinstance(count, bool):
                raise MalformedResponse(f"Zoho CRM's record count of {module} has no count")
            totals.append(
                PlatformTotal(
                    stream.dataset,
                    PlatformTotal.ROWS,
                    Decimal(count),
                    window_column="modified_time",
                    scope=f"{module} last modified in the window (actions/count)",
                )
            )
        return totals

    def stream_params(self, stream: StreamSpec, window: Window) -> dict[str, Any]:
        """The fields the org's layout has; for deals, the org's home currency is read first."""
        self._ensure_api_domain()
        fields = self.requested_fields(stream)
        self._currency = self._home_currency() if stream.name == "deals" else None
        return {"fields": ",".join(fields)}

    def stream_headers(self, stream: StreamSpec, window: Window) -> dict[str, str]:
        return {"If-Modified-Since": modified_since(window)}

    def page_records(self, stream: StreamSpec, body: Any) -> list[Any]:
        if body is None:  # 204 (no records) or 304 (none changed since If-Modified-Since)
            return []
        return super().page_records(stream, body)

    def on_records(self, stream: StreamSpec, records: list[Any]) -> Page:
        utm = self.utm_fields()
        return [_annotate(record, utm, self._currency) for record in records]

    def _home_currency(self) -> str | None:
        org = self.org()
        code = org.get("iso_code")
        return str(code) if isinstance(code, str) and code else None


def _annotate(record: Any, utm: dict[str, str], currency: str | None) -> Any:
    """Add the UTM values (read from the org's custom fields) and, for deals, the currency."""
    if not isinstance(record, dict):
        return record  # left for the normalizer to quarantine with its reason
    annotated = {**record, "_utm": {column: record.get(name) for column, name in utm.items()}}
    if currency is not None or "Currency" in record:
        annotated["_currency"] = record.get("Currency") or currency
    return annotated


def modified_since(window: Window) -> str:
    """``If-Modified-Since`` for a window: its first day at 00:00 UTC, ISO 8601 with the offset."""
    return datetime.combine(window.start, time(0, 0), tzinfo=UTC).isoformat()

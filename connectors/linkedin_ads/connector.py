"""LinkedIn Ads: daily campaign performance from the Marketing API's adAnalytics finder.

One stream, ``ad_analytics``, feeds the ad performance table. For each sync window the connector
reads the ad account (name, currency) and its campaigns (``pageToken`` paging), then asks
adAnalytics for DAILY rows pivoted by CAMPAIGN. adAnalytics has no paging and silently cuts a
response at 15,000 elements, so windows are sized from the campaign count to stay under the cap,
and a response that reaches the cap is split again (by dates, then by campaigns) rather than
trusted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from connectors.auth import OAuthSpec
from connectors.base import (
    ApiVersion,
    BaseConnector,
    GrantLifetimes,
    Option,
    Page,
    PlatformTotal,
    StreamSpec,
    Window,
)
from connectors.errors import ConnectorError, MalformedResponse, PermanentError
from connectors.http import ErrorPolicy, Response, path_segment, safe_json
from connectors.linkedin_ads import mapping, restli
from connectors.paginators import CursorPaginator
from connectors.quota import QuotaTerms

CAMPAIGNS_PER_ANALYTICS_CALL = 50


class LinkedInErrorPolicy(ErrorPolicy):
    platform_name = "LinkedIn"

    def classify(self, response: Response) -> ConnectorError | None:
        if response.status_code == 426:
            version = response.request.headers.get("LinkedIn-Version", "?") if response.request else "?"
            return PermanentError(
                f"LinkedIn no longer serves API version {version}. Set LINKEDIN_ADS_API_VERSION to an "
                f"active version (YYYYMM; versions are retired about a year after release).",
                status=426,
                code="NONEXISTENT_VERSION",
            )
        if response.status_code == 403:
            return PermanentError(
                f"{self.describe(response)}. The connected LinkedIn member needs a role on this ad account "
                "and the r_ads and r_ads_reporting permissions.",
                status=403,
                code=self.error_code(response),
            )
        return super().classify(response)

    def describe(self, response: Response) -> str:
        body = safe_json(response)
        message = body.get("message", "") if isinstance(body, dict) else ""
        if response.status_code == 429 and "DAY limit" in message:
            # Usually a daily quota (reset at 00:00 UTC), but LinkedIn also answers this way to
            # short bursts; the client backs off a few times before giving up until the next sync.
            return (
                "LinkedIn refused the call under its daily API limit for this app (a burst clears in "
                "moments; a spent daily quota only at 00:00 UTC)"
            )
        return super().describe(response)


class Connector(BaseConnector):
    platform = "linkedin_ads"
    display_name = "LinkedIn Ads"
    # A backfill goes 30 days at a time, the newest first (each slice sized under the row cap).
    backfill_slice_days = 30
    oauth = OAuthSpec(
        scopes=("r_ads", "r_ads_reporting"),
    )
    streams = (StreamSpec("ad_analytics", "ad_performance_daily", mapping.AD_PERFORMANCE_DAILY),)
    account_id_pattern = r"[0-9]{1,19}"
    account_id_format = "digits only, as Campaign Manager shows it (e.g. 508123456)"
    policy = LinkedInErrorPolicy()
    min_restatement_days = 7
    min_restatement_source = (
        "conversions are attributed within post-click and view-through windows of 1, 7, 30 or 90 days; "
        "7 days is the shortest window beyond one day (Fivetran's LinkedIn Ads attribution windows)"
    )
    account_id_help = "The ad account id, as shown in Campaign Manager (digits)."
    credential_specs = {
        "refresh_token": Option(
            "OAuth refresh token (Marketing Developer Platform apps receive one)", secret=True
        ),
        "access_token": Option(
            "OAuth access token (60 days); enough on its own for apps without refresh tokens", secret=True
        ),
    }

    @classmethod
    def api_version(cls) -> ApiVersion:
        """The LinkedIn-Version in use (a setting, YYYYMM): LinkedIn serves a version for one year."""
        name = str(cls.setting("API_VERSION"))
        year, month = int(name[:4]), int(name[4:6])
        return ApiVersion(name, date(year + 1, month, 1), "LinkedIn supports each monthly version for a year")

    daily_quota = QuotaTerms(
        unit="calls",
        holder="LinkedIn app",
        rolling=False,
        source="LinkedIn rate limits: daily application limits per endpoint, reset at 00:00 UTC, numbers shown only in the app's Analytics tab",
    )

    @classmethod
    def quota_label(cls, account_id: str) -> str:
        return f"client id {cls.setting('CLIENT_ID') or '(not set)'}"

    @classmethod
    def grant_lifetimes(cls) -> GrantLifetimes:
        # Access tokens live 60 days, refresh tokens 365 days from the member's authorization: a
        # refresh does not extend it (learn.microsoft.com/linkedin/shared/authentication/programmatic-refresh-tokens).
        return GrantLifetimes(timedelta(days=60), timedelta(days=365), "LinkedIn programmatic refresh tokens")

    def base_url(self) -> str:
        base = str(self.setting("API_BASE_URL")).rstrip("/")
        return base.removesuffix("/rest")

    def default_headers(self) -> dict[str, str]:
        return {
            "Accept": "application/json",
            "LinkedIn-Version": str(self.setting("API_VERSION")),
            "X-Restli-Protocol-Version": "2.0.0",
        }

    # -- endpoints ------------------------------------------------------------------------------
    def account(self, campaigns: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The ad account's id, name and currency.

        When the account endpoint is not there (404), the currency is taken from the campaigns'
        money fields, which carry the account currency, and the name stays empty.
        """
        try:
            body = self.client.get_json(f"/rest/adAccounts/{path_segment(self.account_id)}")
        except PermanentError as exc:
            if exc.status != 404:
                raise
            currencies = {
                c["currency"] for c in (campaigns or self.campaigns()).values() if c.get("currency")
            }
            if len(currencies) != 1:
                raise
            return {"id": self.account_id, "name": None, "currency": currencies.pop()}
        if not isinstance(body, dict) or "currency" not in body:
            raise MalformedResponse("LinkedIn's ad account answer has no currency")
        return {
            "id": str(body.get("id", self.account_id)),
            "name": body.get("name"),
            "currency": body["currency"],
        }

    def campaigns(self) -> dict[str, dict[str, Any]]:
        search = "(status:(values:List(" + ",".join(mapping.CAMPAIGN_STATUSES) + ")))"
        path = f"/rest/adAccounts/{path_segment(self.account_id)}/adCampaigns?q=search&search={search}"
        paginator = CursorPaginator(token_path=("metadata", "nextPageToken"), page_size=500)
        found: dict[str, dict[str, Any]] = {}
        for body in self.client.paginate(path, paginator):
            for element in body.get("elements", []) if isinstance(body, dict) else []:
                if isinstance(element, dict) and "id" in element:
                    found[str(element["id"])] = {
                        "name": element.get("name"),
                        "status": element.get("status"),
                        "type": element.get("type"),
                        "currency": _money_currency(element),
                    }
        return found

    def analytics(self, window: Window, campaign_ids: list[str] | None = None) -> list[dict[str, Any]]:
        params = [
            ("q", "analytics"),
            ("pivot", "CAMPAIGN"),
            ("timeGranularity", "DAILY"),
            ("dateRange", restli.date_range(window.start, window.end)),
        ]
        if campaign_ids:
            params.append(
                ("campaigns", restli.restli_list(restli.urn("sponsoredCampaign", c) for c in campaign_ids))
            )
        else:
            params.append(("accounts", restli.restli_list([restli.urn("sponsoredAccount", self.account_id)])))
        params.append(("fields", ",".join(mapping.ANALYTICS_FIELDS)))
        body = self.client.get_json("/rest/adAnalytics?" + restli.query_string(params))
        elements = body.get("elements") if isinstance(body, dict) else None
        if not isinstance(elements, list):
            raise MalformedResponse("LinkedIn's adAnalytics answer has no elements list")
        return elements

    # -- reconciliation ---------------------------------------------------------------------------
    def platform_totals(self, window: Window) -> list[PlatformTotal]:
        """The account's own totals over the window: adAnalytics un-pivoted by campaign (pivot
        ACCOUNT, timeGranularity ALL) over the same days and the same account facet as the report,
        so every campaign the report reads, whatever its status, in the account's currency."""
        account = self.account()
        params = [
            ("q", "analytics"),
            ("pivot", "ACCOUNT"),
            ("timeGranularity", "ALL"),
            ("dateRange", restli.date_range(window.start, window.end)),
            ("accounts", restli.restli_list([restli.urn("sponsoredAccount", self.account_id)])),
            ("fields", ",".join(["pivotValues", *mapping.TOTALS_COLUMNS])),
        ]
        body = self.client.get_json("/rest/adAnalytics?" + restli.query_string(params))
        elements = body.get("elements") if isinstance(body, dict) else None
        if not isinstance(elements, list) or not all(isinstance(e, dict) for e in elements):
            raise MalformedResponse("LinkedIn's adAnalytics answer has no elements list")
        scope = f"account {self.account_id} (pivot ACCOUNT, timeGranularity ALL), every campaign"
        totals = []
        for name, column in mapping.TOTALS_COLUMNS.items():
            found = [e[name] for e in elements if e.get(name) is not None]
            if elements and not found:
                continue  # not returned for this account (see the run's note): nothing to compare
            amount = sum((Decimal(str(v)) for v in found), Decimal(0))
            totals.append(PlatformTotal("ad_performance_daily", column, amount, account["currency"], scope=scope))
        return totals

    # -- the contract ---------------------------------------------------------------------------
    def check(self) -> str:
        return str(self.account()["name"] or f"LinkedIn Ads {self.account_id}")

    def extract(self, stream: StreamSpec, window: Window) -> Iterator[Page]:
        """Not a declared stream: adAnalytics has no paging to declare. One answer holds a whole
        window, silently cut at a row cap, so the window is sized from the campaign count and an
        answer at the cap is split and asked again (``_analytics_under_cap``); every element needs
        the account and its campaign, read first."""
        campaigns = self.campaigns()
        account = self.account(campaigns)
        # One shared view per campaign: a page of 15,000 rows adds references, not copies.
        views = {cid: {k: c.get(k) for k in ("name", "status", "type")} for cid, c in campaigns.items()}
        cap = int(self.setting("ANALYTICS_ROW_CAP"))
        days_per_call = max(1, min(30, (cap - 1) // max(1, len(campaigns))))
        lacking: set[str] = set()
        for part in window.split(days_per_call):
            for elements in self._analytics_under_cap(part, sorted(campaigns), cap):
                lacking.update(_absent_metrics(elements))
                page = [self._annotate(e, account, views) for e in elements]
                del elements  # hold one response at a time, not the last one too while fetching the next
                yield page
                del page
        note = absent_metrics_note(lacking)
        if note is not None:
            self.note_once(note)

    def _analytics_under_cap(self, window: Window, campaign_ids: list[str], cap: int) -> Iterator[list[Any]]:
        """Rows for the window; a response at the cap may be cut, so it is split and asked again."""
        stack: list[tuple[Window, list[str] | None]] = [(window, None)]
        while stack:
            part, subset = stack.pop()
            elements = self.analytics(part, subset)
            if len(elements) < cap:
                yield elements
                del elements
            elif part.days > 1:
                first, second = part.halves()
                stack += [(second, subset), (first, subset)]
            else:
                ids = subset if subset is not None else campaign_ids
                if len(ids) <= 1:
                    raise PermanentError(
                        f"LinkedIn returned {len(elements)} rows for one campaign on {part.start}: "
                        "the report cannot be split further without losing rows"
                    )
                size = min(CAMPAIGNS_PER_ANALYTICS_CALL, max(1, len(ids) // 2))
                stack += [(part, ids[i : i + size]) for i in range(0, len(ids), size)][::-1]

    @staticmethod
    def _annotate(element: Any, account: dict[str, Any], views: dict[str, dict[str, Any]]) -> Any:
        """Add the account and the campaign's name, status and type to an analytics element."""
        if not isinstance(element, dict):
            return element  # left for the normalizer to quarantine with its reason
        pivots = element.get("pivotValues")
        campaign_id = (
            restli.urn_id(pivots[0])
            if isinstance(pivots, list) and pivots and isinstance(pivots[0], str)
            else None
        )
        element["_account"] = account
        element["_campaign"] = views.get(campaign_id or "", _NO_CAMPAIGN)
        return element


_NO_CAMPAIGN: dict[str, Any] = {"name": None, "status": None, "type": None}


def _absent_metrics(elements: list[Any]) -> set[str]:
    """The optional metrics some of these analytics elements came without."""
    return {
        name
        for element in elements
        if isinstance(element, dict)
        for name in mapping.OPTIONAL_METRICS
        if element.get(name) is None
    }


def absent_metrics_note(lacking: set[str]) -> str | None:
    """In plain words: which metrics LinkedIn did not return (their columns stay empty)."""
    named = [f"{label} ({name})" for name, label in mapping.OPTIONAL_METRICS.items() if name in lacking]
    if not named:
        return None
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
    return (
        f"LinkedIn Ads did not return {listed} for some days and campaigns (not reported for this "
        f"account or retired in the API version used); {'that column stays' if len(named) == 1 else 'those columns stay'} "
        "empty there."
    )


def _money_currency(campaign: dict[str, Any]) -> str | None:
    for key in ("unitCost", "dailyBudget", "totalBudget"):
        money = campaign.get(key)
        if isinstance(money, dict) and isinstance(money.get("currencyCode"), str):
            return str(money["currencyCode"])
    return None

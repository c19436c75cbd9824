"""The LinkedIn Marketing API fake, driven over real HTTP the way a connector would use it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.core import Faults, SandboxServer
from sandbox.linkedin_ads import (
    ACCESS_TOKEN_TTL,
    ACCOUNTS,
    DEMO_REFRESH_TOKEN,
    REFRESH_TOKEN_TTL,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    LinkedInAdsSandbox,
    campaigns_for,
    expected_daily_rows,
)
from sandbox.serve import create_sandbox, serve_sandboxes
from tests.sandboxes import Clock, Sandboxes, app_of

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
VERSION = "202609"
DAY = 86_400
TIMEOUT = 30

INVALID_GRANT = {
    "error": "invalid_request",
    "error_description": "The provided authorization grant or refresh token is invalid, expired or revoked",
}
EXPIRED_BODY = {
    "status": 401,
    "serviceErrorCode": 65602,
    "code": "EXPIRED_ACCESS_TOKEN",
    "message": "The token used in the request has expired",
}
INVALID_BODY = {
    "status": 401,
    "serviceErrorCode": 65600,
    "code": "INVALID_ACCESS_TOKEN",
    "message": "Invalid access token",
}
REPORT_FIELDS = (
    "pivotValues,dateRange,impressions,clicks,costInLocalCurrency,costInUsd,"
    "externalWebsiteConversions,conversionValueInLocalCurrency"
)



# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW.timestamp())


@pytest.fixture
def server(sandboxes: Sandboxes, clock: Clock) -> SandboxServer:
    return sandboxes.serve("linkedin_ads", clock=clock)


@pytest.fixture
def app(server: SandboxServer) -> LinkedInAdsSandbox:
    return app_of(server, LinkedInAdsSandbox)


@pytest.fixture
def token(server: SandboxServer) -> str:
    return access_token(server)


def token_request(server: SandboxServer, **form: str) -> requests.Response:
    body = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET, **form}
    return requests.post(f"{server.url}/oauth/v2/accessToken", data=body, timeout=TIMEOUT)


def refresh(server: SandboxServer, refresh_token: str = DEMO_REFRESH_TOKEN) -> requests.Response:
    return token_request(server, grant_type="refresh_token", refresh_token=refresh_token)


def access_token(server: SandboxServer) -> str:
    response = refresh(server)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def authorize(server: SandboxServer, redirect_uri: str = "http://localhost/callback") -> str:
    params = {
        "response_type": "code",
        "client_id": SANDBOX_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "state": "xyz",
        "scope": "r_ads r_ads_reporting",
    }
    response = requests.get(
        f"{server.url}/oauth/v2/authorization", params=params, allow_redirects=False, timeout=TIMEOUT
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    answer = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    assert answer["state"] == ["xyz"]
    return answer["code"][0]


def api_get(
    server: SandboxServer,
    path: str,
    token: str | None,
    *,
    version: str | None = VERSION,
    restli: str | None = "2.0.0",
) -> requests.Response:
    """GET ``path`` (with its raw query string, sent as written) with LinkedIn's headers."""
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if version is not None:
        headers["LinkedIn-Version"] = version
    if restli is not None:
        headers["X-Restli-Protocol-Version"] = restli
    return requests.get(f"{server.url}{path}", headers=headers, timeout=TIMEOUT)


def ymd(day: date) -> str:
    return f"(year:{day.year},month:{day.month},day:{day.day})"


def analytics_path(
    *,
    account: str = "508000001",
    start: date = date(2026, 8, 1),
    end: date | None = date(2026, 8, 30),
    pivot: str = "CAMPAIGN",
    granularity: str = "DAILY",
    fields: str | None = REPORT_FIELDS,
    campaigns: list[int] | None = None,
) -> str:
    date_range = f"(start:{ymd(start)},end:{ymd(end)})" if end else f"(start:{ymd(start)})"
    parts = [
        "q=analytics",
        f"pivot={pivot}",
        f"timeGranularity={granularity}",
        f"dateRange={date_range}",
        f"accounts=List(urn%3Ali%3AsponsoredAccount%3A{account})",
    ]
    if campaigns:
        parts.append(
            "campaigns=List(" + ",".join(f"urn%3Ali%3AsponsoredCampaign%3A{c}" for c in campaigns) + ")"
        )
    if fields is not None:
        parts.append(f"fields={fields}")
    return "/rest/adAnalytics?" + "&".join(parts)


def analytics(server: SandboxServer, token: str, **kwargs: Any) -> list[dict[str, Any]]:
    response = api_get(server, analytics_path(**kwargs), token)
    assert response.status_code == 200, response.text
    elements: list[dict[str, Any]] = response.json()["elements"]
    return elements


def as_expected_row(element: dict[str, Any]) -> dict[str, Any]:
    start = element["dateRange"]["start"]
    return {
        "campaign_id": element["pivotValues"][0].rsplit(":", 1)[1],
        "date": date(start["year"], start["month"], start["day"]),
        "impressions": element["impressions"],
        "clicks": element["clicks"],
        "cost": Decimal(element["costInLocalCurrency"]),
        "conversions": element["externalWebsiteConversions"],
        "conversion_value": Decimal(element["conversionValueInLocalCurrency"]),
    }


def add_fault(server: SandboxServer, **spec: Any) -> requests.Response:
    return requests.post(f"{server.url}/_sandbox/faults", json=spec, timeout=TIMEOUT)


def sandbox_state(server: SandboxServer) -> dict[str, Any]:
    state: dict[str, Any] = requests.get(f"{server.url}/_sandbox/state", timeout=TIMEOUT).json()
    return state


# --------------------------------------------------------------------------- OAuth


def test_refresh_returns_the_same_refresh_token_and_its_life_counts_down(
    server: SandboxServer, clock: Clock
) -> None:
    first = refresh(server).json()
    assert first["expires_in"] == ACCESS_TOKEN_TTL == 5_184_000
    assert first["refresh_token"] == DEMO_REFRESH_TOKEN
    assert first["refresh_token_expires_in"] == REFRESH_TOKEN_TTL

    clock.advance(59 * DAY)
    second = refresh(server).json()
    assert second["refresh_token"] == DEMO_REFRESH_TOKEN
    assert second["refresh_token_expires_in"] == REFRESH_TOKEN_TTL - 59 * DAY
    assert second["expires_in"] == ACCESS_TOKEN_TTL
    assert second["access_token"] != first["access_token"]


def test_authorization_code_flow_issues_a_fresh_refresh_token(
    server: SandboxServer, clock: Clock
) -> None:
    code = authorize(server)
    exchanged = token_request(
        server, grant_type="authorization_code", code=code, redirect_uri="http://localhost/callback"
    )
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    assert set(tokens) >= {"access_token", "expires_in", "refresh_token", "refresh_token_expires_in"}
    assert tokens["refresh_token_expires_in"] == REFRESH_TOKEN_TTL

    reused = token_request(
        server, grant_type="authorization_code", code=code, redirect_uri="http://localhost/callback"
    )
    assert (reused.status_code, reused.json()) == (400, INVALID_GRANT)

    clock.advance(300 * DAY)
    later = refresh(server, tokens["refresh_token"]).json()
    assert later["refresh_token"] == tokens["refresh_token"]
    assert later["refresh_token_expires_in"] == REFRESH_TOKEN_TTL - 300 * DAY

    clock.advance(66 * DAY)
    expired = refresh(server, tokens["refresh_token"])
    assert (expired.status_code, expired.json()) == (400, INVALID_GRANT)
    assert refresh(server).status_code == 200  # the demo token stays usable


def test_code_exchange_needs_the_same_redirect_uri(server: SandboxServer) -> None:
    code = authorize(server)
    response = token_request(
        server, grant_type="authorization_code", code=code, redirect_uri="http://evil/cb"
    )
    assert (response.status_code, response.json()) == (400, INVALID_GRANT)


def test_token_endpoint_rejects_a_wrong_client_and_unknown_tokens(server: SandboxServer) -> None:
    wrong_client = requests.post(
        f"{server.url}/oauth/v2/accessToken",
        data={
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": "nope",
        },
        timeout=TIMEOUT,
    )
    assert wrong_client.status_code == 401
    assert wrong_client.json()["error"] == "invalid_client"
    assert "error_description" in wrong_client.json()

    unknown = refresh(server, "not-a-refresh-token")
    assert (unknown.status_code, unknown.json()) == (400, INVALID_GRANT)

    as_json = requests.post(
        f"{server.url}/oauth/v2/accessToken",
        json={"grant_type": "refresh_token", "refresh_token": DEMO_REFRESH_TOKEN},
        timeout=TIMEOUT,
    )
    assert as_json.status_code == 400


def test_access_token_expires_after_its_lifetime(server: SandboxServer, clock: Clock, token: str) -> None:
    assert api_get(server, "/rest/adAccounts/508000001", token).status_code == 200
    clock.advance(ACCESS_TOKEN_TTL)
    expired = api_get(server, "/rest/adAccounts/508000001", token)
    assert (expired.status_code, expired.json()) == (401, EXPIRED_BODY)
    assert api_get(server, "/rest/adAccounts/508000001", access_token(server)).status_code == 200


def test_access_token_lifetime_is_configurable(sandboxes: Sandboxes, clock: Clock) -> None:
    server = sandboxes.serve("linkedin_ads", clock=clock, access_token_ttl=3600)
    body = refresh(server).json()
    assert body["expires_in"] == 3600
    clock.advance(3600)
    response = api_get(server, "/rest/adAccounts/508000001", body["access_token"])
    assert (response.status_code, response.json()) == (401, EXPIRED_BODY)


def test_unknown_or_missing_bearer_token_is_invalid(server: SandboxServer) -> None:
    for token in ("made-up", None):
        response = api_get(server, "/rest/adAccounts/508000001", token)
        assert (response.status_code, response.json()) == (401, INVALID_BODY)


# --------------------------------------------------------------------------- version and protocol headers


def test_missing_version_header(server: SandboxServer, token: str) -> None:
    response = api_get(server, "/rest/adAccounts/508000001", token, version=None)
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "VERSION_MISSING",
        "message": "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
    }


@pytest.mark.parametrize(
    ("version", "status"),
    [
        ("202609", 200),
        ("202509", 200),  # twelve months back is still served
        ("202508", 426),
        ("202401", 426),
        ("202610", 426),  # not released yet
        ("202613", 426),
        ("latest", 426),
    ],
)
def test_version_window(server: SandboxServer, token: str, version: str, status: int) -> None:
    response = api_get(server, "/rest/adAccounts/508000001", token, version=version)
    assert response.status_code == status
    if status == 426:
        assert response.json() == {
            "status": 426,
            "code": "NONEXISTENT_VERSION",
            "message": f"Requested version {version} is not active",
        }


@pytest.mark.parametrize("restli", [None, "1.0.0"])
def test_restli_protocol_header_is_required(server: SandboxServer, token: str, restli: str | None) -> None:
    response = api_get(server, "/rest/adAccounts/508000001", token, restli=restli)
    assert response.status_code == 400
    assert response.json()["status"] == 400


# --------------------------------------------------------------------------- accounts and campaigns


def test_ad_account(server: SandboxServer, token: str) -> None:
    response = api_get(server, "/rest/adAccounts/508000002", token)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == 508000002
    assert body["name"] == "Northwind – DACH"
    assert body["currency"] == "EUR"
    assert (body["status"], body["type"], body["test"]) == ("ACTIVE", "BUSINESS", False)
    assert body["reference"].startswith("urn:li:organization:")


def test_unknown_ad_account_is_forbidden(server: SandboxServer, token: str) -> None:
    response = api_get(server, "/rest/adAccounts/999", token)
    assert response.status_code == 403
    body = response.json()
    assert (body["status"], body["serviceErrorCode"], body["code"]) == (403, 100, "ACCESS_DENIED")
    assert body["message"].startswith("Not enough permissions to access: ")


def test_campaign_element_shape(server: SandboxServer, token: str) -> None:
    response = api_get(server, "/rest/adAccounts/508000002/adCampaigns?q=search&pageSize=50", token)
    body = response.json()
    assert body["paging"] == {"start": 0, "count": 50, "links": []}
    assert "nextPageToken" not in body["metadata"]
    elements = body["elements"]
    assert len(elements) == 40
    assert {e["status"] for e in elements} == {"ACTIVE", "PAUSED", "ARCHIVED", "COMPLETED"}
    for element in elements:
        assert isinstance(element["id"], int)
        assert element["account"] == "urn:li:sponsoredAccount:508000002"
        assert element["campaignGroup"].startswith("urn:li:sponsoredCampaignGroup:")
        assert isinstance(element["name"], str) and element["name"]
        assert element["costType"] in {"CPM", "CPC", "CPV"}
        assert element["type"]
        for money in ("dailyBudget", "unitCost"):
            assert element[money]["currencyCode"] == "EUR"
            Decimal(element[money]["amount"])
            assert isinstance(element[money]["amount"], str)
        assert isinstance(element["runSchedule"]["start"], int)
        assert element["runSchedule"]["start"] > 1_600_000_000_000  # milliseconds
        assert isinstance(element["changeAuditStamps"]["created"]["time"], int)
        assert isinstance(element["changeAuditStamps"]["lastModified"]["time"], int)
        assert isinstance(element["version"]["versionTag"], str)
    completed = [e for e in elements if e["status"] == "COMPLETED"]
    assert all("end" in e["runSchedule"] for e in completed)


def test_campaigns_are_paged_with_next_page_token(server: SandboxServer, token: str) -> None:
    path = "/rest/adAccounts/508000003/adCampaigns?q=search&pageSize=300"
    seen: list[int] = []
    page_sizes: list[int] = []
    next_token: str | None = None
    while True:
        suffix = f"&pageToken={next_token}" if next_token else ""
        body = api_get(server, path + suffix, token).json()
        page_sizes.append(len(body["elements"]))
        seen.extend(element["id"] for element in body["elements"])
        next_token = body["metadata"].get("nextPageToken")
        if next_token is None:
            break
    assert page_sizes == [300, 300, 100]
    assert len(set(seen)) == 700
    assert seen == sorted(seen)


def test_campaign_page_size_defaults_and_limits(server: SandboxServer, token: str) -> None:
    default = api_get(server, "/rest/adAccounts/508000003/adCampaigns?q=search", token).json()
    assert len(default["elements"]) == 100
    assert "nextPageToken" in default["metadata"]
    assert api_get(server, "/rest/adAccounts/508000003/adCampaigns?q=search&pageSize=1000", token).ok
    too_big = api_get(server, "/rest/adAccounts/508000003/adCampaigns?q=search&pageSize=1001", token)
    assert too_big.status_code == 400
    bad_token = api_get(server, "/rest/adAccounts/508000003/adCampaigns?q=search&pageToken=garbage", token)
    assert bad_token.status_code == 400
    no_finder = api_get(server, "/rest/adAccounts/508000003/adCampaigns", token)
    assert no_finder.status_code == 400


def test_campaign_status_search(server: SandboxServer, token: str) -> None:
    path = "/rest/adAccounts/508000002/adCampaigns?q=search&search=(status:(values:List(ACTIVE,PAUSED)))"
    elements = api_get(server, path, token).json()["elements"]
    assert elements
    assert {e["status"] for e in elements} == {"ACTIVE", "PAUSED"}
    expected = [c.id for c in campaigns_for("508000002") if c.status in ("ACTIVE", "PAUSED")]
    assert [e["id"] for e in elements] == expected


def test_unknown_account_campaigns_are_forbidden(server: SandboxServer, token: str) -> None:
    assert api_get(server, "/rest/adAccounts/1/adCampaigns?q=search", token).status_code == 403


# --------------------------------------------------------------------------- adAnalytics


def test_both_pivot_spellings_give_the_same_report(server: SandboxServer, token: str) -> None:
    plain = analytics(server, token, pivot="CAMPAIGN")
    wrapped = analytics(server, token, pivot="(value:CAMPAIGN)")
    assert plain and plain == wrapped


def test_urns_inside_list_must_be_percent_encoded(server: SandboxServer, token: str) -> None:
    raw = analytics_path().replace(
        "List(urn%3Ali%3AsponsoredAccount%3A508000001)", "List(urn:li:sponsoredAccount:508000001)"
    )
    response = api_get(server, raw, token)
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_fully_encoded_restli_structure_is_rejected(server: SandboxServer, token: str) -> None:
    encoded = analytics_path().replace(
        "dateRange=(start:(year:2026,month:8,day:1),end:(year:2026,month:8,day:30))",
        "dateRange=%28start%3A%28year%3A2026%2Cmonth%3A8%2Cday%3A1%29%29",
    )
    assert api_get(server, encoded, token).status_code == 400


def test_counts_are_integers_and_money_is_decimal_strings(server: SandboxServer, token: str) -> None:
    elements = analytics(server, token, account="508000002")
    assert elements
    for element in elements:
        assert list(element) == REPORT_FIELDS.split(",")
        assert isinstance(element["impressions"], int)
        assert isinstance(element["clicks"], int)
        assert isinstance(element["externalWebsiteConversions"], int)
        for money in ("costInLocalCurrency", "costInUsd", "conversionValueInLocalCurrency"):
            assert isinstance(element[money], str)
            Decimal(element[money])
        assert element["clicks"] <= element["impressions"]
        assert element["externalWebsiteConversions"] <= element["clicks"]
        assert element["pivotValues"][0].startswith("urn:li:sponsoredCampaign:")
        assert element["dateRange"]["start"] == element["dateRange"]["end"]
    converted = [e for e in elements if Decimal(e["costInLocalCurrency"]) > 0]
    assert all(Decimal(e["costInUsd"]) > Decimal(e["costInLocalCurrency"]) for e in converted)
    assert any(len(e["costInLocalCurrency"].split(".")[1]) == 3 for e in elements)


def test_without_fields_only_impressions_and_clicks_are_served(server: SandboxServer, token: str) -> None:
    elements = analytics(server, token, fields=None)
    assert elements
    assert all(set(element) == {"impressions", "clicks"} for element in elements)


def test_only_requested_fields_are_served(server: SandboxServer, token: str) -> None:
    elements = analytics(server, token, fields="pivotValues,costInUsd")
    assert elements
    assert all(list(element) == ["pivotValues", "costInUsd"] for element in elements)


def test_all_supported_metrics_can_be_requested(server: SandboxServer, token: str) -> None:
    metrics = (
        "impressions,clicks,landingPageClicks,costInLocalCurrency,costInUsd,externalWebsiteConversions,"
        "externalWebsitePostClickConversions,externalWebsitePostViewConversions,oneClickLeads,"
        "conversionValueInLocalCurrency,approximateMemberReach"
    )
    elements = analytics(server, token, fields=metrics)
    assert elements
    for element in elements:
        assert element["landingPageClicks"] <= element["clicks"]
        assert element["approximateMemberReach"] <= element["impressions"]
        total = element["externalWebsitePostClickConversions"] + element["externalWebsitePostViewConversions"]
        assert element["externalWebsiteConversions"] == total


def test_at_most_twenty_metrics(server: SandboxServer, token: str) -> None:
    metrics = [
        "impressions", "clicks", "landingPageClicks", "costInLocalCurrency", "costInUsd",
        "externalWebsiteConversions", "externalWebsitePostClickConversions",
        "externalWebsitePostViewConversions", "oneClickLeads", "oneClickLeadFormOpens",
        "conversionValueInLocalCurrency", "approximateMemberReach", "likes", "comments", "shares",
        "follows", "reactions", "otherEngagements", "totalEngagements", "companyPageClicks", "videoViews",
    ]  # fmt: skip
    assert len(metrics) == 21
    twenty = ",".join(["pivotValues", "dateRange", *metrics[:20]])
    assert api_get(server, analytics_path(fields=twenty), token).status_code == 200
    too_many = api_get(server, analytics_path(fields=",".join(metrics)), token)
    assert too_many.status_code == 400
    assert too_many.json()["status"] == 400


@pytest.mark.parametrize("missing", ["q", "pivot", "timeGranularity", "dateRange", "accounts"])
def test_missing_required_params(server: SandboxServer, token: str, missing: str) -> None:
    path, query = analytics_path().split("?")
    kept = [part for part in query.split("&") if not part.startswith(f"{missing}=")]
    response = api_get(server, path + "?" + "&".join(kept), token)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert body["message"]


def test_end_date_is_inclusive_and_optional(server: SandboxServer, token: str, clock: Clock) -> None:
    inclusive = analytics(server, token, start=date(2026, 8, 1), end=date(2026, 8, 2))
    assert {(e["dateRange"]["start"]["day"]) for e in inclusive} == {1, 2}

    open_ended = analytics(server, token, start=date(2026, 9, 10), end=None)
    days = {e["dateRange"]["start"]["day"] for e in open_ended}
    assert max(days) == 15  # runs up to the sandbox's today
    assert open_ended == analytics(server, token, start=date(2026, 9, 10), end=date(2026, 9, 15))


def test_total_granularity_sums_the_days(server: SandboxServer, token: str) -> None:
    daily = analytics(server, token)
    totals = analytics(server, token, granularity="ALL")
    assert len(totals) == len({e["pivotValues"][0] for e in daily})
    for element in totals:
        assert element["dateRange"] == {
            "start": {"year": 2026, "month": 8, "day": 1},
            "end": {"year": 2026, "month": 8, "day": 30},
        }
        days = [e for e in daily if e["pivotValues"] == element["pivotValues"]]
        assert element["impressions"] == sum(e["impressions"] for e in days)
        assert Decimal(element["costInLocalCurrency"]) == sum(Decimal(e["costInLocalCurrency"]) for e in days)


def test_served_rows_equal_expected_daily_rows(server: SandboxServer, token: str) -> None:
    for account in ("508000001", "508000002"):
        start, end = date(2026, 7, 20), date(2026, 8, 18)
        served = [as_expected_row(e) for e in analytics(server, token, account=account, start=start, end=end)]
        expected = expected_daily_rows(account, start, end)
        assert served == expected
        assert len({row["date"] for row in expected}) == 30


def test_campaign_facet_narrows_the_report(server: SandboxServer, token: str) -> None:
    chosen = [c.id for c in campaigns_for("508000003")[:50]]
    served = [as_expected_row(e) for e in analytics(server, token, account="508000003", campaigns=chosen)]
    expected = [
        row
        for row in expected_daily_rows("508000003", date(2026, 8, 1), date(2026, 8, 30))
        if int(row["campaign_id"]) in chosen
    ]
    assert served == expected


def test_idle_days_and_idle_accounts_are_omitted(server: SandboxServer, token: str) -> None:
    rows = expected_daily_rows("508000001", date(2026, 8, 1), date(2026, 8, 30))
    delivering = {c.id for c in campaigns_for("508000001") if c.runs_on(date(2026, 8, 15))}
    assert len(rows) < 30 * len(delivering)  # some campaign-days had no activity
    assert analytics(server, token, account="508000004") == []
    assert expected_daily_rows("508000004", date(2026, 8, 1), date(2026, 8, 30)) == []


def test_no_data_before_a_campaign_starts(server: SandboxServer, token: str) -> None:
    late_starter = next(
        c
        for c in campaigns_for("508000003")
        if date(2026, 1, 10) <= c.start <= date(2026, 12, 1) and c.active
    )
    window = (late_starter.start - timedelta(days=5), late_starter.start + timedelta(days=5))
    elements = analytics(
        server, token, account="508000003", start=window[0], end=window[1], campaigns=[late_starter.id]
    )
    dates = [as_expected_row(e)["date"] for e in elements]
    assert dates and min(dates) >= late_starter.start
    path = "/rest/adAccounts/508000003/adCampaigns?q=search&pageSize=1000"
    element = next(e for e in api_get(server, path, token).json()["elements"] if e["id"] == late_starter.id)
    start_ms = element["runSchedule"]["start"]
    assert datetime.fromtimestamp(start_ms / 1000, tz=UTC).date() == late_starter.start


def test_big_reports_are_silently_truncated_at_the_row_cap(server: SandboxServer, token: str) -> None:
    expected = expected_daily_rows("508000003", date(2026, 8, 1), date(2026, 8, 30))
    assert len(expected) > 15_000
    response = api_get(server, analytics_path(account="508000003"), token)
    body = response.json()
    assert response.status_code == 200
    assert len(body["elements"]) == 15_000
    assert "metadata" not in body and body["paging"]["links"] == []
    assert [as_expected_row(e) for e in body["elements"]] == expected[:15_000]
    counters = sandbox_state(server)["counters"]
    assert counters["analytics_rows_served"] == 15_000
    assert counters["analytics_rows_dropped"] == len(expected) - 15_000


def test_row_cap_is_configurable(sandboxes: Sandboxes, clock: Clock) -> None:
    server = sandboxes.serve("linkedin_ads", clock=clock, row_cap=25)
    assert len(analytics(server, access_token(server))) == 25


def test_numbers_are_the_same_in_another_process() -> None:
    def digest(rows: list[dict[str, Any]]) -> str:
        return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()

    here = digest(expected_daily_rows("508000002", date(2026, 8, 1), date(2026, 8, 30)))
    script = (
        "import hashlib, json; from datetime import date;"
        "from sandbox.linkedin_ads import expected_daily_rows as e;"
        "rows = e('508000002', date(2026, 8, 1), date(2026, 8, 30));"
        "print(hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest())"
    )
    there = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    assert there == here


def test_concurrent_requests(server: SandboxServer, token: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: analytics(server, token), range(8)))
    assert all(result == results[0] for result in results)


# --------------------------------------------------------------------------- faults


def test_rate_limit_fault_has_no_retry_after(server: SandboxServer, token: str) -> None:
    assert add_fault(server, kind="rate_limit", times=2, after=1).status_code == 201
    assert api_get(server, "/rest/adAccounts/508000001", token).status_code == 200
    for _ in range(2):
        limited = api_get(server, "/rest/adAccounts/508000001", token)
        assert limited.status_code == 429
        assert "Retry-After" not in limited.headers
        assert limited.json() == {
            "status": 429,
            "serviceErrorCode": 101,
            "code": "TOO_MANY_REQUESTS",
            "message": "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        }
    assert api_get(server, "/rest/adAccounts/508000001", token).status_code == 200


def test_fault_path_scoping(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="server_error", path="/rest/adAnalytics")
    assert api_get(server, "/rest/adAccounts/508000001", token).status_code == 200
    failed = api_get(server, analytics_path(), token)
    assert failed.status_code == 500
    assert failed.json()["status"] == 500
    assert api_get(server, analytics_path(), token).status_code == 200


def test_server_error_status_is_configurable(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="server_error", status=503)
    assert api_get(server, "/rest/adAccounts/508000001", token).status_code == 503


def test_expire_token_fault_expires_the_token_for_good(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="expire_token")
    for _ in range(2):
        response = api_get(server, "/rest/adAccounts/508000001", token)
        assert (response.status_code, response.json()) == (401, EXPIRED_BODY)
    assert api_get(server, "/rest/adAccounts/508000001", access_token(server)).status_code == 200


def test_revoke_refresh_fault_revokes_every_refresh_token(server: SandboxServer) -> None:
    code = authorize(server)
    issued = token_request(
        server, grant_type="authorization_code", code=code, redirect_uri="http://localhost/callback"
    ).json()
    add_fault(server, kind="revoke_refresh")
    for refresh_token in (DEMO_REFRESH_TOKEN, issued["refresh_token"], DEMO_REFRESH_TOKEN):
        response = refresh(server, refresh_token)
        assert (response.status_code, response.json()) == (400, INVALID_GRANT)
    # Access tokens already issued keep working, and a new consent gives a working refresh token.
    assert api_get(server, "/rest/adAccounts/508000001", issued["access_token"]).status_code == 200
    new_code = authorize(server)
    renewed = token_request(
        server, grant_type="authorization_code", code=new_code, redirect_uri="http://localhost/callback"
    ).json()
    assert refresh(server, renewed["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("missing_pivot_values", lambda e: "pivotValues" not in e),
        ("non_numeric_impressions", lambda e: e["impressions"] == "abc"),
        ("non_numeric_cost", lambda e: not e["costInLocalCurrency"].replace(".", "", 1).isdigit()),
    ],
)
def test_malformed_fault_breaks_one_element(
    server: SandboxServer, token: str, variant: str, check: Any
) -> None:
    add_fault(server, kind="malformed", variant=variant, index=3)
    elements = analytics(server, token)
    clean = analytics(server, token)
    assert check(elements[3])
    assert elements[:3] == clean[:3] and elements[4:] == clean[4:]


def test_malformed_fault_rejects_unknown_variants(server: SandboxServer) -> None:
    assert add_fault(server, kind="malformed", variant="nonsense").status_code == 400


def test_silent_gap_fault_drops_elements_from_a_valid_answer(server: SandboxServer, token: str) -> None:
    clean = analytics(server, token)
    assert add_fault(server, kind="silent_gap", drop=3, index=2).status_code == 201
    # An answer too short to lose 3 elements and keep one is left alone; the fault waits for a longer one.
    one = analytics(server, token, pivot="ACCOUNT", granularity="ALL")
    assert len(one) == 1 and server.app.faults.pending()

    gapped = analytics(server, token)

    assert gapped == clean[:2] + clean[5:]
    assert server.app.counters["silent_gap_dropped"] == 3 and not server.app.faults.pending()
    assert analytics(server, token) == clean


def test_silent_gap_fault_refuses_bad_counts(server: SandboxServer) -> None:
    assert add_fault(server, kind="silent_gap", drop=0).status_code == 400
    assert add_fault(server, kind="silent_gap", index=-1).status_code == 400


def test_account_totals_equal_the_sum_of_the_campaign_rows(server: SandboxServer, token: str) -> None:
    fields = "pivotValues,impressions,clicks,costInLocalCurrency"
    daily = analytics(server, token, fields=fields)
    (total,) = analytics(server, token, pivot="ACCOUNT", granularity="ALL", fields=fields)

    assert total["pivotValues"] == ["urn:li:sponsoredAccount:508000001"]
    assert total["impressions"] == sum(e["impressions"] for e in daily) > 0
    assert total["clicks"] == sum(e["clicks"] for e in daily)
    assert Decimal(total["costInLocalCurrency"]) == sum(Decimal(e["costInLocalCurrency"]) for e in daily)


def test_version_retired_fault(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="version_retired")
    response = api_get(server, "/rest/adAccounts/508000001", token)
    assert response.status_code == 426
    assert response.json()["code"] == "NONEXISTENT_VERSION"
    assert api_get(server, "/rest/adAccounts/508000001", token).status_code == 200


def test_delay_fault(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="delay", seconds=0.3)
    started = time.monotonic()
    assert api_get(server, "/rest/adAccounts/508000001", token).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_delay_fault_can_time_out_a_client(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="delay", seconds=1.0)
    with pytest.raises(requests.Timeout):
        requests.get(
            f"{server.url}/rest/adAccounts/508000001",
            headers={"Authorization": f"Bearer {token}", "LinkedIn-Version": VERSION},
            timeout=0.2,
        )


def test_truncated_fault_cuts_the_body(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="truncated", path="/rest/adAnalytics")
    response = api_get(server, analytics_path(), token)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert api_get(server, analytics_path(), token).json()["elements"]


def test_base_faults_also_hit_the_token_endpoint(server: SandboxServer) -> None:
    add_fault(server, kind="truncated", path="/oauth/")
    with pytest.raises(ValueError):
        refresh(server).json()


# --------------------------------------------------------------------------- control endpoints and toolkit


def test_state_counts_requests_tokens_and_rows(server: SandboxServer, token: str) -> None:
    served = analytics(server, token)
    analytics(server, token)
    api_get(server, "/rest/adAccounts/508000001", token)
    state = sandbox_state(server)
    assert state["platform"] == "linkedin_ads"
    assert state["requests"]["ad_analytics"] == 2
    assert state["requests"]["ad_account"] == 1
    assert state["requests"]["access_token"] == 1
    assert state["counters"]["tokens_issued"] == 1
    assert state["counters"]["analytics_rows_served"] == 2 * len(served)


def test_fault_control_endpoint_and_pending_list(server: SandboxServer) -> None:
    created = add_fault(server, kind="rate_limit", times=3, after=2, path="/rest/adAnalytics")
    assert created.status_code == 201
    assert sandbox_state(server)["faults"] == [
        {"kind": "rate_limit", "times": 3, "after": 2, "path": "/rest/adAnalytics"}
    ]
    assert add_fault(server, kind="no_such_fault").status_code == 400
    assert add_fault(server, kind="rate_limit", times=0).status_code == 400
    bad = requests.post(f"{server.url}/_sandbox/faults", data=b"not json", timeout=TIMEOUT)
    assert bad.status_code == 400


def test_reset_clears_faults_counters_and_tokens(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="rate_limit", times=5)
    add_fault(server, kind="revoke_refresh")
    reset = requests.post(f"{server.url}/_sandbox/reset", timeout=TIMEOUT)
    assert reset.status_code == 200
    state = sandbox_state(server)
    assert state["faults"] == []
    assert state["counters"] == {}
    assert state["requests"] == {"control_state": 1}
    stale = api_get(server, "/rest/adAccounts/508000001", token)
    assert (stale.status_code, stale.json()) == (401, INVALID_BODY)
    assert api_get(server, "/rest/adAccounts/508000001", access_token(server)).status_code == 200


def test_unknown_routes_and_methods(server: SandboxServer, token: str) -> None:
    missing = api_get(server, "/rest/adCreatives", token)
    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    wrong_method = requests.get(f"{server.url}/oauth/v2/accessToken", timeout=TIMEOUT)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"


def test_env_points_the_app_at_the_server(server: SandboxServer) -> None:
    assert server.app.env(server.url) == {
        "LINKEDIN_ADS_API_BASE_URL": server.url,
        "LINKEDIN_ADS_TOKEN_URL": f"{server.url}/oauth/v2/accessToken",
        "LINKEDIN_ADS_AUTHORIZE_URL": f"{server.url}/oauth/v2/authorization",
        "LINKEDIN_ADS_CLIENT_ID": "sandbox-linkedin-client",
        "LINKEDIN_ADS_CLIENT_SECRET": "sandbox-linkedin-secret",
    }


def test_catalogue() -> None:
    assert ACCOUNTS["508000001"].currency == "USD"
    assert ACCOUNTS["508000002"].currency == "EUR"
    assert [len(campaigns_for(account)) for account in ACCOUNTS] == [12, 40, 700, 3]
    assert campaigns_for("1") == ()


def test_faults_plan_semantics() -> None:
    faults = Faults()
    faults.add("rate_limit", times=2, after=1, path="/rest/adAnalytics", note="x")
    assert faults.take("rate_limit", "/rest/adAccounts/1") is None  # other path: not counted
    assert faults.take("server_error", "/rest/adAnalytics") is None  # other kind
    assert faults.take("rate_limit", "/rest/adAnalytics") is None  # let through (after=1)
    assert faults.take("rate_limit", "/rest/adAnalytics") == {"note": "x"}
    assert faults.pending() == [
        {"kind": "rate_limit", "times": 1, "after": 0, "path": "/rest/adAnalytics", "note": "x"}
    ]
    assert faults.take("rate_limit", "/rest/adAnalytics") == {"note": "x"}
    assert faults.take("rate_limit", "/rest/adAnalytics") is None
    faults.add("delay", seconds=1)
    faults.clear()
    assert faults.pending() == []
    with pytest.raises(ValueError):
        faults.add("delay", times=0)


def test_serve_sandboxes_skips_platforms_without_a_fake() -> None:
    servers = serve_sandboxes(["linkedin_ads", "no_such_platform"])
    try:
        assert set(servers) == {"linkedin_ads"}
        response = requests.get(f"{servers['linkedin_ads'].url}/_sandbox/state", timeout=TIMEOUT)
        assert response.json()["platform"] == "linkedin_ads"
    finally:
        for running in servers.values():
            running.stop()
    assert isinstance(create_sandbox("linkedin_ads"), LinkedInAdsSandbox)


# --------------------------------------------------------------------------- restate on request


def restate(server: SandboxServer, **spec: Any) -> requests.Response:
    return requests.post(f"{server.url}/_sandbox/restatements", json=spec, timeout=TIMEOUT)


def by_campaign_day(elements: list[dict[str, Any]]) -> dict[tuple[str, date], dict[str, Any]]:
    rows = [as_expected_row(e) for e in elements]
    return {(r["campaign_id"], r["date"]): r for r in rows}


def test_a_restatement_changes_exactly_the_days_and_metric_asked_for(server: SandboxServer, token: str) -> None:
    before = by_campaign_day(analytics(server, token))
    restated_day = date(2026, 8, 10)
    answer = restate(server, days=[restated_day.isoformat()], metric="externalWebsiteConversions", delta=5)
    assert answer.status_code == 201 and answer.json()["restatements"][0]["delta"] == "5"
    after = by_campaign_day(analytics(server, token))
    assert after.keys() == before.keys()
    for key, row in after.items():
        expected = before[key]["conversions"] + (5 if key[1] == restated_day else 0)
        assert row["conversions"] == expected
        assert {k: v for k, v in row.items() if k != "conversions"} == {
            k: v for k, v in before[key].items() if k != "conversions"
        }


def test_a_restatement_by_factor_for_one_campaign(server: SandboxServer, token: str) -> None:
    before = by_campaign_day(analytics(server, token))
    (campaign, day), row = next((k, r) for k, r in sorted(before.items()) if r["cost"] > 0)
    assert restate(server, days=[day.isoformat()], metric="costInLocalCurrency", factor=2, campaign=campaign).status_code == 201
    after = by_campaign_day(analytics(server, token))
    assert after[(campaign, day)]["cost"] == row["cost"] * 2
    assert {k: r["cost"] for k, r in after.items() if k != (campaign, day)} == {
        k: r["cost"] for k, r in before.items() if k != (campaign, day)
    }


def test_a_reset_forgets_the_restatements(server: SandboxServer, token: str) -> None:
    before = by_campaign_day(analytics(server, token))
    restate(server, days=["2026-08-10"], metric="clicks", factor=3)
    requests.post(f"{server.url}/_sandbox/reset", timeout=TIMEOUT)
    assert requests.get(f"{server.url}/_sandbox/restatements", timeout=TIMEOUT).json() == {"restatements": []}
    assert by_campaign_day(analytics(server, access_token(server))) == before


@pytest.mark.parametrize(
    "spec",
    [
        {"metric": "clicks", "factor": 2},
        {"days": ["10 Aug"], "metric": "clicks", "factor": 2},
        {"days": ["2026-08-10"], "metric": "likes", "factor": 2},
        {"days": ["2026-08-10"], "metric": "clicks"},
        {"days": ["2026-08-10"], "metric": "clicks", "factor": 2, "delta": 1},
        {"days": ["2026-08-10"], "metric": "clicks", "factor": -1},
    ],
)
def test_a_restatement_that_makes_no_sense_is_refused(server: SandboxServer, spec: dict[str, Any]) -> None:
    response = restate(server, **spec)
    assert response.status_code == 400
    assert requests.get(f"{server.url}/_sandbox/restatements", timeout=TIMEOUT).json() == {"restatements": []}

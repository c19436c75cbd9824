"""The Zoho CRM fake, driven over real HTTP the way a client would use it: does it match the doc?"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from sandbox.core import SandboxServer
from sandbox.serve import create_sandbox, serve_sandboxes
from sandbox.zoho_crm import (
    DEMO_CONNECTIONS,
    DEMO_ORG,
    DEMO_REFRESH_TOKEN,
    GMBH_REFRESH_TOKEN,
    ORGS,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    ZohoCrmSandbox,
    create_app,
    credit_limit,
    expected_records,
)
from tests.sandboxes import Clock, Sandboxes, app_of

pytestmark = pytest.mark.embedded

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30
LEAD_FIELDS = "Company,Lead_Status,Lead_Source,Campaign_Source,Owner,Created_Time,Modified_Time,UTM_Source"
DEAL_FIELDS = "Deal_Name,Account_Name,Stage,Amount,Currency,Closing_Date,Campaign_Source,Owner,Modified_Time"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(hour=12).timestamp())


@pytest.fixture
def server(sandboxes: Sandboxes, clock: Clock) -> SandboxServer:
    return sandboxes.serve("zoho_crm", clock=clock)


@pytest.fixture
def app(server: SandboxServer) -> ZohoCrmSandbox:
    return app_of(server, ZohoCrmSandbox)


def token_call(server: SandboxServer, **params: str) -> requests.Response:
    body = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET, **params}
    return requests.post(f"{server.url}/oauth/v2/token", data=body, timeout=TIMEOUT)


def access_token(server: SandboxServer, refresh_token: str = DEMO_REFRESH_TOKEN) -> str:
    response = token_call(server, grant_type="refresh_token", refresh_token=refresh_token)
    assert response.status_code == 200 and "error" not in response.json(), response.text
    return str(response.json()["access_token"])


@pytest.fixture
def token(server: SandboxServer) -> str:
    return access_token(server)


def api(
    server: SandboxServer,
    token: str,
    path: str,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    return requests.get(
        f"{server.url}/crm/v8/{path}",
        params=params,
        headers={"Authorization": f"Zoho-oauthtoken {token}", **(headers or {})},
        timeout=TIMEOUT,
    )


def error_of(response: requests.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"code", "details", "message", "status"} and body["status"] == "error", body
    return response.status_code, str(body["code"])


def all_pages(server: SandboxServer, token: str, module: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Walk a listing the documented way: pages up to 2,000 records, then page tokens."""
    records: list[dict[str, Any]] = []
    query: dict[str, Any] = {**params, "page": 1}
    while True:
        response = api(server, token, module, query)
        if response.status_code in (204, 304):
            return records
        body = response.json()
        records += body["data"]
        if not body["info"]["more_records"]:
            return records
        page = body["info"]["page"] + 1
        if "page_token" not in query and page * int(params.get("per_page", 200)) <= 2000:
            query = {**params, "page": page}
        else:
            query = {**params, "page_token": body["info"]["next_page_token"]}


# --------------------------------------------------------------------------- accounts server


def test_refresh_grant_answers_with_api_domain_and_no_new_refresh_token(server: SandboxServer) -> None:
    response = token_call(server, grant_type="refresh_token", refresh_token=DEMO_REFRESH_TOKEN)
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "scope", "api_domain", "token_type", "expires_in"}
    assert body["api_domain"] == server.url and body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert re.fullmatch(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}", body["access_token"])


def test_token_parameters_may_come_in_the_query_string(server: SandboxServer) -> None:
    params = {
        "grant_type": "refresh_token",
        "refresh_token": DEMO_REFRESH_TOKEN,
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
    }
    response = requests.post(f"{server.url}/oauth/v2/token", params=params, timeout=TIMEOUT)
    assert response.status_code == 200 and "access_token" in response.json()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "refresh_token", "refresh_token": "1000.unknown"}, "invalid_code"),
        (
            {"grant_type": "refresh_token", "refresh_token": DEMO_REFRESH_TOKEN, "client_secret": "x"},
            "invalid_client",
        ),
        (
            {"grant_type": "authorization_code", "code": "1000.bad", "redirect_uri": "http://x/cb"},
            "invalid_code",
        ),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
def test_token_errors_arrive_with_http_200(server: SandboxServer, form: dict[str, str], error: str) -> None:
    response = token_call(server, **form)
    assert response.status_code == 200 and response.json() == {"error": error}


def test_revoked_refresh_token_is_invalid_code(server: SandboxServer, app: ZohoCrmSandbox) -> None:
    app.faults.add("revoke_refresh", times=1)
    response = token_call(server, grant_type="refresh_token", refresh_token=DEMO_REFRESH_TOKEN)
    assert response.json() == {"error": "invalid_code"}
    assert app.state()["tokens"]["refresh_revoked"] == len(ORGS)


def test_more_than_ten_tokens_in_ten_minutes_are_refused(server: SandboxServer, clock: Clock) -> None:
    for _ in range(10):
        access_token(server)
    refused = token_call(server, grant_type="refresh_token", refresh_token=DEMO_REFRESH_TOKEN)
    assert refused.status_code == 400 and refused.json()["error"] == "Access Denied"
    assert "too many requests" in refused.json()["error_description"]
    clock.advance(601)
    assert access_token(server)


def test_authorization_code_flow(server: SandboxServer) -> None:
    params = {
        "response_type": "code",
        "client_id": SANDBOX_CLIENT_ID,
        "scope": "ZohoCRM.modules.deals.READ,ZohoCRM.org.READ",
        "redirect_uri": "http://localhost/callback",
        "access_type": "offline",
        "state": "xyz",
    }
    answer = requests.get(
        f"{server.url}/oauth/v2/auth", params=params, allow_redirects=False, timeout=TIMEOUT
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert location.path == "/callback" and query["state"] == "xyz"
    assert query["accounts-server"] == server.url and query["location"] == "in"
    granted = token_call(
        server, grant_type="authorization_code", code=query["code"], redirect_uri="http://localhost/callback"
    ).json()
    assert granted["refresh_token"].startswith("1000.") and granted["api_domain"] == server.url
    assert api(server, granted["access_token"], "org").status_code == 200
    assert error_of(api(server, granted["access_token"], "Leads", {"fields": "Company"})) == (
        401,
        "OAUTH_SCOPE_MISMATCH",
    )
    again = token_call(
        server, grant_type="authorization_code", code=query["code"], redirect_uri="http://localhost/callback"
    )
    assert again.json() == {"error": "invalid_code"}  # a code works once


def test_authorize_refuses_an_unknown_client(server: SandboxServer) -> None:
    params = {"response_type": "code", "client_id": "other", "scope": "x", "redirect_uri": "http://x/cb"}
    answer = requests.get(
        f"{server.url}/oauth/v2/auth", params=params, allow_redirects=False, timeout=TIMEOUT
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client"


# --------------------------------------------------------------------------- authentication


def test_the_zoho_oauthtoken_scheme_is_required(server: SandboxServer, token: str) -> None:
    bearer = requests.get(
        f"{server.url}/crm/v8/org", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )
    assert error_of(bearer) == (401, "AUTHENTICATION_FAILURE")
    assert error_of(requests.get(f"{server.url}/crm/v8/org", timeout=TIMEOUT)) == (
        401,
        "AUTHENTICATION_FAILURE",
    )


def test_access_tokens_expire_after_an_hour(server: SandboxServer, token: str, clock: Clock) -> None:
    assert api(server, token, "org").status_code == 200
    clock.advance(3600)
    response = api(server, token, "org")
    assert error_of(response) == (401, "INVALID_TOKEN")
    assert response.json() == {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }


def test_expire_token_fault_hits_mid_pagination(
    server: SandboxServer, token: str, app: ZohoCrmSandbox
) -> None:
    app.faults.add("expire_token", times=1, after=1, path="/crm/v8/Leads")
    assert api(server, token, "Leads", {"fields": "Company", "page": 1}).status_code == 200
    assert error_of(api(server, token, "Leads", {"fields": "Company", "page": 2})) == (401, "INVALID_TOKEN")
    assert error_of(api(server, token, "org")) == (401, "INVALID_TOKEN")


# --------------------------------------------------------------------------- org and fields


def test_org_details(server: SandboxServer, token: str) -> None:
    body = api(server, token, "org").json()
    assert list(body) == ["org"] and len(body["org"]) == 1
    org = body["org"][0]
    assert org["company_name"] == "Northwind Traders" and org["zgid"] == DEMO_ORG
    assert org["iso_code"] == "USD" and org["time_zone"] == "Asia/Kolkata" and org["mc_status"] is True
    assert org["license_details"]["paid_type"] == "professional"


def test_field_settings(server: SandboxServer, token: str) -> None:
    fields = api(server, token, "settings/fields", {"module": "Deals"}).json()["fields"]
    names = {f["api_name"] for f in fields}
    assert {"Deal_Name", "Amount", "Currency", "UTM_Source", "Modified_Time"} <= names
    utm = next(f for f in fields if f["api_name"] == "UTM_Source")
    assert utm["custom_field"] is True and utm["data_type"] == "text"
    assert error_of(api(server, token, "settings/fields")) == (400, "REQUIRED_PARAM_MISSING")
    assert error_of(api(server, token, "settings/fields", {"module": "Nope"})) == (400, "INVALID_MODULE")


# --------------------------------------------------------------------------- records


def test_record_shapes_and_types(server: SandboxServer, token: str) -> None:
    body = api(server, token, "Deals", {"fields": DEAL_FIELDS, "per_page": 5}).json()
    assert set(body) == {"data", "info"} and len(body["data"]) == 5
    info = body["info"]
    assert info["per_page"] == 5 and info["count"] == 5 and info["page"] == 1 and info["more_records"] is True
    assert info["sort_by"] == "id" and info["sort_order"] == "desc" and info["next_page_token"]
    assert info["previous_page_token"] is None and "+05:30" in info["page_token_expiry"]
    for deal in body["data"]:
        assert isinstance(deal["id"], str) and re.fullmatch(r"\d{19}", deal["id"])
        assert set(deal["Owner"]) == {"name", "id", "email"} and set(deal["Account_Name"]) == {"name", "id"}
        assert deal["Modified_Time"].endswith("+05:30") and re.fullmatch(
            r"\d{4}-\d{2}-\d{2}", deal["Closing_Date"]
        )
        assert deal["Amount"] is None or isinstance(deal["Amount"], int | float)
        assert deal["Currency"] in {"USD", "EUR", "GBP"} and deal["$currency_symbol"] == "$"
        assert "Campaign_Source" in deal and "Probability" not in deal  # only what was asked for


def test_fields_are_mandatory_and_limited(server: SandboxServer, token: str) -> None:
    response = api(server, token, "Leads")
    assert error_of(response) == (400, "REQUIRED_PARAM_MISSING")
    assert response.json()["details"] == {"param_name": "fields"}
    too_many = ",".join(["Company"] * 1 + [f"Field_{n}" for n in range(50)])
    assert error_of(api(server, token, "Leads", {"fields": too_many})) == (400, "LIMIT_EXCEEDED")
    unknown = api(server, token, "Leads", {"fields": "Company,Nope__c"})
    assert error_of(unknown) == (400, "INVALID_DATA") and unknown.json()["details"]["api_name"] == "Nope__c"


def test_per_page_is_at_most_200(server: SandboxServer, token: str) -> None:
    assert error_of(api(server, token, "Leads", {"fields": "Company", "per_page": 201})) == (
        400,
        "INVALID_DATA",
    )
    assert len(api(server, token, "Leads", {"fields": "Company"}).json()["data"]) == 200  # the default


def test_page_reaches_only_the_first_2000_records(server: SandboxServer, token: str) -> None:
    assert api(server, token, "Leads", {"fields": "Company", "page": 10}).status_code == 200
    response = api(server, token, "Leads", {"fields": "Company", "page": 11})
    assert error_of(response) == (400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED")
    assert response.json()["details"] == {"limit": 2000}
    assert error_of(api(server, token, "Leads", {"fields": "Company", "page": 21, "per_page": 100}))[1] == (
        "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    )


def test_page_token_goes_beyond_and_cannot_be_combined_with_page(server: SandboxServer, token: str) -> None:
    params = {"fields": "Company", "converted": "both", "sort_by": "id", "sort_order": "asc"}
    tenth = api(server, token, "Leads", {**params, "page": 10}).json()
    beyond = api(server, token, "Leads", {**params, "page_token": tenth["info"]["next_page_token"]})
    assert beyond.status_code == 200 and beyond.json()["info"]["page"] == 11
    assert int(beyond.json()["data"][0]["id"]) > int(tenth["data"][-1]["id"])
    both = api(server, token, "Leads", {**params, "page": 2, "page_token": tenth["info"]["next_page_token"]})
    assert error_of(both) == (400, "AMBIGUITY_DURING_PROCESSING")


def test_page_tokens_are_bound_signed_and_expire(server: SandboxServer, token: str, clock: Clock) -> None:
    params = {"fields": "Company", "converted": "both"}
    next_token = api(server, token, "Leads", params).json()["info"]["next_page_token"]
    other = api(server, token, "Leads", {**params, "sort_order": "asc", "page_token": next_token})
    assert error_of(other) == (400, "TOKEN_BOUND_DATA_MISMATCH")
    assert error_of(api(server, token, "Leads", {**params, "page_token": next_token[:-3] + "abc"})) == (
        400,
        "INVALID_DATA",
    )
    clock.advance(86_400)
    fresh = access_token(server)
    assert error_of(api(server, fresh, "Leads", {**params, "page_token": next_token})) == (
        400,
        "EXPIRED_VALUE",
    )


def test_walking_every_lead_returns_each_exactly_once(server: SandboxServer, token: str) -> None:
    params = {
        "fields": LEAD_FIELDS,
        "converted": "both",
        "sort_by": "id",
        "sort_order": "asc",
        "per_page": 200,
    }
    records = all_pages(server, token, "Leads", params)
    assert len(records) == ORGS[DEMO_ORG].lead_count == len({r["id"] for r in records}) > 2000
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)


def test_converted_leads_are_left_out_by_default(server: SandboxServer, token: str, clock: Clock) -> None:
    day = datetime.fromtimestamp(clock(), UTC).date()
    everything = expected_records(DEMO_ORG, "Leads", today=day)
    unconverted = expected_records(DEMO_ORG, "Leads", converted="false", today=day)
    assert 0 < len(unconverted) < len(everything)
    params = {"fields": "Company", "sort_by": "id", "sort_order": "asc"}
    default = all_pages(server, token, "Leads", params)
    assert [r["id"] for r in default] == [r["id"] for r in unconverted]
    assert all(r["$converted"] is False for r in default)
    converted = all_pages(server, token, "Leads", {**params, "converted": "true"})
    assert converted and all(r["$converted"] is True for r in converted)
    assert len(default) + len(converted) == len(everything)


def test_if_modified_since_filters_and_304_when_nothing_changed(
    server: SandboxServer, token: str, clock: Clock
) -> None:
    day = datetime.fromtimestamp(clock(), UTC).date()
    since = datetime.combine(day - timedelta(days=5), datetime.min.time(), tzinfo=UTC)
    header = {"If-Modified-Since": since.astimezone(ZoneInfo("Asia/Kolkata")).isoformat()}
    params = {"fields": DEAL_FIELDS, "sort_by": "Modified_Time", "sort_order": "asc"}
    body = api(server, token, "Deals", params, header).json()
    expected = {r["id"] for r in expected_records(DEMO_ORG, "Deals", since=since, today=day)}
    assert {r["id"] for r in body["data"]} == expected and body["info"]["more_records"] is False
    times = [datetime.fromisoformat(r["Modified_Time"]) for r in body["data"]]
    assert times == sorted(times) and all(t > since for t in times)
    future = {"If-Modified-Since": (since + timedelta(days=30)).isoformat()}
    nothing = api(server, token, "Deals", params, future)
    assert nothing.status_code == 304 and nothing.content == b""
    bad = api(server, token, "Deals", params, {"If-Modified-Since": "yesterday"})
    assert error_of(bad) == (400, "INVALID_DATA")


def test_record_count_with_criteria_on_the_modified_time(
    server: SandboxServer, token: str, clock: Clock
) -> None:
    day = datetime.fromtimestamp(clock(), UTC).date()
    start = datetime.combine(day - timedelta(days=20), datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(day - timedelta(days=5), datetime.min.time(), tzinfo=UTC)
    criteria = (
        f"((Modified_Time:greater_equal:{start.isoformat()})and(Modified_Time:less_than:{end.isoformat()}))"
    )
    between = [
        r
        for r in expected_records(DEMO_ORG, "Leads", today=day)
        if start <= datetime.fromisoformat(r["Modified_Time"]) < end
    ]
    assert 0 < len(between) < len(expected_records(DEMO_ORG, "Leads", today=day))

    counted = api(server, token, "Leads/actions/count", {"criteria": criteria, "converted": "both"})

    assert counted.status_code == 200 and counted.json() == {"count": len(between)}
    unconverted = api(server, token, "Leads/actions/count", {"criteria": criteria}).json()["count"]
    assert unconverted == sum(1 for r in between if r["$converted"] is False)
    every_deal = api(server, token, "Deals/actions/count").json()["count"]
    assert every_deal == len(expected_records(DEMO_ORG, "Deals", today=day))
    bad = api(server, token, "Leads/actions/count", {"criteria": "(Company:equals:Acme)"})
    assert error_of(bad) == (400, "INVALID_QUERY")


def test_no_records_is_204_with_an_empty_body(server: SandboxServer) -> None:
    gmbh = access_token(server, GMBH_REFRESH_TOKEN)
    response = api(server, gmbh, "Leads", {"fields": "Company"})
    assert response.status_code == 204 and response.content == b""
    beyond = api(server, gmbh, "Deals", {"fields": "Deal_Name", "page": 5})
    assert beyond.status_code == 204


def test_single_currency_org_has_no_currency_field(server: SandboxServer) -> None:
    gmbh = access_token(server, GMBH_REFRESH_TOKEN)
    assert error_of(api(server, gmbh, "Deals", {"fields": "Deal_Name,Currency"})) == (400, "INVALID_DATA")
    deals = api(server, gmbh, "Deals", {"fields": "Deal_Name,Amount,Modified_Time"}).json()["data"]
    assert deals and all(d["$currency_symbol"] == "€" for d in deals)
    assert all(re.search(r"\+0[12]:00$", d["Modified_Time"]) for d in deals)  # Berlin, with DST


def test_unknown_module_and_version(server: SandboxServer, token: str) -> None:
    assert error_of(api(server, token, "Widgets", {"fields": "Name"})) == (400, "INVALID_MODULE")
    old = requests.get(
        f"{server.url}/crm/v1/org", headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=TIMEOUT
    )
    assert error_of(old) == (404, "INVALID_URL_PATTERN")


# --------------------------------------------------------------------------- throttling and faults


def test_rate_limit_fault_is_a_429_without_retry_after(
    server: SandboxServer, token: str, app: ZohoCrmSandbox
) -> None:
    app.faults.add("rate_limit", times=1, path="/crm/v8/Leads")
    response = api(server, token, "Leads", {"fields": "Company"})
    assert error_of(response) == (429, "TOO_MANY_REQUESTS") and "Retry-After" not in response.headers
    assert api(server, token, "Leads", {"fields": "Company"}).status_code == 200


def test_server_error_fault(server: SandboxServer, token: str, app: ZohoCrmSandbox) -> None:
    app.faults.add("server_error", times=1, path="/crm/v8/Deals")
    assert error_of(api(server, token, "Deals", {"fields": "Stage"})) == (500, "INTERNAL_ERROR")


def test_credits_header_after_half_and_429_when_spent(
    server: SandboxServer, token: str, app: ZohoCrmSandbox
) -> None:
    app.credit_limit = 4
    first = api(server, token, "org")
    assert "X-API-CREDITS-REMAINING" not in first.headers
    second = api(server, token, "org")
    assert second.headers["X-API-CREDITS-REMAINING"] == "2"
    api(server, token, "org")
    api(server, token, "org")
    spent = api(server, token, "org")
    assert error_of(spent) == (429, "TOO_MANY_REQUESTS") and "Retry-After" not in spent.headers
    assert credit_limit(ORGS[DEMO_ORG]) == 56_000 and credit_limit(ORGS["820017733"]) == 5_000


def test_simultaneous_calls_over_the_edition_limit_are_throttled(
    server: SandboxServer, token: str, app: ZohoCrmSandbox
) -> None:
    app.concurrency_limit = 2
    app.faults.add("delay", times=8, path="/crm/v8/org", seconds=0.3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: api(server, token, "org").status_code, range(8)))
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1 and set(statuses) <= {200, 429}
    assert app.state()["peak_in_flight"][DEMO_ORG] > 2


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("bad_datetime", lambda r: r["Modified_Time"] == "2026-02-30T15:26:00+05:30"),
        ("missing_id", lambda r: r["id"] is None),
        ("non_numeric_amount", lambda r: r["Amount"] == "12,500.00"),
        ("not_an_object", lambda r: r == "record unavailable"),
    ],
)
def test_malformed_record_fault(
    server: SandboxServer, token: str, app: ZohoCrmSandbox, variant: str, check: Any
) -> None:
    app.faults.add("malformed", times=1, path="/crm/v8/Deals", variant=variant, index=2)
    data = api(server, token, "Deals", {"fields": "Amount,Modified_Time"}).json()["data"]
    assert check(data[2]) and isinstance(data[1], dict)


def test_truncated_fault_cuts_the_body(server: SandboxServer, token: str, app: ZohoCrmSandbox) -> None:
    app.faults.add("truncated", times=1, path="/crm/v8/Deals")
    with pytest.raises(ValueError):
        api(server, token, "Deals", {"fields": "Stage"}).json()


def test_unknown_fault_variant_is_refused(server: SandboxServer) -> None:
    response = requests.post(
        f"{server.url}/_sandbox/faults", json={"kind": "malformed", "variant": "nope"}, timeout=TIMEOUT
    )
    assert response.status_code == 400


# --------------------------------------------------------------------------- determinism and wiring


def test_data_is_the_same_in_every_process() -> None:
    day = "2026-09-15"
    code = (
        "import hashlib, json; from datetime import date;"
        "from sandbox.zoho_crm import expected_records;"
        f"rows = expected_records('{DEMO_ORG}', 'Leads', today=date.fromisoformat('{day}'));"
        "print(hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    here = expected_records(DEMO_ORG, "Leads", today=datetime.fromisoformat(day).date())
    assert other == hashlib.sha256(json.dumps(here, sort_keys=True).encode()).hexdigest()


def test_modified_times_spread_over_sixty_days() -> None:
    day = datetime(2026, 9, 15, tzinfo=UTC)
    leads = expected_records(DEMO_ORG, "Leads", today=day.date())
    ages = [(day - datetime.fromisoformat(r["Modified_Time"])).days for r in leads]
    assert min(ages) == 0 and max(ages) == 59
    assert sum(age < 30 for age in ages) > 2000


def test_env_points_the_app_at_the_sandbox() -> None:
    env = create_app().env("http://127.0.0.1:9999")
    assert env["ZOHO_CRM_ACCOUNTS_URL"] == "http://127.0.0.1:9999"
    assert env["ZOHO_CRM_API_BASE_URL"] == "" and env["ZOHO_CRM_TOKEN_URL"] == ""
    assert (
        env["ZOHO_CRM_CLIENT_ID"] == SANDBOX_CLIENT_ID
        and env["ZOHO_CRM_CLIENT_SECRET"] == SANDBOX_CLIENT_SECRET
    )


def test_registered_with_the_shared_sandbox_machinery() -> None:
    assert isinstance(create_sandbox("zoho_crm"), ZohoCrmSandbox)
    servers = serve_sandboxes(["zoho_crm"])
    try:
        assert requests.get(f"{servers['zoho_crm'].url}/_sandbox/state", timeout=TIMEOUT).json()[
            "platform"
        ] == ("zoho_crm")
    finally:
        for running in servers.values():
            running.stop()
    assert DEMO_CONNECTIONS[0]["credentials"] == {"refresh_token": DEMO_REFRESH_TOKEN}


def test_a_count_narrowed_by_criteria_needs_the_search_scope(server: SandboxServer) -> None:
    params = {
        "response_type": "code",
        "client_id": SANDBOX_CLIENT_ID,
        "scope": "ZohoCRM.modules.leads.READ",
        "redirect_uri": "http://localhost/callback",
        "state": "s",
    }
    answer = requests.get(
        f"{server.url}/oauth/v2/auth", params=params, allow_redirects=False, timeout=TIMEOUT
    )
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    token = token_call(
        server, grant_type="authorization_code", code=code, redirect_uri="http://localhost/callback"
    ).json()["access_token"]
    criteria = {"criteria": "(Modified_Time:greater_equal:2025-01-01T00:00:00+00:00)"}

    assert api(server, token, "Leads/actions/count").status_code == 200  # a plain count is not a search
    assert error_of(api(server, token, "Leads/actions/count", criteria)) == (401, "OAUTH_SCOPE_MISMATCH")
    assert api(server, access_token(server), "Leads/actions/count", criteria).status_code == 200

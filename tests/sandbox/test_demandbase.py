"""The Demandbase uapi fake, driven over real HTTP the way a connector would use it."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.core import SandboxServer
from sandbox.demandbase import (
    ACCESS_TOKEN_TTL,
    ACCOUNT_FIELDS,
    DEMO_CONNECTIONS,
    EMPTY_CLIENT_ID,
    EMPTY_CLIENT_SECRET,
    EXPORT_ONLY_CLIENT_ID,
    EXPORT_ONLY_CLIENT_SECRET,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    DemandbaseSandbox,
    accounts_for,
    expected_accounts,
    expected_intent_rows,
    page_token,
)
from tests.sandboxes import Clock, Sandboxes, app_of

pytestmark = pytest.mark.embedded

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 9, 16, 12, 0, tzinfo=UTC)  # a Wednesday
TODAY = NOW.date()
TIMEOUT = 30
INTENT = "/data/intent/v1/companies/intent/query"
EXPORT = "/data/export/v1"
FIELDS = ["{Account}.id", "{Account}.name", "{Account}.engagementMinutesLast7Day"]
EXPORT_401 = {"errorCode": "401-100", "errorMessage": "Authentication credentials are missing or invalid."}
INTENT_401 = {"status": "Authentication Failed - Unauthorized."}



# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW.timestamp())


@pytest.fixture
def server(sandboxes: Sandboxes, clock: Clock) -> SandboxServer:
    return sandboxes.serve("demandbase", clock=clock, job_seconds=3600)


@pytest.fixture
def app(server: SandboxServer) -> DemandbaseSandbox:
    return app_of(server, DemandbaseSandbox)


@pytest.fixture
def token(server: SandboxServer) -> str:
    return access_token(server)


def exchange(server: SandboxServer, body: Any) -> requests.Response:
    return requests.post(f"{server.url}/auth/v1/token", json=body, timeout=TIMEOUT)


def access_token(
    server: SandboxServer, client_id: str = SANDBOX_CLIENT_ID, secret: str = SANDBOX_CLIENT_SECRET
) -> str:
    response = exchange(
        server, {"grantType": "client_credentials", "clientId": client_id, "clientSecret": secret}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["accessToken"])


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def get(server: SandboxServer, path: str, token: str | None, **params: Any) -> requests.Response:
    return requests.get(f"{server.url}{path}", params=params, headers=bearer(token), timeout=TIMEOUT)


def post(server: SandboxServer, path: str, token: str | None, body: Any) -> requests.Response:
    return requests.post(f"{server.url}{path}", json=body, headers=bearer(token), timeout=TIMEOUT)


def intent_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "keywordSetIds": [7301, 7302, 7303],
        "startDate": (TODAY - timedelta(days=30)).isoformat(),
        "endDate": TODAY.isoformat(),
        "sortBy": "endDate",
        "sortOrder": "ASC",
        "pageSize": 100,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def all_intent(server: SandboxServer, token: str, **overrides: Any) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    body, pages = intent_body(**overrides), 0
    while True:
        answer = post(server, INTENT, token, body)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        rows += page["data"]
        pages += 1
        if page["pagination"]["after"] is None:
            return rows, pages
        body = {**body, "pageToken": page["pagination"]["after"]}


def job_body(**overrides: Any) -> dict[str, Any]:
    body = {"entityType": "account", "jobName": "test export", "fields": FIELDS, "format": "JSON"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def create_job(server: SandboxServer, token: str, **overrides: Any) -> dict[str, Any]:
    response = post(server, f"{EXPORT}/job", token, job_body(**overrides))
    assert response.status_code == 202, response.text
    return dict(response.json())


def finish(server: SandboxServer, token: str, job_id: str) -> dict[str, Any]:
    for _ in range(10):
        status = get(server, f"{EXPORT}/job/{job_id}", token).json()
        if status["jobStatus"] in ("finished", "failed"):
            return dict(status)
    raise AssertionError("the job never finished")


def results(server: SandboxServer, token: str, **overrides: Any) -> requests.Response:
    job = create_job(server, token, **overrides)
    return requests.get(finish(server, token, job["jobId"])["resultsUrl"], timeout=TIMEOUT)


def add_fault(server: SandboxServer, **spec: Any) -> requests.Response:
    return requests.post(f"{server.url}/_sandbox/faults", json=spec, timeout=TIMEOUT)


def assert_envelope(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errorCode", "errorMessage", "diagnosticCode"}
    assert body["errorCode"] == code and body["errorMessage"] and body["diagnosticCode"]
    assert "Retry-After" not in response.headers


# --------------------------------------------------------------------------- token exchange


def test_token_exchange_is_json_camel_case(server: SandboxServer) -> None:
    response = exchange(
        server,
        {
            "grantType": "client_credentials",
            "clientId": SANDBOX_CLIENT_ID,
            "clientSecret": SANDBOX_CLIENT_SECRET,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"accessToken", "tokenType", "expiresIn"}
    assert body["tokenType"] == "bearer" and body["expiresIn"] == ACCESS_TOKEN_TTL == 28800
    assert isinstance(body["accessToken"], str) and body["accessToken"] != SANDBOX_CLIENT_SECRET


def test_token_exchange_rejects_forms_and_missing_parameters(server: SandboxServer) -> None:
    form = requests.post(
        f"{server.url}/auth/v1/token",
        data={"grant_type": "client_credentials", "client_id": SANDBOX_CLIENT_ID, "client_secret": "x"},
        timeout=TIMEOUT,
    )
    assert_envelope(form, 400, "400-102")
    assert_envelope(
        exchange(server, {"grantType": "client_credentials", "clientId": SANDBOX_CLIENT_ID}), 400, "400-104"
    )
    wrong_grant = {
        "grantType": "password",
        "clientId": SANDBOX_CLIENT_ID,
        "clientSecret": SANDBOX_CLIENT_SECRET,
    }
    assert_envelope(exchange(server, wrong_grant), 400, "400-104")


@pytest.mark.parametrize(("status", "code"), [(400, "400-103"), (401, "401-100")])
def test_wrong_secret_is_refused(sandboxes: Sandboxes, clock: Clock, status: int, code: str) -> None:
    server = sandboxes.serve("demandbase", clock=clock, bad_credentials_status=status)
    body = {"grantType": "client_credentials", "clientId": SANDBOX_CLIENT_ID, "clientSecret": "nope"}
    assert_envelope(exchange(server, body), status, code)
    body["clientId"] = "unknown"
    assert_envelope(exchange(server, body), status, code)


def test_access_token_lives_eight_hours(server: SandboxServer, clock: Clock, token: str) -> None:
    clock.advance(ACCESS_TOKEN_TTL - 1)
    assert get(server, f"{EXPORT}/jobs", token).status_code == 200
    clock.advance(1)
    assert get(server, f"{EXPORT}/jobs", token).status_code == 401


def test_two_different_401_bodies(server: SandboxServer) -> None:
    export = get(server, f"{EXPORT}/jobs", None)
    assert export.status_code == 401
    assert {k: v for k, v in export.json().items() if k != "diagnosticCode"} == EXPORT_401
    intent = post(server, INTENT, "not-a-token", intent_body())
    assert (intent.status_code, intent.json()) == (401, INTENT_401)


def test_the_client_secret_is_not_a_bearer_token(server: SandboxServer, app: DemandbaseSandbox) -> None:
    assert get(server, f"{EXPORT}/jobs", SANDBOX_CLIENT_SECRET).status_code == 401
    assert app.state()["counters"]["secret_as_bearer"] == 1


def test_a_key_set_without_intent_access_is_forbidden(server: SandboxServer) -> None:
    token = access_token(server, EXPORT_ONLY_CLIENT_ID, EXPORT_ONLY_CLIENT_SECRET)
    assert_envelope(post(server, INTENT, token, intent_body()), 403, "403-100")
    assert get(server, f"{EXPORT}/jobs", token).status_code == 200


# --------------------------------------------------------------------------- intent


def test_intent_rows_have_the_documented_shape(server: SandboxServer, token: str) -> None:
    page = post(server, INTENT, token, intent_body(pageSize=5)).json()
    assert set(page) == {"data", "pagination"}
    assert set(page["pagination"]) == {"after", "before", "totalCount"}
    row = page["data"][0]
    assert set(row) == {
        "companyId", "domain", "keyword", "numPeopleResearching", "intentStrength", "isTrending",
        "trendingScore", "numTrendingDays", "startDate", "endDate", "keywordSetId", "keywordSetName",
    }  # fmt: skip
    assert isinstance(row["companyId"], str) and isinstance(row["keywordSetId"], int)
    assert isinstance(row["numPeopleResearching"], int) and isinstance(row["isTrending"], bool)
    assert 0 <= row["trendingScore"] <= 100 and row["intentStrength"] in ("LOW", "MED", "HIGH")
    start, end = date.fromisoformat(row["startDate"]), date.fromisoformat(row["endDate"])
    assert start.weekday() == 6 and end - start == timedelta(days=6) and end < TODAY


def test_cursor_paging_serves_every_row_once(server: SandboxServer, token: str) -> None:
    rows, pages = all_intent(server, token)
    expected = expected_intent_rows(TODAY - timedelta(days=30), TODAY, today=TODAY)
    assert rows == expected and pages == -(-len(expected) // 100) > 3
    first = post(server, INTENT, token, intent_body()).json()["pagination"]
    assert first["before"] is None and first["totalCount"] == len(expected)
    assert base64.b64decode(first["after"]).decode() == "O:100:100"
    second = post(server, INTENT, token, intent_body(pageToken=first["after"])).json()["pagination"]
    assert second["before"] == page_token(0, 100)


def test_page_size_defaults_to_25(server: SandboxServer, token: str) -> None:
    body = intent_body()
    del body["pageSize"]
    assert len(post(server, INTENT, token, body).json()["data"]) == 25


def test_filters_and_sorting(server: SandboxServer, token: str) -> None:
    everything, _ = all_intent(server, token)
    company = everything[0]["companyId"]
    mine, _ = all_intent(server, token, companyIds=[company])
    assert mine and {r["companyId"] for r in mine} == {company}
    strong, _ = all_intent(server, token, intentStrength="HIGH")
    assert strong and {r["intentStrength"] for r in strong} == {"HIGH"}
    words, _ = all_intent(server, token, keywordSetIds=None, keywords=["Zero Trust"])
    assert words and {r["keyword"] for r in words} == {"Zero Trust"}
    busy, _ = all_intent(server, token, minNumPeopleResearching=5, maxNumPeopleResearching=6)
    assert busy and {r["numPeopleResearching"] for r in busy} <= {5, 6}
    by_people = post(
        server, INTENT, token, intent_body(sortBy="numPeopleResearching", sortOrder="DESC")
    ).json()
    counts = [r["numPeopleResearching"] for r in by_people["data"]]
    assert counts == sorted(counts, reverse=True)
    default = post(server, INTENT, token, {k: v for k, v in intent_body().items() if k != "sortOrder"}).json()
    ends = [r["endDate"] for r in default["data"]]
    assert ends == sorted(ends, reverse=True)


def test_an_empty_tenant_has_no_intent(server: SandboxServer) -> None:
    token = access_token(server, EMPTY_CLIENT_ID, EMPTY_CLIENT_SECRET)
    page = post(server, INTENT, token, intent_body(keywordSetIds=[7401])).json()
    assert page == {"data": [], "pagination": {"after": None, "before": None, "totalCount": 0}}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"keywordSetIds": None}, "400-218"),
        ({"companyIds": [str(n) for n in range(11)]}, "400-219"),
        ({"startDate": "2026/01/01"}, "400-220"),
        ({"startDate": None}, "400-220"),
        ({"endDate": "2026-02-30"}, "400-221"),
        ({"startDate": "2026-09-10", "endDate": "2026-09-01"}, "400-222"),
        ({"startDate": "2025-09-01", "endDate": "2026-09-01"}, "400-223"),
        ({"intentStrength": "VERY_HIGH"}, "400-224"),
        ({"minNumPeopleResearching": 5, "maxNumPeopleResearching": 2}, "400-225"),
        ({"pageSize": 101}, "400-226"),
        ({"pageSize": 0}, "400-226"),
        ({"sortBy": "companyId"}, "400-227"),
        ({"pageToken": "not-a-cursor"}, "400-228"),
        ({"keywordSetIds": list(range(11))}, "400-229"),
        ({"keywords": [f"k{n}" for n in range(51)]}, "400-230"),
    ],
)
def test_intent_validation_codes(
    server: SandboxServer, token: str, overrides: dict[str, Any], code: str
) -> None:
    assert_envelope(post(server, INTENT, token, intent_body(**overrides)), 400, code)


def test_twelve_months_minus_a_day_is_allowed(server: SandboxServer, token: str) -> None:
    response = post(server, INTENT, token, intent_body(startDate="2025-09-02", endDate="2026-09-01"))
    assert response.status_code == 200


# --------------------------------------------------------------------------- export: jobs


def test_fields_catalogue(server: SandboxServer, token: str) -> None:
    fields = get(server, f"{EXPORT}/fields", token, entityType="account").json()
    assert {f["name"] for f in fields} == set(ACCOUNT_FIELDS)
    assert all(set(f) == {"name", "dataType", "label", "description"} for f in fields)
    assert_envelope(get(server, f"{EXPORT}/fields", token, entityType="planet"), 400, "400-125")


def test_job_moves_from_accepted_to_finished(server: SandboxServer, token: str) -> None:
    created = create_job(server, token)
    assert set(created) == {"jobStatus", "createdAt", "jobId", "entityType", "jobName"}
    assert created["jobStatus"] == "accepted" and created["createdAt"].endswith("Z")
    statuses = [get(server, f"{EXPORT}/job/{created['jobId']}", token).json() for _ in range(3)]
    assert [s["jobStatus"] for s in statuses] == ["accepted", "processing", "finished"]
    assert set(statuses[0]) == {
        "resultsUrl", "updatedAt", "jobStatus", "jobName", "jobId", "createdAt", "entityType", "message",
    }  # fmt: skip
    assert statuses[0]["resultsUrl"] is None and statuses[2]["resultsUrl"].startswith(
        server.url + "/downloads/"
    )


def test_jobs_also_finish_with_time(
    server: SandboxServer, app: DemandbaseSandbox, clock: Clock, token: str
) -> None:
    job = create_job(server, token)
    clock.advance(app.job_seconds)
    assert get(server, f"{EXPORT}/job/{job['jobId']}", token).json()["jobStatus"] == "finished"


def test_one_export_job_at_a_time(server: SandboxServer, token: str) -> None:
    first = create_job(server, token)
    assert_envelope(post(server, f"{EXPORT}/job", token, job_body(jobName="second")), 429, "429-102")
    finish(server, token, first["jobId"])
    assert post(server, f"{EXPORT}/job", token, job_body(jobName="second")).status_code == 202


def test_daily_job_quota(sandboxes: Sandboxes, clock: Clock) -> None:
    server = sandboxes.serve("demandbase", clock=clock, daily_job_quota=1)
    token = access_token(server)
    finish(server, token, create_job(server, token)["jobId"])
    assert_envelope(post(server, f"{EXPORT}/job", token, job_body()), 429, "429-101")
    clock.advance(86_400)
    assert post(server, f"{EXPORT}/job", access_token(server), job_body()).status_code == 202


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"jobName": "x" * 51}, 400, "400-126"),
        ({"jobName": None}, 400, "400-126"),
        ({"colour": "blue"}, 400, "400-147"),
        ({"entityType": None}, 400, "400-104"),
        ({"entityType": "planet"}, 400, "400-127"),
        ({"entityType": "opportunity"}, 403, "403-101"),
        ({"fields": ["{Account}.All", "{Account}.test"]}, 400, "400-115"),
        ({"fields": None}, 400, "400-104"),
        ({"format": "XML"}, 400, "400-116"),
        ({"fromDate": "2026-09-01"}, 400, "400-112"),
        ({"fromDate": "2026-09-10", "toDate": "2026-09-01"}, 400, "400-113"),
        ({"fromDate": "01/09/2026", "toDate": "2026-09-01"}, 400, "400-111"),
        ({"entityType": "activity", "fields": ["{Activity}.id"]}, 400, "400-104"),
        ({"entityType": "activity", "fromDate": "2026-05-01", "toDate": "2026-08-01"}, 400, "400-114"),
        ({"accountListIds": ["tier-1"]}, 400, "400-129"),
        ({"accountListIds": [999]}, 400, "400-142"),
        ({"accountListIds": [5001], "accountListId": 5001}, 400, "400-144"),
        ({"limit": "ten"}, 400, "400-118"),
        ({"limit": 5000}, 400, "400-119"),
        (
            {"filters": [{"field": "{Account}.name", "operator": "Greater Than", "values": ["a"]}]},
            400,
            "400-140",
        ),
    ],
)
def test_job_validation_codes(
    server: SandboxServer, token: str, overrides: dict[str, Any], status: int, code: str
) -> None:
    body = job_body(**overrides)
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
    assert_envelope(post(server, f"{EXPORT}/job", token, body), status, code)


def test_ninety_day_activity_export(server: SandboxServer, token: str) -> None:
    response = results(
        server,
        token,
        entityType="activity",
        fields=["{Activity}.id", "{Activity}.activityDate", "{Activity}.engagementMinutes", "{Account}.id"],
        fromDate="2026-06-03",
        toDate="2026-08-31",
    )
    records = response.json()
    assert records and all("2026-06-03" <= r["{Activity}.activityDate"] <= "2026-08-31" for r in records)
    assert all(r["{Activity}.engagementMinutes"] > 0 for r in records)


def test_unknown_job_is_404(server: SandboxServer, token: str) -> None:
    assert_envelope(get(server, f"{EXPORT}/job/no-such-job", token), 404, "404-302")
    job = create_job(server, token)
    other = access_token(server, EMPTY_CLIENT_ID, EMPTY_CLIENT_SECRET)
    assert_envelope(get(server, f"{EXPORT}/job/{job['jobId']}", other), 404, "404-302")


def test_jobs_listing(server: SandboxServer, token: str) -> None:
    names = []
    for number in range(3):
        job = create_job(server, token, jobName=f"job {number}")
        finish(server, token, job["jobId"])
        names.append(job["jobName"])
    listing = get(server, f"{EXPORT}/jobs", token, page=1, perPage=2).json()
    assert set(listing) == {"pageNo", "pageSize", "totalCount", "data"}
    assert (listing["pageNo"], listing["pageSize"], listing["totalCount"]) == (1, 2, 3)
    assert [j["jobName"] for j in listing["data"]] == ["job 2", "job 1"]  # newest first
    assert set(listing["data"][0]) == {
        "updatedAt",
        "createdAt",
        "jobName",
        "jobId",
        "jobStatus",
        "entityType",
    }
    rest = get(server, f"{EXPORT}/jobs", token, page=2, perPage=2, sort="descending").json()
    assert [j["jobName"] for j in rest["data"]] == ["job 0"]
    oldest = get(
        server, f"{EXPORT}/jobs", token, sort="ascending", entityType="account", jobStatus="finished"
    )
    assert [j["jobName"] for j in oldest.json()["data"]] == names
    assert get(server, f"{EXPORT}/jobs", token, jobStatus="failed").json()["totalCount"] == 0
    other = access_token(server, EMPTY_CLIENT_ID, EMPTY_CLIENT_SECRET)
    assert get(server, f"{EXPORT}/jobs", other).json()["totalCount"] == 0


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"page": 0}, "400-121"),
        ({"perPage": "many"}, "400-122"),
        ({"sort": "newest"}, "400-120"),
        ({"jobStatus": "done"}, "400-124"),
        ({"entityType": "planet"}, "400-123"),
    ],
)
def test_jobs_listing_validation(
    server: SandboxServer, token: str, params: dict[str, Any], code: str
) -> None:
    assert_envelope(get(server, f"{EXPORT}/jobs", token, **params), 400, code)


def test_keyword_set_reference_data(server: SandboxServer, token: str) -> None:
    listing = get(server, f"{EXPORT}/references", token).json()
    assert "keywordSet" in {r["name"] for r in listing["refObjectsAvailable"]}
    sets = get(server, f"{EXPORT}/reference/keywordSet", token).json()
    assert sets["objectType"] == "keywordSet"
    assert [s["id"] for s in sets["data"]] == [7301, 7302, 7303]
    assert_envelope(get(server, f"{EXPORT}/reference/planets", token), 400, "400-154")


# --------------------------------------------------------------------------- export: the result file


def test_results_are_a_json_array_keyed_by_field_names(server: SandboxServer, token: str) -> None:
    response = results(server, token)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    records = response.json()
    assert records == expected_accounts(TODAY, fields=FIELDS)
    assert len(records) == len(accounts_for("northwind")) == 300
    assert all(list(r) == FIELDS for r in records)
    assert isinstance(records[0]["{Account}.id"], int)


def test_all_account_fields_have_realistic_values(server: SandboxServer, token: str) -> None:
    records = results(server, token, fields=list(ACCOUNT_FIELDS)).json()
    assert len({r["{Account}.domain"] for r in records}) == 300
    assert {r["{Account}.journeyStage"] for r in records} >= {"Qualified", "MQA", "Opportunity", "Customer"}
    assert any(r["{Account}.industry"] is None for r in records)
    for r in records:
        assert 0 <= r["{Account}.engagementMinutesLast7Day"] <= r["{Account}.engagementMinutesLast30Day"]
        assert r["{Account}.engagementPointsLast30Day"] >= r["{Account}.engagementPointsLast7Day"] >= 0
        assert 0 <= r["{Account}.intentScore"] <= 100 and isinstance(r["{Account}.intentKeywordCount"], int)
    assert sum(1 for r in records if r["{Account}.intentKeywordCount"]) > 100


def test_filters_lists_and_limit_narrow_the_export(server: SandboxServer, token: str) -> None:
    tier_one = results(server, token, accountListIds=[5001]).json()
    assert len(tier_one) == 60
    named = results(
        server, token, filters=[{"field": "{Account}.name", "operator": "Begins With", "values": ["Acme"]}]
    ).json()
    assert named and all(r["{Account}.name"].startswith("Acme") for r in named)
    busy = results(
        server,
        token,
        filters=[
            {"field": "{Account}.engagementMinutesLast7Day", "operator": "Greater Than", "values": ["50"]}
        ],
    ).json()
    assert busy and all(r["{Account}.engagementMinutesLast7Day"] > 50 for r in busy)
    assert len(results(server, token, limit="10").json()) == 10


def test_results_link_is_signed_and_refuses_a_bearer(
    server: SandboxServer, clock: Clock, token: str
) -> None:
    url = finish(server, token, create_job(server, token)["jobId"])["resultsUrl"]
    refused = requests.get(url, headers=bearer(token), timeout=TIMEOUT)
    assert refused.status_code == 400 and b"Only one auth mechanism allowed" in refused.content
    forged = requests.get(url.replace("X-Signature=", "X-Signature=0"), timeout=TIMEOUT)
    assert forged.status_code == 403 and b"SignatureDoesNotMatch" in forged.content
    assert requests.get(url, timeout=TIMEOUT).status_code == 200
    clock.advance(86_401)
    expired = requests.get(url, timeout=TIMEOUT)
    assert expired.status_code == 403 and b"Request has expired" in expired.content


def test_ndjson_and_csv_layouts(sandboxes: Sandboxes, clock: Clock) -> None:
    server = sandboxes.serve("demandbase", clock=clock, results_layout="ndjson")
    token = access_token(server)
    lines = results(server, token).text.splitlines()
    assert [json.loads(line) for line in lines] == expected_accounts(TODAY, fields=FIELDS)
    table = results(server, token, jobName="csv", format="CSV").text
    rows = list(csv.reader(io.StringIO(table)))
    assert rows[0] == FIELDS and len(rows) == 301


# --------------------------------------------------------------------------- faults


def test_throttle_and_server_error_faults(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="throttle", path=INTENT)
    assert_envelope(post(server, INTENT, token, intent_body()), 429, "429-100")
    add_fault(server, kind="server_error", path=f"{EXPORT}/jobs")
    assert_envelope(get(server, f"{EXPORT}/jobs", token), 500, "500-100")
    add_fault(server, kind="server_error", status=503)
    assert get(server, f"{EXPORT}/jobs", token).status_code == 503
    add_fault(server, kind="export_quota", path=f"{EXPORT}/job")
    assert_envelope(post(server, f"{EXPORT}/job", token, job_body()), 429, "429-101")
    assert post(server, INTENT, token, intent_body()).status_code == 200


def test_expire_token_fault_gives_each_api_its_401(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="expire_token", path="/data/intent")
    assert (post(server, INTENT, token, intent_body()).json()) == INTENT_401
    response = get(server, f"{EXPORT}/jobs", token)
    assert response.status_code == 401 and response.json()["errorCode"] == "401-100"
    assert get(server, f"{EXPORT}/jobs", access_token(server)).status_code == 200


def test_revoke_keyset_fault_refuses_the_key_set_and_its_tokens(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="revoke_keyset", client_id=SANDBOX_CLIENT_ID)
    assert get(server, f"{EXPORT}/jobs", token).status_code == 401
    body = {
        "grantType": "client_credentials",
        "clientId": SANDBOX_CLIENT_ID,
        "clientSecret": SANDBOX_CLIENT_SECRET,
    }
    assert_envelope(exchange(server, body), 400, "400-103")
    assert access_token(server, EMPTY_CLIENT_ID, EMPTY_CLIENT_SECRET)  # other key sets still work


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("non_numeric_people", lambda r: r["numPeopleResearching"] == "many"),
        ("missing_company", lambda r: "companyId" not in r),
        ("bad_end_date", lambda r: r["endDate"] == "18/07/2026"),
        ("not_an_object", lambda r: r == "corrupt record"),
    ],
)
def test_malformed_intent_row(server: SandboxServer, token: str, variant: str, check: Any) -> None:
    add_fault(server, kind="malformed", variant=variant, index=3, path=INTENT)
    broken = post(server, INTENT, token, intent_body()).json()["data"]
    clean = post(server, INTENT, token, intent_body()).json()["data"]
    assert check(broken[3]) and broken[:3] == clean[:3] and broken[4:] == clean[4:]


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("missing_id", lambda r: "{Account}.id" not in r),
        ("non_numeric_minutes", lambda r: r["{Account}.engagementMinutesLast7Day"] == "12 min"),
        ("not_an_object", lambda r: r == "corrupt record"),
    ],
)
def test_malformed_export_record(server: SandboxServer, token: str, variant: str, check: Any) -> None:
    add_fault(server, kind="malformed", variant=variant, index=7, path="/downloads/")
    records = results(server, token).json()
    assert check(records[7]) and len(records) == 300


def test_job_failed_fault(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="job_failed", message="Export collection changed")
    status = finish(server, token, create_job(server, token)["jobId"])
    assert status["jobStatus"] == "failed" and status["message"] == "Export collection changed"
    assert status["resultsUrl"] is None
    assert create_job(server, token, jobName="again")["jobStatus"] == "accepted"


def test_slow_job_response_creates_the_job_before_answering(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="slow_job_response", seconds=1.0)
    with pytest.raises(requests.Timeout):
        requests.post(f"{server.url}{EXPORT}/job", json=job_body(), headers=bearer(token), timeout=0.3)
    listed = get(server, f"{EXPORT}/jobs", token).json()["data"]
    assert [j["jobName"] for j in listed] == ["test export"]


def test_truncated_and_delay_faults(server: SandboxServer, token: str) -> None:
    add_fault(server, kind="truncated", path=INTENT)
    with pytest.raises(ValueError):
        post(server, INTENT, token, intent_body()).json()
    add_fault(server, kind="delay", seconds=0.3, path=INTENT)
    started = time.monotonic()
    assert post(server, INTENT, token, intent_body()).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_unknown_fault_kinds_and_variants_are_refused(server: SandboxServer) -> None:
    assert add_fault(server, kind="meteor").status_code == 400
    assert add_fault(server, kind="malformed", variant="nonsense").status_code == 400
    assert add_fault(server, kind="server_error", status=404).status_code == 400


# --------------------------------------------------------------------------- control, determinism, demo


def test_state_reset_and_unknown_routes(server: SandboxServer, token: str, app: DemandbaseSandbox) -> None:
    finish(server, token, create_job(server, token)["jobId"])
    state = app.state()
    assert state["platform"] == "demandbase" and state["counters"]["jobs_created"] == 1
    assert state["jobs"][0]["jobStatus"] == "finished" and state["requests"]["job_status"] >= 3
    assert_envelope(get(server, "/data/nothing/here", token), 404, "404-301")
    requests.post(f"{server.url}/_sandbox/reset", timeout=TIMEOUT)
    assert app.state()["jobs"] == [] and get(server, f"{EXPORT}/jobs", token).status_code == 401


def test_env_points_the_app_at_the_server(server: SandboxServer) -> None:
    env = server.env()
    assert env["DEMANDBASE_API_BASE_URL"] == server.url
    assert env["DEMANDBASE_TOKEN_URL"] == server.url + "/auth/v1/token"
    assert (env["DEMANDBASE_CLIENT_ID"], env["DEMANDBASE_CLIENT_SECRET"]) == (
        SANDBOX_CLIENT_ID,
        SANDBOX_CLIENT_SECRET,
    )


def test_demo_connections_are_accepted(server: SandboxServer) -> None:
    for spec in DEMO_CONNECTIONS:
        credentials: dict[str, str] = spec["credentials"]  # type: ignore[assignment]
        assert access_token(server, credentials["client_id"], credentials["client_secret"])


def test_numbers_are_the_same_in_another_process() -> None:
    def digest(rows: Any) -> str:
        return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()

    day = date(2026, 8, 12)
    here = digest([expected_accounts(day), expected_intent_rows(date(2026, 7, 1), day, today=day)])
    script = (
        "import hashlib, json; from datetime import date;"
        "from sandbox.demandbase import expected_accounts as a, expected_intent_rows as i;"
        "d = date(2026, 8, 12); rows = [a(d), i(date(2026, 7, 1), d, today=d)];"
        "print(hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest())"
    )
    there = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env={"PYTHONHASHSEED": "4242", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    assert there == here

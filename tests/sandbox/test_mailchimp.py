"""The Mailchimp fake, driven over real HTTP the way a connector (or a browser) would use it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.core import SandboxServer
from sandbox.mailchimp import (
    ACCOUNTS,
    DEMO_ACCESS_TOKEN,
    DEMO_CONNECTIONS,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    MailchimpSandbox,
    expected_campaign_rows,
)
from sandbox.mailchimp.catalogue import campaigns_between, report_numbers
from sandbox.serve import create_sandbox
from tests.sandboxes import Clock, Sandboxes, app_of

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
TIMEOUT = 30
DEMO = "40118001"
REDIRECT = "http://localhost/callback"
ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"
WRONG_KEY = {
    "type": ERRORS_DOC,
    "title": "API Key Invalid",
    "status": 401,
    "detail": "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
}
TOO_MANY = {
    "type": ERRORS_DOC,
    "title": "Too Many Requests",
    "status": 429,
    "detail": "You have exceeded the limit of 10 simultaneous connections.",
}
HEX_ID = re.compile(r"^[0-9a-f]{10}$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW.timestamp())


@pytest.fixture
def server(sandboxes: Sandboxes, clock: Clock) -> SandboxServer:
    return sandboxes.serve("mailchimp", clock=clock)


@pytest.fixture
def app(server: SandboxServer) -> MailchimpSandbox:
    return app_of(server, MailchimpSandbox)


def api(
    server: SandboxServer,
    path: str,
    token: str | None = DEMO_ACCESS_TOKEN,
    *,
    dc: str = "us19",
    scheme: str = "Bearer",
    **params: Any,
) -> requests.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return requests.get(f"{server.url}/{dc}/3.0/{path}", headers=headers, params=params, timeout=TIMEOUT)


def reports(server: SandboxServer, **params: Any) -> dict[str, Any]:
    response = api(server, "reports", **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def metadata(server: SandboxServer, token: str, scheme: str = "OAuth") -> requests.Response:
    return requests.get(
        f"{server.url}/oauth2/metadata", headers={"Authorization": f"{scheme} {token}"}, timeout=TIMEOUT
    )


def authorize(server: SandboxServer, state: str = "xyz") -> str:
    params = {
        "response_type": "code",
        "client_id": SANDBOX_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": state,
    }
    response = requests.get(
        f"{server.url}/oauth2/authorize", params=params, allow_redirects=False, timeout=TIMEOUT
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    answer = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert answer["state"] == [state]
    return answer["code"][0]


def exchange(server: SandboxServer, code: str, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
        "redirect_uri": REDIRECT,
        "code": code,
        **overrides,
    }
    return requests.post(f"{server.url}/oauth2/token", data=form, timeout=TIMEOUT)


def add_fault(server: SandboxServer, **spec: Any) -> requests.Response:
    return requests.post(f"{server.url}/_sandbox/faults", json=spec, timeout=TIMEOUT)


def without_instance(body: dict[str, Any]) -> dict[str, Any]:
    assert re.fullmatch(r"[0-9a-f-]{36}", body["instance"])
    return {key: value for key, value in body.items() if key != "instance"}


def august(**params: Any) -> dict[str, Any]:
    return {
        "since_send_time": "2026-08-01T00:00:00+00:00",
        "before_send_time": "2026-09-01T00:00:00+00:00",
        **params,
    }


# --------------------------------------------------------------------------- OAuth and metadata


def test_authorization_code_flow_gives_a_token_that_never_expires(server: SandboxServer) -> None:
    response = exchange(server, authorize(server))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "scope"}
    assert body["expires_in"] == 0 and body["scope"] is None
    token = body["access_token"]
    assert metadata(server, token).json()["dc"] == "us19"
    assert api(server, "reports", token, count=1).status_code == 200


def test_a_code_works_once_and_only_with_its_redirect_uri(server: SandboxServer) -> None:
    code = authorize(server)
    assert exchange(server, code, redirect_uri="http://elsewhere/cb").json()["error"] == "invalid_grant"
    code = authorize(server)
    assert exchange(server, code).status_code == 200
    again = exchange(server, code)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_codes_expire(server: SandboxServer, clock: Clock) -> None:
    code = authorize(server)
    clock.advance(601)
    assert exchange(server, code).json()["error"] == "invalid_grant"


def test_token_endpoint_errors(server: SandboxServer) -> None:
    code = authorize(server)
    wrong_client = exchange(server, code, client_secret="nope")
    assert (wrong_client.status_code, wrong_client.json()["error"]) == (401, "invalid_client")
    refresh = exchange(server, code, grant_type="refresh_token")
    assert (refresh.status_code, refresh.json()["error"]) == (400, "unsupported_grant_type")
    as_json = requests.post(f"{server.url}/oauth2/token", json={"code": code}, timeout=TIMEOUT)
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")


def test_authorize_checks_its_parameters(server: SandboxServer) -> None:
    base = {"response_type": "code", "client_id": SANDBOX_CLIENT_ID, "redirect_uri": REDIRECT}
    for change, error in (
        ({"client_id": "other"}, "invalid_client"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"redirect_uri": ""}, "invalid_request"),
    ):
        response = requests.get(
            f"{server.url}/oauth2/authorize",
            params={**base, **change},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert (response.status_code, response.json()["error"]) == (400, error)


def test_metadata_names_the_data_centre(server: SandboxServer) -> None:
    response = metadata(server, DEMO_ACCESS_TOKEN)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"dc", "role", "accountname", "user_id", "login", "login_url", "api_endpoint"}
    assert (body["dc"], body["accountname"], body["user_id"]) == ("us19", "Northwind Traders", 40118001)
    assert set(body["login"]) == {"email", "avatar", "login_id", "login_name", "login_email"}
    assert isinstance(body["login"]["login_id"], int)
    assert body["api_endpoint"] == f"{server.url}/us19"
    assert metadata(server, ACCOUNTS["40118002"].token).json()["dc"] == "us6"


@pytest.mark.parametrize(
    ("token", "scheme"), [("unknown", "OAuth"), (DEMO_ACCESS_TOKEN, "Bearer"), ("", "OAuth")]
)
def test_metadata_reports_a_bad_token_with_http_200(server: SandboxServer, token: str, scheme: str) -> None:
    response = metadata(server, token, scheme)
    assert (response.status_code, response.json()) == (200, {"error": "invalid_token"})


# --------------------------------------------------------------------------- data-centre authentication


def test_a_token_works_only_in_its_data_centre(server: SandboxServer) -> None:
    wrong = api(server, "reports", dc="us6")
    assert wrong.status_code == 401
    assert wrong.headers["Content-Type"].startswith("application/problem+json")
    assert without_instance(wrong.json()) == WRONG_KEY
    assert api(server, "reports", ACCOUNTS["40118002"].token, dc="us6").status_code == 200


def test_unknown_and_missing_keys(server: SandboxServer) -> None:
    assert without_instance(api(server, "reports", "nope").json()) == WRONG_KEY
    missing = api(server, "reports", None)
    assert missing.status_code == 401 and missing.json()["title"] == "API Key Missing"


@pytest.mark.parametrize("scheme", ["Bearer", "OAuth"])
def test_token_schemes(server: SandboxServer, scheme: str) -> None:
    assert api(server, "reports", scheme=scheme).status_code == 200


def test_basic_auth_with_the_key_as_password(server: SandboxServer) -> None:
    credentials = base64.b64encode(f"anystring:{DEMO_ACCESS_TOKEN}".encode()).decode()
    assert api(server, "reports", credentials, scheme="Basic").status_code == 200


# --------------------------------------------------------------------------- reports


def test_report_shape_and_types(server: SandboxServer) -> None:
    body = reports(server, **august(count=3))
    assert set(body) == {"reports", "total_items", "_links"}
    assert isinstance(body["total_items"], int) and len(body["reports"]) == 3
    report = body["reports"][0]
    assert HEX_ID.match(report["id"]) and HEX_ID.match(report["list_id"])
    for key in ("emails_sent", "abuse_reports", "unsubscribed"):
        assert isinstance(report[key], int)
    assert STAMP.match(report["send_time"])
    assert report["type"] in {"regular", "plaintext", "variate", "absplit", "rss"}
    assert set(report["bounces"]) == {"hard_bounces", "soft_bounces", "syntax_errors"}
    assert set(report["opens"]) == {"opens_total", "unique_opens", "open_rate", "last_open"}
    assert set(report["clicks"]) == {
        "clicks_total",
        "unique_clicks",
        "unique_subscriber_clicks",
        "click_rate",
        "last_click",
    }
    assert 0 <= report["opens"]["open_rate"] <= 1 and 0 <= report["clicks"]["click_rate"] <= 1
    assert report["opens"]["unique_opens"] <= report["opens"]["opens_total"]
    assert report["clicks"]["unique_subscriber_clicks"] <= report["clicks"]["unique_clicks"]
    for key in (
        "facebook_likes",
        "industry_stats",
        "list_stats",
        "share_report",
        "ecommerce",
        "delivery_status",
    ):
        assert isinstance(report[key], dict)
    assert isinstance(report["timeseries"], list) and len(report["timeseries"]) == 24
    assert {link["rel"] for link in report["_links"]} >= {"self", "parent"}


def test_count_defaults_to_ten_and_pages_add_up(server: SandboxServer) -> None:
    everything = reports(server, **august(count=1000))
    total = everything["total_items"]
    assert total == len(everything["reports"]) > 10
    assert len(reports(server, **august())["reports"]) == 10
    paged = [
        r
        for offset in range(0, total, 4)
        for r in reports(server, **august(count=4, offset=offset))["reports"]
    ]
    assert paged == everything["reports"]
    beyond = reports(server, **august(count=4, offset=total))
    assert beyond["reports"] == [] and beyond["total_items"] == total


@pytest.mark.parametrize(("param", "value"), [("count", "1001"), ("count", "-1"), ("offset", "x")])
def test_bad_paging_is_an_invalid_resource(server: SandboxServer, param: str, value: str) -> None:
    response = api(server, "reports", **{param: value})
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid Resource" and body["errors"][0]["field"] == param


def test_send_time_filters(server: SandboxServer) -> None:
    served = reports(server, **august(count=1000))["reports"]
    stamps = [datetime.fromisoformat(r["send_time"]) for r in served]
    assert all(datetime(2026, 8, 1, tzinfo=UTC) <= s < datetime(2026, 9, 1, tzinfo=UTC) for s in stamps)
    assert stamps == sorted(stamps)
    everything = reports(server, count=1000)
    assert everything["total_items"] > len(served)
    bad = api(server, "reports", since_send_time="last tuesday")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "since_send_time"


def test_only_sent_campaigns_have_reports(server: SandboxServer, clock: Clock) -> None:
    served = reports(server, count=1000, since_send_time="2026-09-01T00:00:00+00:00")["reports"]
    assert served and all(datetime.fromisoformat(r["send_time"]) <= NOW for r in served)
    clock.advance(7 * 86_400)
    later = reports(server, count=1000, since_send_time="2026-09-01T00:00:00+00:00")["reports"]
    assert len(later) > len(served)


def test_fields_and_exclude_fields(server: SandboxServer) -> None:
    narrow = reports(server, **august(count=2, fields="reports.id,reports.opens.unique_opens,total_items"))
    assert set(narrow) == {"reports", "total_items"}
    assert all(set(r) == {"id", "opens"} and set(r["opens"]) == {"unique_opens"} for r in narrow["reports"])
    trimmed = reports(
        server, **august(count=2, exclude_fields="_links,reports.timeseries,reports.opens.last_open")
    )
    assert "_links" not in trimmed
    for report in trimmed["reports"]:
        assert "timeseries" not in report and "last_open" not in report["opens"]
        assert "unique_opens" in report["opens"] and "_links" in report


def test_type_filter(server: SandboxServer) -> None:
    served = reports(server, count=1000, type="rss")["reports"]
    assert served and {r["type"] for r in served} == {"rss"}


def test_one_report(server: SandboxServer) -> None:
    first = reports(server, **august(count=1))["reports"][0]
    single = api(server, f"reports/{first['id']}")
    assert single.status_code == 200 and single.json() == first
    missing = api(server, "reports/0000000000")
    assert missing.status_code == 404 and missing.json()["title"] == "Resource Not Found"


def test_served_reports_equal_expected_campaign_rows(server: SandboxServer) -> None:
    served = reports(server, **august(count=1000))["reports"]
    expected = expected_campaign_rows(DEMO, date(2026, 8, 1), date(2026, 8, 31), now=NOW)
    assert [r["id"] for r in served] == [row["campaign_id"] for row in expected]
    for report, row in zip(served, expected, strict=True):
        bounces = report["bounces"]
        assert row["bounces"] == bounces["hard_bounces"] + bounces["soft_bounces"] + bounces["syntax_errors"]
        assert (row["opens"], row["unique_clicks"], row["open_rate"]) == (
            report["opens"]["opens_total"],
            report["clicks"]["unique_subscriber_clicks"],
            report["opens"]["open_rate"],
        )


def test_reports_grow_for_days_and_stand_still_within_a_day(server: SandboxServer, clock: Clock) -> None:
    params = {"count": 1000, "since_send_time": "2026-09-08T00:00:00+00:00"}
    morning = {r["id"]: r for r in reports(server, **params)["reports"]}
    clock.advance(3 * 3600)  # later the same day
    afternoon = {r["id"]: r for r in reports(server, **params)["reports"]}
    assert {k: afternoon[k] for k in morning} == morning
    clock.advance(86_400)
    tomorrow = {r["id"]: r for r in reports(server, **params)["reports"]}
    grew = 0
    for ident, before in morning.items():
        after = tomorrow[ident]
        for part, key in (("opens", "unique_opens"), ("opens", "opens_total"), ("clicks", "clicks_total")):
            assert after[part][key] >= before[part][key]
        assert after["unsubscribed"] >= before["unsubscribed"]
        grew += after["opens"]["unique_opens"] > before["opens"]["unique_opens"]
    assert grew >= len(morning) // 2


def test_reports_settle_after_weeks() -> None:
    campaign = campaigns_between(DEMO, datetime(2026, 3, 2, tzinfo=UTC), None, today=date(2026, 3, 10))[0]
    assert campaign.send_time is not None
    sent = campaign.send_time.date()
    settled = replace(report_numbers(campaign, sent + timedelta(days=60)), days_since_send=0)
    assert replace(report_numbers(campaign, sent + timedelta(days=90)), days_since_send=0) == settled
    assert report_numbers(campaign, sent + timedelta(days=20)).unique_opens < settled.unique_opens


def test_numbers_are_the_same_in_another_process() -> None:
    def digest(rows: list[dict[str, Any]]) -> str:
        return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()

    here = digest(expected_campaign_rows(DEMO, date(2026, 8, 1), date(2026, 8, 30), now=NOW))
    script = (
        "import hashlib, json; from datetime import UTC, date, datetime;"
        "from sandbox.mailchimp import expected_campaign_rows as e;"
        "rows = e('40118001', date(2026, 8, 1), date(2026, 8, 30), now=datetime(2026, 9, 15, 12, tzinfo=UTC));"
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


def test_the_catalogue() -> None:
    assert {a.dc for a in ACCOUNTS.values()} == {"us19", "us6"}
    assert expected_campaign_rows("40118003", date(2026, 1, 1), date(2026, 9, 1), now=NOW) == []
    demo_month = expected_campaign_rows(DEMO, date(2026, 8, 1), date(2026, 8, 30), now=NOW)
    assert 8 <= len(demo_month) <= 25  # a few campaigns a week
    assert expected_campaign_rows("nobody", date(2026, 1, 1), date(2026, 9, 1), now=NOW) == []


# --------------------------------------------------------------------------- campaigns


def test_campaigns_shape_statuses_and_filters(server: SandboxServer) -> None:
    response = api(server, "campaigns", count=1000)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"campaigns", "total_items", "_links"}
    statuses = {c["status"] for c in body["campaigns"]}
    assert statuses == {"sent", "schedule", "save"}
    draft = next(c for c in body["campaigns"] if c["status"] == "save")
    assert draft["send_time"] == "" and draft["emails_sent"] == 0 and "report_summary" not in draft
    sent = next(c for c in body["campaigns"] if c["status"] == "sent")
    assert isinstance(sent["web_id"], int) and HEX_ID.match(sent["id"])
    assert set(sent["report_summary"]) == {
        "opens",
        "unique_opens",
        "open_rate",
        "clicks",
        "subscriber_clicks",
        "click_rate",
        "ecommerce",
    }
    assert set(sent["settings"]) >= {"subject_line", "title", "from_name"}
    only_sent = api(server, "campaigns", count=1000, status="sent").json()
    assert {c["status"] for c in only_sent["campaigns"]} == {"sent"}
    in_august = api(server, "campaigns", **august(count=1000)).json()
    assert in_august["total_items"] == reports(server, **august())["total_items"]


def test_campaign_summary_matches_its_report(server: SandboxServer) -> None:
    campaign = api(server, "campaigns", **august(count=1)).json()["campaigns"][0]
    report = api(server, f"reports/{campaign['id']}").json()
    summary = campaign["report_summary"]
    assert (summary["unique_opens"], summary["subscriber_clicks"], summary["open_rate"]) == (
        report["opens"]["unique_opens"],
        report["clicks"]["unique_subscriber_clicks"],
        report["opens"]["open_rate"],
    )


def test_campaign_sorting(server: SandboxServer) -> None:
    body = api(server, "campaigns", **august(count=1000, sort_field="send_time", sort_dir="DESC")).json()
    stamps = [c["send_time"] for c in body["campaigns"]]
    assert stamps == sorted(stamps, reverse=True)
    assert api(server, "campaigns", sort_field="title").status_code == 400


# --------------------------------------------------------------------------- limits and faults


def test_more_than_ten_simultaneous_connections_are_refused(sandboxes: Sandboxes, clock: Clock) -> None:
    start = threading.Barrier(15)

    def call(_: int) -> Any:
        start.wait()  # all fifteen leave together, so they overlap even on a busy machine
        return api(running, "reports", count=1)

    running = sandboxes.serve("mailchimp", clock=clock, latency=1.5)
    with ThreadPoolExecutor(max_workers=15) as pool:
        answers = list(pool.map(call, range(15)))
    refused = [a for a in answers if a.status_code == 429]
    assert 1 <= len(refused) <= 5 and len(answers) - len(refused) >= 10
    assert without_instance(refused[0].json()) == TOO_MANY and "Retry-After" not in refused[0].headers
    state = running.app.state()
    assert state["peak_connections"][DEMO] == 10
    assert state["counters"]["connections_refused"] == len(refused)
    # Other accounts have their own ten.
    assert api(running, "reports", ACCOUNTS["40118002"].token, dc="us6").status_code == 200


def test_the_limit_is_configurable(sandboxes: Sandboxes, clock: Clock) -> None:
    running = sandboxes.serve("mailchimp", clock=clock, latency=0.3, max_connections=2)
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(lambda _: api(running, "reports").status_code, range(4)))
    assert statuses.count(200) >= 2 and 429 in statuses


def test_rate_limit_fault(server: SandboxServer) -> None:
    assert add_fault(server, kind="rate_limit", times=2, after=1).status_code == 201
    assert api(server, "reports").status_code == 200
    for _ in range(2):
        limited = api(server, "reports")
        assert limited.status_code == 429 and "Retry-After" not in limited.headers
        assert without_instance(limited.json()) == TOO_MANY
    assert api(server, "reports").status_code == 200


@pytest.mark.parametrize("status", [403, 429])
def test_bare_throttle_has_no_body(server: SandboxServer, status: int) -> None:
    add_fault(server, kind="bare_throttle", status=status)
    response = api(server, "reports")
    assert response.status_code == status and response.content == b""
    assert "Retry-After" not in response.headers and "json" not in response.headers.get("Content-Type", "")
    assert api(server, "reports").status_code == 200


def test_server_error_fault(server: SandboxServer) -> None:
    add_fault(server, kind="server_error", path="/us19/3.0/reports")
    assert api(server, "campaigns").status_code == 200
    failed = api(server, "reports")
    assert failed.status_code == 500
    assert without_instance(failed.json()) == {
        "type": ERRORS_DOC,
        "title": "Internal Server Error",
        "status": 500,
        "detail": "An unexpected internal error has occurred. Please contact Support for more information.",
    }
    add_fault(
        server,
        kind="server_error",
        status=503,
        title="ComplianceRelated",
        detail="This method has been disabled.",
    )
    compliance = api(server, "reports").json()
    assert (compliance["status"], compliance["title"]) == (503, "ComplianceRelated")
    assert api(server, "reports").status_code == 200


def test_forbidden_fault_is_a_problem_document(server: SandboxServer) -> None:
    add_fault(server, kind="forbidden")
    response = api(server, "reports")
    assert response.status_code == 403 and response.json()["title"] == "Forbidden"


def test_invalid_token_fault_revokes_the_token_for_good(server: SandboxServer) -> None:
    add_fault(server, kind="invalid_token", path="/us19/3.0/reports")
    for _ in range(2):
        response = api(server, "reports")
        assert (response.status_code, without_instance(response.json())) == (401, WRONG_KEY)
    assert metadata(server, DEMO_ACCESS_TOKEN).json() == {"error": "invalid_token"}
    other = ACCOUNTS["40118002"].token
    assert api(server, "reports", other, dc="us6").status_code == 200  # other tokens keep working


def test_invalid_token_fault_on_the_metadata_endpoint(server: SandboxServer) -> None:
    add_fault(server, kind="invalid_token", path="/oauth2/metadata")
    assert metadata(server, DEMO_ACCESS_TOKEN).json() == {"error": "invalid_token"}
    assert api(server, "reports").status_code == 401


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("non_numeric_emails_sent", lambda r: r["emails_sent"] == "1,204"),
        ("missing_id", lambda r: "id" not in r),
        ("bad_send_time", lambda r: r["send_time"] == "2026-02-30T25:00:00+00:00"),
        ("non_numeric_bounces", lambda r: r["bounces"]["hard_bounces"] == "n/a"),
        ("not_an_object", lambda r: r == "report unavailable"),
    ],
)
def test_malformed_fault_breaks_one_report(server: SandboxServer, variant: str, check: Any) -> None:
    add_fault(server, kind="malformed", variant=variant, index=2)
    broken = reports(server, **august())["reports"]
    clean = reports(server, **august())["reports"]
    assert check(broken[2])
    assert broken[:2] == clean[:2] and broken[3:] == clean[3:]


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "malformed", "variant": "nonsense"},
        {"kind": "server_error", "status": 404},
        {"kind": "bare_throttle", "status": 500},
        {"kind": "no_such_fault"},
    ],
)
def test_fault_validation(server: SandboxServer, spec: dict[str, Any]) -> None:
    assert add_fault(server, **spec).status_code == 400


def test_delay_and_truncated_faults(server: SandboxServer) -> None:
    add_fault(server, kind="delay", seconds=0.3)
    started = time.monotonic()
    assert api(server, "reports").status_code == 200
    assert time.monotonic() - started >= 0.3
    add_fault(server, kind="truncated", path="/us19/3.0/reports")
    with pytest.raises(ValueError):
        api(server, "reports").json()
    assert api(server, "reports").json()["reports"]


# --------------------------------------------------------------------------- control endpoints and toolkit


def test_state_counts_requests_and_reports(server: SandboxServer) -> None:
    served = reports(server, **august(count=5))["reports"]
    reports(server, **august(count=5, offset=5))
    metadata(server, DEMO_ACCESS_TOKEN)
    state = requests.get(f"{server.url}/_sandbox/state", timeout=TIMEOUT).json()
    assert state["platform"] == "mailchimp"
    assert state["requests"]["reports"] == 2 and state["requests"]["metadata"] == 1
    assert state["counters"]["reports_served"] == 2 * len(served)
    assert [(q["offset"], q["count"]) for q in state["report_queries"]] == [(0, 5), (5, 5)]
    assert state["report_queries"][0]["since_send_time"] == "2026-08-01T00:00:00+00:00"


def test_reset_restores_revoked_tokens_and_clears_issued_ones(server: SandboxServer) -> None:
    issued = exchange(server, authorize(server)).json()["access_token"]
    add_fault(server, kind="invalid_token")
    assert api(server, "reports").status_code == 401
    add_fault(server, kind="rate_limit", times=5)
    assert requests.post(f"{server.url}/_sandbox/reset", timeout=TIMEOUT).status_code == 200
    state = requests.get(f"{server.url}/_sandbox/state", timeout=TIMEOUT).json()
    assert state["faults"] == [] and state["counters"] == {} and state["tokens"]["revoked"] == 0
    assert api(server, "reports").status_code == 200
    assert metadata(server, issued).json() == {"error": "invalid_token"}


def test_unknown_routes_and_methods(server: SandboxServer) -> None:
    missing = api(server, "lists")
    assert missing.status_code == 404 and missing.json()["title"] == "Resource Not Found"
    wrong_method = requests.get(f"{server.url}/oauth2/token", timeout=TIMEOUT)
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"


def test_env_points_the_app_at_the_server(server: SandboxServer) -> None:
    assert server.app.env(server.url) == {
        "MAILCHIMP_API_BASE_URL": f"{server.url}/{{dc}}",
        "MAILCHIMP_METADATA_URL": f"{server.url}/oauth2/metadata",
        "MAILCHIMP_TOKEN_URL": f"{server.url}/oauth2/token",
        "MAILCHIMP_AUTHORIZE_URL": f"{server.url}/oauth2/authorize",
        "MAILCHIMP_CLIENT_ID": "sandbox-mailchimp-client",
        "MAILCHIMP_CLIENT_SECRET": "sandbox-mailchimp-secret",
    }


def test_demo_connections_are_accepted(server: SandboxServer) -> None:
    assert len(DEMO_CONNECTIONS) == 1
    spec = DEMO_CONNECTIONS[0]
    body = metadata(server, spec["credentials"]["access_token"]).json()
    assert str(body["user_id"]) == spec["account_id"]


def test_the_registry_finds_the_fake() -> None:
    assert isinstance(create_sandbox("mailchimp"), MailchimpSandbox)

"""The Mailchimp connector against the sandbox: the per-stream matrix and Mailchimp's own cases."""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from connectors.auth import TokenSet
from connectors.base import Window
from connectors.errors import AuthError, MalformedResponse, PermanentError, RateLimited
from connectors.mailchimp.connector import (
    Connector,
    MailchimpErrorPolicy,
    annotate_report,
    api_base_url,
    bounces_total,
)
from etl.services import today_utc
from sandbox.core import SandboxServer
from sandbox.mailchimp import (
    ACCOUNTS,
    DEMO_ACCESS_TOKEN,
    MailchimpSandbox,
    expected_campaign_rows,
)

pytestmark = pytest.mark.embedded

DEMO = "40118001"
EMPTY = "40118003"
REPORTS = "/us19/3.0/reports"


def connector(
    account_id: str = DEMO,
    token: str | None = None,
    saved: list[TokenSet] | None = None,
    state: dict[str, Any] | None = None,
) -> Connector:
    return Connector(
        account_id=account_id,
        tokens=TokenSet(access_token=token if token is not None else ACCOUNTS[account_id].token),
        on_tokens=saved.append if saved is not None else None,
        state=state,
    )


def window(days: int = 30) -> Window:
    end = today_utc()
    return Window(end - timedelta(days=days - 1), end)


def pages(conn: Connector, win: Window) -> list[list[Any]]:
    return list(conn.extract(conn.stream("campaigns"), win))


def extracted(conn: Connector, win: Window) -> list[Any]:
    return [record for page in pages(conn, win) for record in page]


def as_truth(records: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (
            r["id"],
            datetime.fromisoformat(r["_send_time"]),
            r["emails_sent"],
            r["opens"]["opens_total"],
            r["opens"]["unique_opens"],
            r["clicks"]["clicks_total"],
            r["clicks"]["unique_subscriber_clicks"],
            r["_bounces_total"],
            r["unsubscribed"],
            r["opens"]["open_rate"],
            r["clicks"]["click_rate"],
        )
        for r in records
    }


def truth(app: MailchimpSandbox, win: Window, account_id: str = DEMO) -> set[tuple[Any, ...]]:
    return {
        (
            row["campaign_id"],
            row["send_time"],
            row["emails_sent"],
            row["opens"],
            row["unique_opens"],
            row["clicks"],
            row["unique_clicks"],
            row["bounces"],
            row["unsubscribes"],
            row["open_rate"],
            row["click_rate"],
        )
        for row in expected_campaign_rows(account_id, win.start, win.end, now=app.moment())
    }


def report_calls(app: MailchimpSandbox) -> int:
    return int(app.state()["requests"].get("reports", 0))


# --------------------------------------------------------------------------- the matrix


def test_one_page_returns_exactly_what_the_platform_serves(mailchimp_app: MailchimpSandbox) -> None:
    win = window()
    records = extracted(connector(), win)
    assert as_truth(records) == truth(mailchimp_app, win)
    assert len(records) == len(truth(mailchimp_app, win)) > 5
    assert report_calls(mailchimp_app) == 1
    first = records[0]
    assert isinstance(first["id"], str) and isinstance(first["emails_sent"], int)
    assert first["_bounces_total"] == sum(first["bounces"].values())
    assert "timeseries" not in first and "_links" not in first  # heavy parts are left out


def test_the_window_is_asked_for_by_send_time(mailchimp_app: MailchimpSandbox) -> None:
    win = window(10)
    extracted(connector(), win)
    query = mailchimp_app.state()["report_queries"][-1]
    assert query["since_send_time"] == f"{win.start.isoformat()}T00:00:00+00:00"
    assert query["before_send_time"] == f"{(win.end + timedelta(days=1)).isoformat()}T00:00:00+00:00"
    assert (query["offset"], query["count"]) == (0, 1000)
    assert "reports.timeseries" in query["exclude_fields"].split(",")


def test_many_pages_lose_nothing(mailchimp_app: MailchimpSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Connector, "page_size", 3)
    win = window()
    expected = truth(mailchimp_app, win)
    got = pages(connector(), win)
    assert as_truth([r for page in got for r in page]) == expected
    assert len(got) == math.ceil(len(expected) / 3) >= 3
    queries = [q for q in mailchimp_app.state()["report_queries"] if "since_send_time" in q]
    assert [(q["offset"], q["count"]) for q in queries] == [(3 * i, 3) for i in range(len(got))]


def test_page_size_never_exceeds_mailchimps_maximum(
    mailchimp_app: MailchimpSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Connector, "page_size", 5000)
    extracted(connector(), window(5))
    assert mailchimp_app.state()["report_queries"][-1]["count"] == 1000


def test_empty_account_yields_nothing(mailchimp_app: MailchimpSandbox) -> None:
    assert pages(connector(EMPTY), window()) == []


def test_throttled_then_success(mailchimp_app: MailchimpSandbox) -> None:
    mailchimp_app.faults.add("rate_limit", times=2, path=REPORTS)
    win = window()
    assert as_truth(extracted(connector(), win)) == truth(mailchimp_app, win)
    assert mailchimp_app.faults.pending() == []


def test_a_bare_403_is_throttling_and_is_retried(mailchimp_app: MailchimpSandbox) -> None:
    mailchimp_app.faults.add("bare_throttle", times=2, path=REPORTS)
    mailchimp_app.faults.add("bare_throttle", times=1, path=REPORTS, status=429)
    win = window()
    assert as_truth(extracted(connector(), win)) == truth(mailchimp_app, win)
    assert mailchimp_app.faults.pending() == []


def test_throttle_that_does_not_clear_is_rate_limited(settings: Any, mailchimp_app: MailchimpSandbox) -> None:
    settings.HTTP_MAX_ATTEMPTS = 3
    mailchimp_app.faults.add("bare_throttle", times=10, path=REPORTS)
    with pytest.raises(RateLimited, match="throttling"):
        extracted(connector(), window())
    assert report_calls(mailchimp_app) == 3


def test_server_error_then_success(mailchimp_app: MailchimpSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Connector, "page_size", 4)
    mailchimp_app.faults.add("server_error", times=1, after=1, path=REPORTS)
    mailchimp_app.faults.add("server_error", times=1, path="/oauth2/metadata", status=503)
    win = window()
    assert as_truth(extracted(connector(), win)) == truth(mailchimp_app, win)
    assert mailchimp_app.faults.pending() == []


def test_a_cut_body_is_read_again(mailchimp_app: MailchimpSandbox) -> None:
    mailchimp_app.faults.add("truncated", times=1, path=REPORTS)
    win = window()
    assert as_truth(extracted(connector(), win)) == truth(mailchimp_app, win)


def test_token_invalidated_mid_pagination_is_an_auth_error_and_is_not_retried(
    mailchimp_app: MailchimpSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mailchimp tokens never expire and cannot be refreshed: a token that stops working mid-run
    (the app was removed from the account) needs the account to be connected again."""
    monkeypatch.setattr(Connector, "page_size", 3)
    saved: list[TokenSet] = []
    mailchimp_app.faults.add("invalid_token", times=1, after=2, path=REPORTS)
    with pytest.raises(AuthError, match="Reconnect") as caught:
        extracted(connector(saved=saved), window())
    assert caught.value.status == 401 and caught.value.code == "API Key Invalid"
    assert not caught.value.expired
    assert report_calls(mailchimp_app) == 3  # two pages, then one refusal: no retry
    assert saved == []  # nothing was refreshed


def test_invalid_token_at_discovery_is_an_auth_error(mailchimp_app: MailchimpSandbox) -> None:
    with pytest.raises(AuthError, match="invalid_token") as caught:
        extracted(connector(token="revoked-or-mistyped"), window())
    assert caught.value.code == "invalid_token"
    assert mailchimp_app.state()["requests"] == {"metadata": 1}


def test_a_token_sent_to_another_data_centre_is_refused(mailchimp_app: MailchimpSandbox) -> None:
    conn = connector(state={"dc": "us6"})  # e.g. a data centre remembered from another account
    with pytest.raises(AuthError, match="wrong datacenter"):
        extracted(conn, window())


def test_a_json_403_is_permanent_and_not_retried(mailchimp_app: MailchimpSandbox) -> None:
    mailchimp_app.faults.add("forbidden", times=5, path=REPORTS)
    with pytest.raises(PermanentError, match="not permitted") as caught:
        extracted(connector(), window())
    assert caught.value.status == 403 and caught.value.code == "Forbidden"
    assert report_calls(mailchimp_app) == 1


def test_compliance_lockout_is_permanent(mailchimp_app: MailchimpSandbox) -> None:
    mailchimp_app.faults.add(
        "server_error",
        times=5,
        path=REPORTS,
        status=503,
        title="ComplianceRelated",
        detail="This method has been disabled.",
    )
    with pytest.raises(PermanentError, match="disabled API access"):
        extracted(connector(), window())
    assert report_calls(mailchimp_app) == 1


def test_a_malformed_report_is_passed_on_for_quarantine(mailchimp_app: MailchimpSandbox) -> None:
    mailchimp_app.faults.add("malformed", times=1, path=REPORTS, variant="non_numeric_bounces", index=0)
    records = extracted(connector(), window())
    assert records[0]["_bounces_total"] == "n/a"
    assert all(isinstance(r["_bounces_total"], int) for r in records[1:])


# --------------------------------------------------------------------------- data centre and account


def test_check_returns_the_account_name(mailchimp_app: MailchimpSandbox) -> None:
    conn = connector()
    assert conn.check() == "Northwind Traders"
    assert conn.state["dc"] == "us19" and conn.state["user_id"] == DEMO
    assert conn.state["api_endpoint"].endswith("/us19")


def test_a_token_of_another_account_is_refused(mailchimp_app: MailchimpSandbox) -> None:
    with pytest.raises(PermanentError, match="account id 40118001"):
        connector("40118002", token=DEMO_ACCESS_TOKEN).check()


def test_the_data_centre_is_asked_once_per_sync(mailchimp_app: MailchimpSandbox) -> None:
    first = connector()
    extracted(first, window(7))
    retry = connector(state=dict(first.state))  # a retried step gets the sync's state back
    extracted(retry, window(7))
    assert mailchimp_app.state()["requests"]["metadata"] == 1


def test_the_other_data_centre(mailchimp_app: MailchimpSandbox) -> None:
    conn, win = connector("40118002"), window(60)
    assert as_truth(extracted(conn, win)) == truth(mailchimp_app, win, "40118002")
    assert conn.state["dc"] == "us6"


def test_a_literal_api_base_url_is_used_as_it_is(
    settings: Any, mailchimp_sandbox: SandboxServer, mailchimp_app: MailchimpSandbox
) -> None:
    settings.MAILCHIMP_API_BASE_URL = f"{mailchimp_sandbox.url}/us19/3.0/"
    win = window(7)
    assert as_truth(extracted(connector(), win)) == truth(mailchimp_app, win)


def test_the_real_host_is_built_from_the_data_centre(settings: Any) -> None:
    settings.MAILCHIMP_API_BASE_URL = ""
    assert api_base_url("us19") == "https://us19.api.mailchimp.com"
    settings.MAILCHIMP_API_BASE_URL = "https://{dc}.api.mailchimp.com/3.0"
    assert api_base_url("us6") == "https://us6.api.mailchimp.com"


def test_a_metadata_answer_without_a_data_centre_is_malformed(
    mailchimp_app: MailchimpSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connector()
    monkeypatch.setattr(conn.client, "get_json", lambda *args, **kwargs: {"dc": "../evil.example"})
    with pytest.raises(MalformedResponse, match="data centre"):
        conn.check()


def test_tokens_are_never_refreshed(mailchimp_app: MailchimpSandbox) -> None:
    saved: list[TokenSet] = []
    conn = connector(saved=saved)
    assert Connector.oauth is not None and not Connector.oauth.refreshable
    assert conn.refresh_tokens() is conn.auth.tokens and saved == []
    with pytest.raises(AuthError, match="cannot be renewed"):
        conn.refresh_tokens(force=True)


def test_at_most_ten_simultaneous_requests_per_account(mailchimp_app: MailchimpSandbox) -> None:
    """Twenty-five workers at once: the shared limit keeps the account at ten connections."""
    mailchimp_app.latency = 0.2
    results: list[Any] = []
    lock = threading.Lock()

    def work() -> None:
        conn = connector(state={"dc": "us19"})
        answer = conn.client.get_json("/3.0/reports", params={"count": 1, "fields": "total_items"})
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=work) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 25
    state = mailchimp_app.state()
    assert state["peak_connections"][DEMO] == 10
    assert "connections_refused" not in state["counters"]


# --------------------------------------------------------------------------- units


def response(
    status: int, body: bytes = b"", content_type: str = "application/problem+json"
) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = body
    if body:
        answer.headers["Content-Type"] = content_type
    return answer


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (403, b"", RateLimited, None),
        (403, b"<html>Forbidden</html>", RateLimited, None),
        (403, b'{"title": "Forbidden", "status": 403, "detail": "No."}', PermanentError, "Forbidden"),
        (429, b'{"title": "Too Many Requests", "status": 429}', RateLimited, "Too Many Requests"),
        (401, b'{"title": "API Key Invalid", "status": 401}', AuthError, "API Key Invalid"),
        (200, b'{"error": "invalid_token"}', AuthError, "invalid_token"),
        (200, b'{"error": "something_else"}', PermanentError, "something_else"),
        (500, b'{"title": "Internal Server Error", "status": 500}', Exception, "Internal Server Error"),
    ],
)
def test_error_policy(status: int, body: bytes, error: type[Exception], code: str | None) -> None:
    found = MailchimpErrorPolicy().classify(response(status, body))
    assert isinstance(found, error)
    assert found.code == code
    if isinstance(found, AuthError):
        assert not found.expired  # never worth a refresh
    if isinstance(found, RateLimited):
        assert found.retry_after is None  # Mailchimp never says how long


def test_successful_answers_are_not_errors() -> None:
    assert MailchimpErrorPolicy().classify(response(200, b'{"reports": [], "total_items": 0}')) is None
    big = b'{"reports": [' + b",".join([b'{"error": "x"}'] * 1000) + b'], "error": "x"}'
    assert MailchimpErrorPolicy().classify(response(200, big)) is None  # large pages are not searched


@pytest.mark.parametrize(
    ("bounces", "total"),
    [
        ({"hard_bounces": 3, "soft_bounces": 4, "syntax_errors": 1}, 8),
        ({"hard_bounces": 3, "soft_bounces": 4.0}, 7),
        ({}, None),
        (None, None),
        ({"hard_bounces": "n/a", "soft_bounces": 4}, "n/a"),
        ({"hard_bounces": True}, True),
        ({"hard_bounces": 2.5}, 2.5),
        ("broken", "broken"),
    ],
)
def test_bounces_total(bounces: Any, total: Any) -> None:
    assert bounces_total(bounces) == total


def test_annotate_report() -> None:
    report = {
        "id": "a",
        "send_time": "",
        "bounces": {"hard_bounces": 1, "soft_bounces": 2, "syntax_errors": 0},
    }
    assert annotate_report(report) == {**report, "_bounces_total": 3, "_send_time": None}
    assert annotate_report("oops") == "oops"

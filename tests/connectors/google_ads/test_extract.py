"""The Google Ads connector, through the real google-ads library, against the gRPC sandbox: the
per-stream matrix, manager accounts, the error mapping and restatement."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connectors.auth import TokenSet
from connectors.base import Window
from connectors.errors import AuthError, PermanentError, RateLimited, TransientError
from connectors.google_ads.connector import Connector
from sandbox.google_ads import DEMO_REFRESH_TOKEN, GoogleAdsSandbox, expected_daily_rows
from tests.connectors.google_ads.support import (
    BIG_ACCOUNT,
    CANCELLED_CLIENT,
    DACH_CLIENT,
    EMPTY_ACCOUNT,
    MANAGER,
    STANDALONE,
    STREAM_PATH,
    US_CLIENT,
)

pytestmark = pytest.mark.embedded


def connector(account_id: str = STANDALONE, saved: list[TokenSet] | None = None, **options: str) -> Connector:
    return Connector(
        account_id=account_id,
        tokens=TokenSet(refresh_token=DEMO_REFRESH_TOKEN),
        options=options,
        on_tokens=saved.append if saved is not None else None,
    )


def manager(saved: list[TokenSet] | None = None) -> Connector:
    return connector(MANAGER, saved, login_customer_id="555-000-1000")


def window(app: GoogleAdsSandbox, days: int = 30, customer_id: str = STANDALONE) -> Window:
    end = app.today_for(customer_id)
    return Window(end - timedelta(days=days - 1), end)


def extracted(conn: Connector, win: Window) -> list[dict[str, Any]]:
    return [record for page in conn.extract(conn.stream("campaign_performance"), win) for record in page]


def as_truth(records: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (
            r["customer"]["id"],
            r["campaign"]["id"],
            date.fromisoformat(r["segments"]["date"]),
            r["metrics"]["impressions"],
            r["metrics"]["clicks"],
            Decimal(r["metrics"]["cost_micros"]).scaleb(-6),
            Decimal(repr(r["metrics"]["conversions"])),
        )
        for r in records
    }


def truth(win: Window, *customer_ids: str) -> set[tuple[Any, ...]]:
    return {
        (c, r["campaign_id"], r["date"], r["impressions"], r["clicks"], r["cost"], r["conversions"])
        for c in customer_ids
        for r in expected_daily_rows(c, win.start, win.end)
    }


def stream_calls(app: GoogleAdsSandbox) -> int:
    return int(app.state()["requests"].get("SearchStream", 0))


# -- the matrix -----------------------------------------------------------------------------------------


def test_one_page_returns_exactly_what_the_platform_serves(google_ads_app: GoogleAdsSandbox) -> None:
    win = window(google_ads_app, 7)
    records = extracted(connector(), win)
    assert as_truth(records) == truth(win, STANDALONE) and len(records) == len(truth(win, STANDALONE)) > 0
    first = records[0]
    assert first["customer"] == {
        "id": STANDALONE,
        "descriptive_name": "Fabrikam UK",
        "currency_code": "GBP",
        "time_zone": "Europe/London",
    }
    assert isinstance(first["campaign"]["id"], str) and first["campaign"]["name"]
    assert first["campaign"]["status"] in {"ENABLED", "PAUSED", "REMOVED"}
    assert first["campaign"]["advertising_channel_type"] in {
        "SEARCH",
        "DISPLAY",
        "VIDEO",
        "PERFORMANCE_MAX",
        "DEMAND_GEN",
    }
    metrics = first["metrics"]
    assert isinstance(metrics["cost_micros"], int) and isinstance(metrics["conversions"], float)
    assert set(metrics) == {
        "impressions",
        "clicks",
        "cost_micros",
        "conversions",
        "conversions_value",
        "view_through_conversions",
    }


def test_many_rows_arrive_in_several_stream_messages_and_lose_nothing(
    google_ads_app: GoogleAdsSandbox,
) -> None:
    google_ads_app.stream_batch_rows = 10_000  # the real service's batch size
    win = window(google_ads_app, 30, BIG_ACCOUNT)
    records = extracted(connector(BIG_ACCOUNT), win)
    expected = truth(win, BIG_ACCOUNT)
    assert len(expected) > 10_000
    assert as_truth(records) == expected and len(records) == len(expected)
    assert google_ads_app.counters[f"rows_served:{BIG_ACCOUNT}:campaign"] == len(expected)
    assert google_ads_app.counters["messages_served"] == 3  # the account (1), then the report (2)


def test_pages_follow_the_stream_messages(google_ads_app: GoogleAdsSandbox) -> None:
    conn, win = connector(), window(google_ads_app, 30)
    pages = list(conn.extract(conn.stream("campaign_performance"), win))
    assert len(pages) > 1 and all(0 < len(page) <= 100 for page in pages)


def test_a_window_longer_than_one_query_is_split(google_ads_app: GoogleAdsSandbox) -> None:
    win = window(google_ads_app, 45)
    assert as_truth(extracted(connector(), win)) == truth(win, STANDALONE)
    assert stream_calls(google_ads_app) == 3  # the account, then 30 + 15 days


def test_empty_account_yields_nothing(google_ads_app: GoogleAdsSandbox) -> None:
    assert extracted(connector(EMPTY_ACCOUNT), window(google_ads_app)) == []


def test_throttled_then_success(google_ads_app: GoogleAdsSandbox) -> None:
    google_ads_app.faults.add("rate_limit", times=2, path=STREAM_PATH, retry_delay_seconds=0.05)
    win = window(google_ads_app, 7)
    assert as_truth(extracted(connector(), win)) == truth(win, STANDALONE)
    assert google_ads_app.faults.pending() == []


def test_a_long_quota_wait_is_rate_limited_with_the_delay_google_gives(
    google_ads_app: GoogleAdsSandbox,
) -> None:
    google_ads_app.faults.add("rate_limit", times=1, path=STREAM_PATH, retry_delay_seconds=40591)
    with pytest.raises(RateLimited, match="quota") as caught:
        extracted(connector(), window(google_ads_app, 7))
    assert caught.value.retry_after == 40591 and caught.value.status == 429
    assert stream_calls(google_ads_app) == 1  # not retried inline: the Celery step waits instead


def test_throttle_that_does_not_clear_is_rate_limited(
    settings: Any, google_ads_app: GoogleAdsSandbox
) -> None:
    settings.HTTP_MAX_ATTEMPTS = 3
    google_ads_app.faults.add("rate_limit", times=10, path=STREAM_PATH, retry_delay_seconds=0.01)
    with pytest.raises(RateLimited):
        extracted(connector(), window(google_ads_app, 7))
    assert stream_calls(google_ads_app) == 3


@pytest.mark.parametrize("code", ["INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED"])
def test_server_error_then_success(google_ads_app: GoogleAdsSandbox, code: str) -> None:
    google_ads_app.faults.add("server_error", times=1, path=STREAM_PATH, code=code)
    win = window(google_ads_app, 7)
    assert as_truth(extracted(connector(), win)) == truth(win, STANDALONE)


def test_a_stream_cut_by_a_server_error_is_read_again_without_duplicates(
    google_ads_app: GoogleAdsSandbox,
) -> None:
    conn, win = connector(), window(google_ads_app, 30)
    conn.account(STANDALONE, None)  # the account query passes; the report stream is cut
    google_ads_app.faults.add("server_error", times=1, path=STREAM_PATH, after_batches=1)
    records = extracted(conn, win)
    assert as_truth(records) == truth(win, STANDALONE) and len(records) == len(truth(win, STANDALONE))


def test_server_errors_that_do_not_clear_are_transient(
    settings: Any, google_ads_app: GoogleAdsSandbox
) -> None:
    settings.HTTP_MAX_ATTEMPTS = 2
    google_ads_app.faults.add("server_error", times=5, path=STREAM_PATH)
    with pytest.raises(TransientError, match="INTERNAL"):
        extracted(connector(), window(google_ads_app, 7))


def test_token_expiring_mid_stream_is_refreshed_once_and_saved(google_ads_app: GoogleAdsSandbox) -> None:
    saved: list[TokenSet] = []
    conn, win = connector(saved=saved), window(google_ads_app, 30)
    conn.refresh_tokens(force=True)
    google_ads_app.faults.add("expire_token", times=1, after=1, path=STREAM_PATH, after_batches=1)
    records = extracted(conn, win)
    assert as_truth(records) == truth(win, STANDALONE) and len(records) == len(truth(win, STANDALONE))
    assert len(saved) == 2 and saved[0].access_token != saved[1].access_token
    assert saved[1].refresh_token == DEMO_REFRESH_TOKEN  # Google does not rotate refresh tokens
    assert google_ads_app.faults.pending() == []


def test_a_token_refused_again_after_refreshing_is_an_auth_error(google_ads_app: GoogleAdsSandbox) -> None:
    saved: list[TokenSet] = []
    google_ads_app.faults.add("expire_token", times=5, path=STREAM_PATH)
    with pytest.raises(AuthError, match="access token was rejected"):
        extracted(connector(saved=saved), window(google_ads_app, 7))
    assert len(saved) == 2  # the first token, and one refresh: no loop


def test_revoked_refresh_token_is_an_auth_error(google_ads_app: GoogleAdsSandbox) -> None:
    google_ads_app.faults.add("revoke_refresh", times=1)
    with pytest.raises(AuthError, match="Reconnect"):
        connector().refresh_tokens(force=True)


def test_permission_denied_is_permanent_and_says_what_to_fix(google_ads_app: GoogleAdsSandbox) -> None:
    with pytest.raises(PermanentError, match="login_customer_id") as caught:
        extracted(connector("5550009001"), window(google_ads_app, 3))
    assert "555-000-9001" in caught.value.message


def test_an_invalid_customer_id_is_permanent(google_ads_app: GoogleAdsSandbox) -> None:
    with pytest.raises(PermanentError, match="10 digits"):
        extracted(connector("12345"), window(google_ads_app, 3))


def test_a_client_reached_without_its_manager_is_permanent(google_ads_app: GoogleAdsSandbox) -> None:
    with pytest.raises(PermanentError, match="set the login_customer_id option"):
        extracted(connector(US_CLIENT), window(google_ads_app, 3))


def test_a_cancelled_account_is_permanent(google_ads_app: GoogleAdsSandbox) -> None:
    conn = connector(CANCELLED_CLIENT, login_customer_id=MANAGER)
    with pytest.raises(PermanentError, match="not enabled") as caught:
        extracted(conn, window(google_ads_app, 3))
    assert caught.value.code == "authorization_error.CUSTOMER_NOT_ENABLED" and caught.value.status == 403


# -- manager accounts -----------------------------------------------------------------------------------


def test_a_manager_connection_syncs_each_enabled_client(google_ads_app: GoogleAdsSandbox) -> None:
    conn, win = manager(), window(google_ads_app, 14, MANAGER)
    records = extracted(conn, win)
    assert as_truth(records) == truth(win, US_CLIENT, DACH_CLIENT)
    assert {(r["customer"]["id"], r["customer"]["currency_code"]) for r in records} == {
        (US_CLIENT, "USD"),
        (DACH_CLIENT, "EUR"),
    }
    assert [c["id"] for c in conn.state["skipped_clients"]] == [CANCELLED_CLIENT]
    assert conn.state["skipped_clients"][0]["status"] == "CANCELED"
    assert conn.state["notes"] == [
        "Skipped Google Ads client 555-000-1003 (Northwind – Legacy Brand): the account is CANCELED"
    ]
    report_calls = [c for c in google_ads_app.calls if c["method"] == "SearchStream"]
    assert {c["login_customer_id"] for c in report_calls} == {MANAGER}


def test_nested_managers_are_walked_and_only_enabled_advertisers_synced(
    google_ads_app: GoogleAdsSandbox,
) -> None:
    conn = connector("5550006000")
    win = window(google_ads_app, 5, "5550006000")
    records = extracted(conn, win)
    assert {r["customer"]["id"] for r in records} == {"5550006001", "5550006101"}
    assert as_truth(records) == truth(win, "5550006001", "5550006101")
    skipped = {c["id"]: (c["status"], c["level"]) for c in conn.state["skipped_clients"]}
    assert skipped == {"5550006002": ("SUSPENDED", 1), "5550006102": ("CLOSED", 2)}


def test_a_client_reached_through_its_manager_syncs_alone(google_ads_app: GoogleAdsSandbox) -> None:
    conn = connector(DACH_CLIENT, login_customer_id="555-000-1000")
    win = window(google_ads_app, 7, DACH_CLIENT)
    records = extracted(conn, win)
    assert as_truth(records) == truth(win, DACH_CLIENT)
    assert "skipped_clients" not in conn.state


def test_a_wrong_manager_is_permanent(google_ads_app: GoogleAdsSandbox) -> None:
    conn = connector(DACH_CLIENT, login_customer_id="5550006000")
    with pytest.raises(PermanentError, match="cannot be reached through manager 555-000-6000"):
        extracted(conn, window(google_ads_app, 3))


def test_a_manager_the_user_cannot_open_is_permanent(google_ads_app: GoogleAdsSandbox) -> None:
    conn = connector(DACH_CLIENT, login_customer_id="5550006100")
    with pytest.raises(PermanentError, match="cannot open manager account 555-000-6100"):
        extracted(conn, window(google_ads_app, 3))


def test_check_names_the_account(google_ads_app: GoogleAdsSandbox) -> None:
    assert connector().check() == "Fabrikam UK"
    assert manager().check() == "Northwind Agency (MCC) (manager)"


# -- transport ------------------------------------------------------------------------------------------


def test_no_developer_token_is_sent_unless_configured(
    settings: Any, google_ads_app: GoogleAdsSandbox
) -> None:
    connector().check()
    assert google_ads_app.calls[-1]["developer_token"] is None
    settings.GOOGLE_ADS_DEVELOPER_TOKEN = "abcdefghijklmnopqrstuv"
    connector().check()
    assert google_ads_app.calls[-1]["developer_token"] == "abcdefghijklmnopqrstuv"


def test_the_server_certificate_must_be_trusted(settings: Any, google_ads_app: GoogleAdsSandbox) -> None:
    settings.GOOGLE_ADS_CA_CERT = ""  # the system roots do not know the sandbox's CA
    settings.HTTP_MAX_ATTEMPTS = 2
    with pytest.raises(TransientError, match="UNAVAILABLE"):
        connector().check()
    assert stream_calls(google_ads_app) == 0


def test_an_unreadable_certificate_file_is_permanent(settings: Any, google_ads_app: GoogleAdsSandbox) -> None:
    settings.GOOGLE_ADS_CA_CERT = "/nonexistent/ca.pem"
    with pytest.raises(PermanentError, match="GOOGLE_ADS_CA_CERT"):
        connector().check()


# -- restatement ----------------------------------------------------------------------------------------


def test_conversions_of_recent_days_are_restated_the_next_day(google_ads_app: GoogleAdsSandbox) -> None:
    win = window(google_ads_app, 20)
    before = {(r["campaign"]["id"], r["segments"]["date"]): r for r in extracted(connector(), win)}
    real_clock = google_ads_app.clock
    google_ads_app.clock = lambda: real_clock() + 86_400
    after = {(r["campaign"]["id"], r["segments"]["date"]): r for r in extracted(connector(), win)}
    assert set(before) == set(after)  # the same rows: spend and clicks do not move
    changed = {key for key in before if before[key]["metrics"] != after[key]["metrics"]}
    assert changed and all(date.fromisoformat(day) > win.end - timedelta(days=14) for _, day in changed)
    assert all(
        before[key]["metrics"]["cost_micros"] == after[key]["metrics"]["cost_micros"] for key in before
    )
    assert any(after[k]["metrics"]["conversions"] > before[k]["metrics"]["conversions"] for k in changed)

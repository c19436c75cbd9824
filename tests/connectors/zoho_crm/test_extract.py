"""The Zoho CRM connector against the sandbox: the per-stream matrix and Zoho's special cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.auth import TokenSet
from connectors.base import Window
from connectors.errors import AuthError, MalformedResponse, PermanentError, RateLimited
from connectors.zoho_crm.connector import Connector, modified_since
from connectors.zoho_crm.paging import ZohoRecordsPaginator
from etl.services import today_utc
from sandbox.core import SandboxServer
from sandbox.zoho_crm import (
    DEMO_ORG,
    DEMO_REFRESH_TOKEN,
    GMBH_REFRESH_TOKEN,
    ZohoCrmSandbox,
    expected_records,
)
from tests.sandboxes import Clock, Sandboxes

pytestmark = pytest.mark.embedded

GMBH_ORG = "820017733"
MODULES = {"leads": "Leads", "deals": "Deals"}


def connector(
    account_id: str = DEMO_ORG,
    *,
    refresh_token: str = DEMO_REFRESH_TOKEN,
    saved: list[TokenSet] | None = None,
    options: dict[str, Any] | None = None,
) -> Connector:
    return Connector(
        account_id=account_id,
        tokens=TokenSet(refresh_token=refresh_token),
        options=options,
        on_tokens=saved.append if saved is not None else None,
    )


def window(days: int = 30) -> Window:
    end = today_utc()
    return Window(end - timedelta(days=days - 1), end)


def extracted(conn: Connector, stream: str, win: Window) -> list[Any]:
    return [record for page in conn.extract(conn.stream(stream), win) for record in page]


def served(account_id: str, stream: str, win: Window) -> list[str]:
    since = datetime.fromisoformat(modified_since(win))
    return [r["id"] for r in expected_records(account_id, MODULES[stream], since=since)]


def ids(records: list[Any]) -> list[str]:
    return [r["id"] for r in records]


def record_calls(app: ZohoCrmSandbox) -> int:
    return int(app.state()["requests"].get("get_records", 0))


# --------------------------------------------------------------------------- the matrix


def test_one_page_of_deals_is_exactly_what_is_served(zoho_app: ZohoCrmSandbox) -> None:
    win = window(3)
    records = extracted(connector(), "deals", win)
    assert ids(records) == served(DEMO_ORG, "deals", win) and 0 < len(records) <= 200
    assert record_calls(zoho_app) == 1
    deal = records[0]
    assert isinstance(deal["id"], str) and len(deal["id"]) == 19
    assert set(deal["Owner"]) == {"name", "id", "email"} and "+05:30" in deal["Modified_Time"]
    assert deal["_currency"] == deal["Currency"] and deal["_currency"] in {"USD", "EUR", "GBP"}


def test_more_than_two_thousand_leads_use_page_then_page_token(zoho_app: ZohoCrmSandbox) -> None:
    win = window(30)
    expected = served(DEMO_ORG, "leads", win)
    assert len(expected) > 2000
    records = extracted(connector(), "leads", win)
    assert ids(records) == expected and len(set(ids(records))) == len(expected)
    assert record_calls(zoho_app) == -(-len(expected) // 200)
    assert zoho_app.state()["counters"][f"served:{DEMO_ORG}:Leads"] == len(expected)


def test_converted_leads_are_included(zoho_app: ZohoCrmSandbox) -> None:
    records = extracted(connector(), "leads", window(10))
    converted = [r for r in records if r["$converted"] is True]
    assert converted and len(converted) < len(records)


def test_only_records_changed_in_the_window_are_read(zoho_app: ZohoCrmSandbox) -> None:
    win = window(3)
    records = extracted(connector(), "leads", win)
    start = datetime.fromisoformat(modified_since(win))
    assert records and all(datetime.fromisoformat(r["Modified_Time"]) > start for r in records)
    assert len(records) < len(served(DEMO_ORG, "leads", window(30)))


def test_an_org_without_leads_yields_nothing(zoho_app: ZohoCrmSandbox) -> None:
    conn = connector(GMBH_ORG, refresh_token=GMBH_REFRESH_TOKEN)
    assert extracted(conn, "leads", window()) == []
    assert record_calls(zoho_app) == 1  # one 204, no paging


def test_nothing_changed_since_the_window_start_is_a_304(zoho_app: ZohoCrmSandbox) -> None:
    future = Window(today_utc() + timedelta(days=1), today_utc() + timedelta(days=1))
    assert extracted(connector(), "deals", future) == []


def test_single_currency_org_gets_its_home_currency(zoho_app: ZohoCrmSandbox) -> None:
    conn = connector(GMBH_ORG, refresh_token=GMBH_REFRESH_TOKEN)
    records = extracted(conn, "deals", window())
    assert records and ids(records) == served(GMBH_ORG, "deals", window())
    assert {r["_currency"] for r in records} == {"EUR"} and all("Currency" not in r for r in records)
    assert all(r["_utm"] == {"utm_source": None, "utm_medium": None, "utm_campaign": None} for r in records)


def test_fields_missing_from_the_org_layout_are_not_requested(zoho_app: ZohoCrmSandbox) -> None:
    conn = connector(GMBH_ORG, refresh_token=GMBH_REFRESH_TOKEN)
    fields = conn.requested_fields(conn.stream("deals"))
    assert "Currency" not in fields and "UTM_Source" not in fields and "Amount" in fields
    assert "Campaign_Source" not in conn.requested_fields(conn.stream("leads"))


def test_utm_values_come_from_the_configured_custom_fields(zoho_app: ZohoCrmSandbox) -> None:
    records = extracted(connector(), "leads", window(5))
    assert any(r["_utm"]["utm_source"] for r in records)
    assert all(r["_utm"]["utm_source"] == r.get("UTM_Source") for r in records)
    renamed = connector(options={"utm_source_field": "Lead_Source"})
    records = extracted(renamed, "leads", window(5))
    assert all(r["_utm"]["utm_source"] == r["Lead_Source"] for r in records)


def test_throttled_then_success(zoho_app: ZohoCrmSandbox) -> None:
    zoho_app.faults.add("rate_limit", times=2, after=1, path="/crm/v8/Leads")
    win = window(30)
    assert ids(extracted(connector(), "leads", win)) == served(DEMO_ORG, "leads", win)
    assert zoho_app.state()["counters"]["throttled_fault"] == 2


def test_throttle_that_does_not_clear_is_rate_limited(settings: Any, zoho_app: ZohoCrmSandbox) -> None:
    settings.HTTP_MAX_ATTEMPTS = 3
    zoho_app.faults.add("rate_limit", times=10, path="/crm/v8/Deals")
    with pytest.raises(RateLimited, match="throttling this organization") as caught:
        extracted(connector(), "deals", window(7))
    assert caught.value.retry_after is None  # Zoho sends no Retry-After


def test_exhausted_credits_are_rate_limited(settings: Any, zoho_app: ZohoCrmSandbox) -> None:
    settings.HTTP_MAX_ATTEMPTS = 2
    zoho_app.credit_limit = 3
    with pytest.raises(RateLimited):
        extracted(connector(), "leads", window(30))


def test_server_error_then_success(zoho_app: ZohoCrmSandbox) -> None:
    zoho_app.faults.add("server_error", times=1, after=3, path="/crm/v8/Leads")
    win = window(30)
    assert ids(extracted(connector(), "leads", win)) == served(DEMO_ORG, "leads", win)


def test_truncated_body_is_retried(zoho_app: ZohoCrmSandbox) -> None:
    zoho_app.faults.add("truncated", times=1, after=2, path="/crm/v8/Leads")
    win = window(30)
    assert ids(extracted(connector(), "leads", win)) == served(DEMO_ORG, "leads", win)


def test_token_expiring_mid_pagination_is_refreshed_once_and_saved(zoho_app: ZohoCrmSandbox) -> None:
    saved: list[TokenSet] = []
    conn = connector(saved=saved)
    conn.refresh_tokens(force=True)
    zoho_app.faults.add("expire_token", times=1, after=10, path="/crm/v8/Leads")  # the page_token call
    win = window(30)
    assert ids(extracted(conn, "leads", win)) == served(DEMO_ORG, "leads", win)
    assert len(saved) == 2 and saved[0].access_token != saved[1].access_token
    assert saved[1].refresh_token == DEMO_REFRESH_TOKEN  # Zoho does not rotate it
    assert saved[1].extra["api_domain"] == saved[0].extra["api_domain"]


def test_access_token_older_than_an_hour_is_refreshed(sandboxes: Sandboxes) -> None:
    # A minute into today (UTC), so moving on by an hour never crosses midnight: the sandbox serves
    # the data of its own day, which must stay the test's day.
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    clock = Clock(midnight.timestamp() + 60)
    sandboxes.serve("zoho_crm", clock=clock)
    saved: list[TokenSet] = []
    conn = connector(saved=saved)
    conn.check()
    clock.advance(3601)
    win = window(3)
    assert ids(extracted(conn, "deals", win)) == served(DEMO_ORG, "deals", win)
    assert len(saved) == 2


def test_revoked_refresh_token_is_an_auth_error(zoho_app: ZohoCrmSandbox) -> None:
    zoho_app.faults.add("revoke_refresh", times=1)
    with pytest.raises(AuthError, match="Reconnect") as caught:
        connector().refresh_tokens(force=True)
    assert caught.value.code == "invalid_code"


def test_unknown_refresh_token_is_an_auth_error(zoho_app: ZohoCrmSandbox) -> None:
    with pytest.raises(AuthError):
        extracted(connector(refresh_token="1000.nope.nope"), "deals", window(3))


def test_wrong_client_credentials_are_permanent(settings: Any, zoho_app: ZohoCrmSandbox) -> None:
    settings.ZOHO_CRM_CLIENT_SECRET = "not-the-secret"
    with pytest.raises(PermanentError, match="ZOHO_CRM_CLIENT_ID") as caught:
        connector().refresh_tokens(force=True)
    assert "data centre" in caught.value.message and caught.value.code == "invalid_client"


def test_too_many_token_requests_are_a_throttle_not_a_revocation(zoho_app: ZohoCrmSandbox) -> None:
    zoho_app.tokens_per_window = 2
    conn = connector()
    conn.refresh_tokens(force=True)
    conn.refresh_tokens(force=True)
    with pytest.raises(RateLimited, match="ten per ten minutes"):
        conn.refresh_tokens(force=True)


def test_missing_scope_needs_reauthorization(zoho_app: ZohoCrmSandbox) -> None:
    conn = connector()
    conn.refresh_tokens(force=True)
    with zoho_app._lock:
        for token in zoho_app.access.values():
            token.scope = "ZohoCRM.modules.leads.READ"
    with pytest.raises(AuthError, match="permission") as caught:
        conn.check()
    assert caught.value.code == "OAUTH_SCOPE_MISMATCH" and not caught.value.expired


def test_an_expired_page_token_fails_the_step_for_a_retry(zoho_app: ZohoCrmSandbox) -> None:
    zoho_app.faults.add("expire_page_token", times=5, path="/crm/v8/Leads")
    with pytest.raises(MalformedResponse, match="EXPIRED_VALUE"):
        extracted(connector(), "leads", window(30))


def test_malformed_records_are_passed_on_for_quarantine(zoho_app: ZohoCrmSandbox) -> None:
    zoho_app.faults.add("malformed", times=1, path="/crm/v8/Deals", variant="not_an_object", index=0)
    records = extracted(connector(), "deals", window(5))
    assert records[0] == "record unavailable" and all(isinstance(r, dict) for r in records[1:])


# --------------------------------------------------------------------------- hosts and tokens


def test_check_names_the_org(zoho_app: ZohoCrmSandbox) -> None:
    assert connector().check() == "Northwind Traders"
    assert connector("5725767000000219001").check() == "Northwind Traders"  # the org id works too


def test_check_refuses_a_token_of_another_org(zoho_app: ZohoCrmSandbox) -> None:
    with pytest.raises(PermanentError, match="belongs to org 810004517"):
        connector(GMBH_ORG).check()


def test_api_domain_from_the_token_answer_is_the_api_host(zoho_sandbox: SandboxServer) -> None:
    conn = connector()
    assert conn.client.base_url == "https://www.zohoapis.com"  # unknown until the first refresh
    conn.check()
    assert conn.client.base_url == conn.auth.tokens.extra["api_domain"] == zoho_sandbox.url


def test_a_refresh_that_moves_the_api_domain_is_followed(zoho_sandbox: SandboxServer) -> None:
    app = zoho_sandbox.app
    assert isinstance(app, ZohoCrmSandbox)
    conn = connector()
    conn.check()
    moved = f"http://localhost:{zoho_sandbox.port}"
    app.api_domain = moved
    app.faults.add("expire_token", times=1, path="/crm/v8/Deals")
    win = window(3)
    assert ids(extracted(conn, "deals", win)) == served(DEMO_ORG, "deals", win)
    assert conn.client.base_url == moved and conn.auth.tokens.extra["api_domain"] == moved
    rebuilt = Connector(account_id=DEMO_ORG, tokens=conn.auth.tokens)
    assert rebuilt.client.base_url == moved


def test_api_base_url_setting_wins_over_api_domain(settings: Any, zoho_sandbox: SandboxServer) -> None:
    settings.ZOHO_CRM_API_BASE_URL = f"http://localhost:{zoho_sandbox.port}/"
    conn = connector()
    conn.check()
    assert conn.client.base_url == f"http://localhost:{zoho_sandbox.port}"


def test_an_api_domain_without_https_is_refused(zoho_app: ZohoCrmSandbox) -> None:
    zoho_app.api_domain = "http://api.example.com"
    with pytest.raises(PermanentError, match="HTTPS"):
        connector().check()


def test_accounts_server_option_and_setting(settings: Any) -> None:
    settings.ZOHO_CRM_ACCOUNTS_URL = ""
    settings.ZOHO_CRM_TOKEN_URL = ""
    assert connector().token_url() == "https://accounts.zoho.com/oauth/v2/token"
    eu = connector(options={"accounts_server": "accounts.zoho.eu/"})
    assert eu.token_url() == "https://accounts.zoho.eu/oauth/v2/token"
    assert eu.authorize_url() == "https://accounts.zoho.eu/oauth/v2/auth"
    settings.ZOHO_CRM_ACCOUNTS_URL = "https://accounts.zoho.in"
    assert eu.token_url() == "https://accounts.zoho.in/oauth/v2/token"
    settings.ZOHO_CRM_TOKEN_URL = "https://proxy.example/zoho/token"
    assert eu.token_url() == "https://proxy.example/zoho/token"


def test_requests_use_the_zoho_oauthtoken_scheme(zoho_app: ZohoCrmSandbox) -> None:
    conn = connector()
    conn.refresh_tokens(force=True)
    assert conn.auth.headers()["Authorization"].startswith("Zoho-oauthtoken 1000.")


def test_concurrency_is_capped_per_org(zoho_app: ZohoCrmSandbox) -> None:
    assert connector().client.concurrency is not None
    assert connector().concurrency_limit() == 5
    assert connector(options={"max_concurrent_requests": "15"}).concurrency_limit() == 15
    with pytest.raises(PermanentError, match="max_concurrent_requests"):
        connector(options={"max_concurrent_requests": "lots"})


# --------------------------------------------------------------------------- the paging rule


def test_paginator_switches_to_page_token_after_two_thousand_records() -> None:
    pager = ZohoRecordsPaginator(per_page=200, discrete_limit=2000)
    asked = [pager.first()]
    for page in range(1, 12):
        asked.append(pager.next({"info": {"more_records": True, "next_page_token": f"t{page}"}}) or {})
    assert asked[9] == {"per_page": 200, "page": 10}
    assert asked[10] == {"per_page": 200, "page_token": "t10"}
    assert asked[11] == {"per_page": 200, "page_token": "t11"}
    assert pager.next({"info": {"more_records": False, "next_page_token": None}}) is None
    assert pager.next(None) is None  # 204 / 304


def test_paginator_without_a_token_past_the_limit_is_malformed() -> None:
    pager = ZohoRecordsPaginator(per_page=1000, discrete_limit=2000)
    pager.first()
    assert pager.next({"info": {"more_records": True}}) == {"per_page": 1000, "page": 2}
    with pytest.raises(MalformedResponse, match="next_page_token"):
        pager.next({"info": {"more_records": True}})

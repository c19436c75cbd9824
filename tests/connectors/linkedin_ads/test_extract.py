"""The LinkedIn connector against the sandbox: the per-stream matrix."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from connectors.auth import TokenSet
from connectors.base import Window
from connectors.errors import AuthError, PermanentError, RateLimited
from connectors.linkedin_ads.connector import Connector
from etl.services import today_utc
from sandbox.linkedin_ads import DEMO_REFRESH_TOKEN, LinkedInAdsSandbox, expected_daily_rows

pytestmark = pytest.mark.embedded


def connector(account_id: str = "508000001", saved: list[TokenSet] | None = None) -> Connector:
    return Connector(
        account_id=account_id,
        tokens=TokenSet(refresh_token=DEMO_REFRESH_TOKEN),
        on_tokens=saved.append if saved is not None else None,
    )


def window(days: int = 30) -> Window:
    end = today_utc()
    return Window(end - timedelta(days=days - 1), end)


def extracted(conn: Connector, win: Window) -> list[dict[str, Any]]:
    stream = conn.stream("ad_analytics")
    return [record for page in conn.extract(stream, win) for record in page]


def as_truth(records: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    rows = set()
    for r in records:
        start = r["dateRange"]["start"]
        rows.add(
            (
                r["pivotValues"][0].rsplit(":", 1)[-1],
                f"{start['year']:04d}-{start['month']:02d}-{start['day']:02d}",
                r["impressions"],
                r["clicks"],
                Decimal(r["costInLocalCurrency"]),
            )
        )
    return rows


def truth(account_id: str, win: Window) -> set[tuple[Any, ...]]:
    return {
        (row["campaign_id"], row["date"].isoformat(), row["impressions"], row["clicks"], row["cost"])
        for row in expected_daily_rows(account_id, win.start, win.end)
    }


def analytics_calls(app: LinkedInAdsSandbox) -> int:
    requests = app.state().get("requests", {})
    return sum(v for k, v in requests.items() if "analytics" in k.lower())


def test_one_page_returns_exactly_what_the_platform_serves(linkedin_app: LinkedInAdsSandbox) -> None:
    conn, win = connector(), window()
    records = extracted(conn, win)
    assert as_truth(records) == truth("508000001", win)
    assert len(records) == len(truth("508000001", win)) > 0
    first = records[0]
    assert first["_account"]["currency"] == "USD"
    assert first["_campaign"]["name"]
    assert isinstance(first["impressions"], int) and isinstance(first["costInLocalCurrency"], str)


def test_many_pages_and_the_row_cap_lose_nothing(linkedin_app: LinkedInAdsSandbox) -> None:
    """700 campaigns: two pages of campaigns, and 21,000 rows for 30 days, over the 15,000 cap."""
    conn, win = connector("508000003"), window()
    records = extracted(conn, win)
    expected = truth("508000003", win)
    assert len(expected) > 15000
    assert as_truth(records) == expected and len(records) == len(expected)
    assert analytics_calls(linkedin_app) >= 2


def test_responses_at_the_cap_are_split_again(settings: Any, linkedin_app: LinkedInAdsSandbox) -> None:
    linkedin_app.row_cap = 100
    settings.LINKEDIN_ADS_ANALYTICS_ROW_CAP = 100
    conn, win = connector("508000002"), window(10)  # 40 campaigns: ~400 rows, several splits
    records = extracted(conn, win)
    assert as_truth(records) == truth("508000002", win)
    assert analytics_calls(linkedin_app) > 4


def test_empty_account_yields_nothing(linkedin_app: LinkedInAdsSandbox) -> None:
    assert extracted(connector("508000004"), window()) == []


def test_throttled_then_success(linkedin_app: LinkedInAdsSandbox) -> None:
    linkedin_app.faults.add("rate_limit", times=2, path="/rest/adAnalytics")
    win = window(7)
    assert as_truth(extracted(connector(), win)) == truth("508000001", win)


def test_throttle_that_does_not_clear_is_rate_limited(settings: Any, linkedin_app: LinkedInAdsSandbox) -> None:
    settings.HTTP_MAX_ATTEMPTS = 3
    linkedin_app.faults.add("rate_limit", times=10, path="/rest/adAnalytics")
    with pytest.raises(RateLimited, match="daily API limit"):
        extracted(connector(), window(7))


def test_server_error_then_success(linkedin_app: LinkedInAdsSandbox) -> None:
    linkedin_app.faults.add("server_error", times=1, path="/rest/")
    win = window(7)
    assert as_truth(extracted(connector(), win)) == truth("508000001", win)


def test_token_expiring_mid_run_is_refreshed_once_and_saved(linkedin_app: LinkedInAdsSandbox) -> None:
    saved: list[TokenSet] = []
    conn = connector("508000003", saved)
    conn.refresh_tokens(force=True)
    linkedin_app.faults.add("expire_token", times=1, after=3, path="/rest/")
    win = window()
    assert as_truth(extracted(conn, win)) == truth("508000003", win)
    assert len(saved) == 2  # the first token, then the one after expiry
    assert saved[0].access_token != saved[1].access_token
    assert saved[1].refresh_token == DEMO_REFRESH_TOKEN


def test_revoked_refresh_token_is_an_auth_error(linkedin_app: LinkedInAdsSandbox) -> None:
    linkedin_app.faults.add("revoke_refresh", times=1)
    with pytest.raises(AuthError, match="Reconnect"):
        connector().refresh_tokens(force=True)


def test_unknown_account_is_permanent(linkedin_app: LinkedInAdsSandbox) -> None:
    with pytest.raises(PermanentError, match="role on this ad account"):
        extracted(connector("999"), window(3))


def test_retired_api_version_names_the_setting(settings: Any, linkedin_app: LinkedInAdsSandbox) -> None:
    settings.LINKEDIN_ADS_API_VERSION = "202301"
    with pytest.raises(PermanentError, match="LINKEDIN_ADS_API_VERSION") as caught:
        connector().check()
    assert "202301" in caught.value.message


def test_check_returns_the_account_name(linkedin_app: LinkedInAdsSandbox) -> None:
    assert connector().check() == "Northwind – Demand Gen"


def test_without_the_account_endpoint_the_currency_comes_from_the_campaigns(
    linkedin_app: LinkedInAdsSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connector()
    real_get_json = conn.client.get_json

    def no_account_endpoint(path: str, **kwargs: Any) -> Any:
        if path == "/rest/adAccounts/508000001":
            raise PermanentError("LinkedIn answered HTTP 404", status=404)
        return real_get_json(path, **kwargs)

    monkeypatch.setattr(conn.client, "get_json", no_account_endpoint)
    win = window(5)
    records = extracted(conn, win)
    assert as_truth(records) == truth("508000001", win)
    assert {r["_account"]["currency"] for r in records} == {"USD"}
    assert conn.check() == "LinkedIn Ads 508000001"

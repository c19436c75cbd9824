"""The Google Ads sandbox matches the API as documented (docs/platform-apis.md, section 1), driven
over the wire: raw gRPC calls with the generated messages (no client library in between) and
plain HTTP for Google's OAuth endpoints."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
import requests
from google.protobuf import any_pb2
from google.rpc import status_pb2

from sandbox.core import SandboxServer
from sandbox.google_ads import (
    DEMO_REFRESH_TOKEN,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    GoogleAdsSandbox,
    expected_daily_rows,
)
from sandbox.google_ads import grpc_service as wire
from tests.connectors.google_ads.support import (
    CANCELLED_CLIENT,
    DACH_CLIENT,
    MANAGER,
    STANDALONE,
    US_CLIENT,
)
from tests.sandboxes import Sandboxes

pytestmark = pytest.mark.embedded

REPORT = (
    "SELECT customer.id, customer.currency_code, customer.time_zone, campaign.id, campaign.name, "
    "campaign.status, segments.date, metrics.impressions, metrics.clicks, metrics.cost_micros, "
    "metrics.conversions, metrics.conversions_value FROM campaign WHERE segments.date BETWEEN '{}' AND '{}'"
)


class Wire:
    """Raw gRPC access to the sandbox, and its HTTP side."""

    @classmethod
    @contextmanager
    def on(cls, server: SandboxServer) -> Iterator[Wire]:
        """A client of the running ``server``, its channel closed after."""
        client = cls(server)
        try:
            yield client
        finally:
            client.channel.close()

    def __init__(self, server: SandboxServer) -> None:
        app = server.app
        assert isinstance(app, GoogleAdsSandbox)
        self.app = app
        self.url = server.url
        self.channel = grpc.secure_channel(app.grpc_endpoint, grpc.ssl_channel_credentials(app.tls.ca_pem))
        self.stream = self.channel.unary_stream(
            wire.SEARCH_STREAM,
            request_serializer=wire._serialize,
            response_deserializer=wire.StreamResponse.FromString,
        )
        self.search = self.channel.unary_unary(
            wire.SEARCH,
            request_serializer=wire._serialize,
            response_deserializer=wire.SearchResponse.FromString,
        )
        self.accessible = self.channel.unary_unary(
            wire.LIST_ACCESSIBLE,
            request_serializer=wire._serialize,
            response_deserializer=wire.AccessibleResponse.FromString,
        )

    def token(self, **form: str) -> requests.Response:
        body = {
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": SANDBOX_CLIENT_SECRET,
            **form,
        }
        return requests.post(f"{self.url}/token", data=body, timeout=5)

    def access_token(self) -> str:
        return str(self.token().json()["access_token"])

    def metadata(self, token: str | None = None, login: str | None = None) -> list[tuple[str, str]]:
        found = [("authorization", f"Bearer {token or self.access_token()}")]
        return found + ([("login-customer-id", login)] if login else [])

    def stream_all(self, customer_id: str, query: str, **meta: Any) -> list[Any]:
        request = wire.StreamRequest(customer_id=customer_id, query=query)
        return list(self.stream(request, metadata=self.metadata(**meta), timeout=30))

    def report(self, customer_id: str, start: date, end: date, **meta: Any) -> list[Any]:
        return self.stream_all(customer_id, REPORT.format(start.isoformat(), end.isoformat()), **meta)


@pytest.fixture
def sandbox(sandboxes: Sandboxes) -> Iterator[Wire]:
    with Wire.on(sandboxes.serve("google_ads", stream_batch_rows=50, search_page_rows=40)) as client:
        yield client


def failure_of(error: grpc.RpcError) -> tuple[grpc.StatusCode, list[tuple[str, str]], Any]:
    """The status, the (family, name) of each GoogleAdsError, and the failure message itself."""
    trailers = dict(error.trailing_metadata() or ())
    raw = trailers.get(wire.FAILURE_KEY)
    failure = wire.GoogleAdsFailure.FromString(raw) if raw else None
    codes = []
    for item in failure.errors if failure else ():
        family = item.error_code.WhichOneof("error_code")
        number = getattr(item.error_code, family)
        codes.append(
            (
                family,
                item.error_code.DESCRIPTOR.fields_by_name[family].enum_type.values_by_number[number].name,
            )
        )
    return error.code(), codes, failure


def rejected(call: Any) -> tuple[grpc.StatusCode, list[tuple[str, str]], Any]:
    with pytest.raises(grpc.RpcError) as caught:
        result = call()
        if isinstance(result, Iterator):
            list(result)
    return failure_of(caught.value)


def today(sandbox: Wire, customer_id: str = STANDALONE) -> date:
    return sandbox.app.today_for(customer_id)


# -- OAuth over HTTP ------------------------------------------------------------------------------------


def test_refresh_grant_returns_a_one_hour_token_and_no_new_refresh_token(sandbox: Wire) -> None:
    response = sandbox.token()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["expires_in"] == 3599 and body["token_type"] == "Bearer"
    assert body["scope"] == "https://www.googleapis.com/auth/adwords"


def test_client_credentials_may_come_as_basic_auth(sandbox: Wire) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": DEMO_REFRESH_TOKEN}
    response = requests.post(
        f"{sandbox.url}/token", data=form, auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET), timeout=5
    )
    assert response.status_code == 200


def test_revoked_refresh_token_is_invalid_grant(sandbox: Wire) -> None:
    sandbox.app.faults.add("revoke_refresh", times=1)
    response = sandbox.token()
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    assert sandbox.token().status_code == 400  # revoked for good


def test_unknown_client_is_invalid_client(sandbox: Wire) -> None:
    response = sandbox.token(client_secret="wrong")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_the_token_endpoint_wants_a_form(sandbox: Wire) -> None:
    response = requests.post(f"{sandbox.url}/token", json={"grant_type": "refresh_token"}, timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_authorization_code_flow_gives_a_refresh_token(sandbox: Wire) -> None:
    redirect = "http://127.0.0.1:8000/connections/callback"
    params = {
        "client_id": SANDBOX_CLIENT_ID,
        "redirect_uri": redirect,
        "response_type": "code",
        "scope": "https://www.googleapis.com/auth/adwords",
        "access_type": "offline",
        "state": "xyz",
    }
    answer = requests.get(f"{sandbox.url}/o/oauth2/v2/auth", params=params, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect and query["state"] == ["xyz"]
    body = sandbox.token(grant_type="authorization_code", code=query["code"][0], redirect_uri=redirect).json()
    assert body["refresh_token"] and body["access_token"]
    assert sandbox.token(refresh_token=body["refresh_token"]).status_code == 200


def test_env_points_the_app_at_both_transports(sandbox: Wire) -> None:
    env = sandbox.app.env(sandbox.url)
    assert env["GOOGLE_ADS_API_ENDPOINT"] == sandbox.app.grpc_endpoint
    assert env["GOOGLE_ADS_TOKEN_URL"] == f"{sandbox.url}/token"
    assert Path(env["GOOGLE_ADS_CA_CERT"]).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert env["GOOGLE_ADS_CLIENT_ID"] == SANDBOX_CLIENT_ID
    assert env["GOOGLE_ADS_CLIENT_SECRET"] == SANDBOX_CLIENT_SECRET


# -- transport and authentication ------------------------------------------------------------------------


def test_tls_with_a_certificate_only_the_sandbox_ca_vouches_for(sandbox: Wire) -> None:
    untrusting = grpc.secure_channel(sandbox.app.grpc_endpoint, grpc.ssl_channel_credentials())
    call = untrusting.unary_unary(
        wire.LIST_ACCESSIBLE,
        request_serializer=wire._serialize,
        response_deserializer=wire.AccessibleResponse.FromString,
    )
    status, _, _ = rejected(lambda: call(wire.AccessibleRequest(), metadata=sandbox.metadata(), timeout=5))
    assert status == grpc.StatusCode.UNAVAILABLE
    untrusting.close()


def test_a_call_without_a_bearer_token_is_unauthenticated(sandbox: Wire) -> None:
    status, codes, _ = rejected(lambda: sandbox.accessible(wire.AccessibleRequest(), timeout=5))
    assert status == grpc.StatusCode.UNAUTHENTICATED and codes == []


def test_an_unknown_token_is_oauth_token_invalid(sandbox: Wire) -> None:
    status, codes, _ = rejected(
        lambda: sandbox.accessible(
            wire.AccessibleRequest(), metadata=sandbox.metadata("ya29.nope"), timeout=5
        )
    )
    assert status == grpc.StatusCode.UNAUTHENTICATED
    assert codes == [("authentication_error", "OAUTH_TOKEN_INVALID")]


def test_tokens_expire_after_their_lifetime(sandbox: Wire) -> None:
    token = sandbox.access_token()
    real_clock = sandbox.app.clock
    sandbox.app.clock = lambda: real_clock() + 3600
    status, codes, _ = rejected(
        lambda: sandbox.accessible(wire.AccessibleRequest(), metadata=sandbox.metadata(token), timeout=5)
    )
    assert status == grpc.StatusCode.UNAUTHENTICATED
    assert codes == [("authentication_error", "OAUTH_TOKEN_EXPIRED")]


def test_list_accessible_customers_names_the_directly_accessible_accounts(sandbox: Wire) -> None:
    response = sandbox.accessible(wire.AccessibleRequest(), metadata=sandbox.metadata(), timeout=5)
    names = list(response.resource_names)
    assert f"customers/{MANAGER}" in names and f"customers/{STANDALONE}" in names
    assert f"customers/{US_CLIENT}" not in names  # a client is reached through its manager
    assert all(name.startswith("customers/") and name[10:].isdigit() for name in names)


# -- SearchStream -----------------------------------------------------------------------------------------


def test_search_stream_serves_the_expected_rows_in_batches(sandbox: Wire) -> None:
    end = today(sandbox)
    start = end - timedelta(days=29)
    batches = sandbox.report(STANDALONE, start, end)
    rows = [row for batch in batches for row in batch.results]
    expected = expected_daily_rows(STANDALONE, start, end, today=end)
    assert len(batches) > 1 and all(len(b.results) <= 50 for b in batches)
    assert len({b.request_id for b in batches}) == 1 and batches[0].request_id
    assert [b.query_resource_consumption > 0 for b in batches] == [False] * (len(batches) - 1) + [True]
    assert list(batches[0].field_mask.paths) == [
        "customer.id",
        "customer.currency_code",
        "customer.time_zone",
        "campaign.id",
        "campaign.name",
        "campaign.status",
        "segments.date",
        "metrics.impressions",
        "metrics.clicks",
        "metrics.cost_micros",
        "metrics.conversions",
        "metrics.conversions_value",
    ]
    served = {
        (str(r.campaign.id), r.segments.date, r.metrics.impressions, r.metrics.clicks, r.metrics.cost_micros)
        for r in rows
    }
    assert served == {
        (e["campaign_id"], e["date"].isoformat(), e["impressions"], e["clicks"], e["cost_micros"])
        for e in expected
    }
    assert len(rows) == len(expected)
    first = rows[0]
    assert first.customer.resource_name == f"customers/{STANDALONE}" and first.customer.currency_code == "GBP"
    assert first.campaign.resource_name == f"customers/{STANDALONE}/campaigns/{first.campaign.id}"
    assert isinstance(first.metrics.cost_micros, int) and isinstance(first.metrics.conversions, float)
    assert not first.HasField("customer_client") and not first.campaign.HasField("start_date_time")


def test_rows_without_delivery_are_not_returned(sandbox: Wire) -> None:
    end = today(sandbox)
    batches = sandbox.report("5550004001", end - timedelta(days=10), end)
    assert [len(b.results) for b in batches] == [0]  # one empty message
    assert all(r.metrics.impressions > 0 for b in sandbox.report(STANDALONE, end, end) for r in b.results)


def test_money_is_in_micros_and_conversions_are_doubles(sandbox: Wire) -> None:
    end = today(sandbox)
    start = end - timedelta(days=29)
    rows = [r for b in sandbox.report(STANDALONE, start, end) for r in b.results]
    by_key = {(str(r.campaign.id), r.segments.date): r for r in rows}
    for expected in expected_daily_rows(STANDALONE, start, end, today=end):
        row = by_key[(expected["campaign_id"], expected["date"].isoformat())]
        assert Decimal(row.metrics.cost_micros).scaleb(-6) == expected["cost"]
        assert Decimal(repr(row.metrics.conversions)) == expected["conversions"]


def test_dates_stop_at_the_accounts_local_today(sandbox: Wire) -> None:
    end = today(sandbox, DACH_CLIENT)
    rows = [
        r for b in sandbox.report(DACH_CLIENT, end, end + timedelta(days=5), login=MANAGER) for r in b.results
    ]
    assert rows and {r.segments.date for r in rows} == {end.isoformat()}


def test_conversions_of_recent_days_change_from_one_day_to_the_next(sandbox: Wire) -> None:
    end = today(sandbox)
    old_day, recent_day = end - timedelta(days=20), end - timedelta(days=1)

    def conversions(day: date) -> dict[str, float]:
        return {
            str(r.campaign.id): r.metrics.conversions
            for b in sandbox.report(STANDALONE, day, day)
            for r in b.results
        }

    before_old, before_recent = conversions(old_day), conversions(recent_day)
    assert conversions(recent_day) == before_recent  # the same for a given day
    real_clock = sandbox.app.clock
    sandbox.app.clock = lambda: real_clock() + 86_400
    assert conversions(old_day) == before_old
    after_recent = conversions(recent_day)
    assert after_recent != before_recent and all(after_recent[k] >= before_recent[k] for k in before_recent)


def test_clients_need_their_managers_login_customer_id(sandbox: Wire) -> None:
    end = today(sandbox, US_CLIENT)
    status, codes, failure = rejected(lambda: sandbox.report(US_CLIENT, end, end))
    assert status == grpc.StatusCode.PERMISSION_DENIED
    assert codes == [("authorization_error", "USER_PERMISSION_DENIED")]
    assert "login-customer-id" in failure.errors[0].message
    assert sandbox.report(US_CLIENT, end, end, login=MANAGER)


def test_another_managers_id_does_not_open_a_client(sandbox: Wire) -> None:
    end = today(sandbox, US_CLIENT)
    status, codes, _ = rejected(lambda: sandbox.report(US_CLIENT, end, end, login="5550006000"))
    assert status == grpc.StatusCode.PERMISSION_DENIED and codes == [
        ("authorization_error", "USER_PERMISSION_DENIED")
    ]


def test_a_cancelled_client_is_not_enabled(sandbox: Wire) -> None:
    end = today(sandbox)
    status, codes, _ = rejected(lambda: sandbox.report(CANCELLED_CLIENT, end, end, login=MANAGER))
    assert status == grpc.StatusCode.PERMISSION_DENIED and codes == [
        ("authorization_error", "CUSTOMER_NOT_ENABLED")
    ]


@pytest.mark.parametrize("customer_id", ["555-000-3001", "555000300", "abcdefghij"])
def test_customer_ids_are_ten_digits_without_hyphens(sandbox: Wire, customer_id: str) -> None:
    status, codes, _ = rejected(lambda: sandbox.stream_all(customer_id, "SELECT customer.id FROM customer"))
    assert status == grpc.StatusCode.INVALID_ARGUMENT and codes == [("request_error", "INVALID_CUSTOMER_ID")]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("SELECT campaign.id, campaign.colour FROM campaign", "UNRECOGNIZED_FIELD"),
        ("SELECT campaign.id, segments.date, metrics.clicks FROM campaign", "EXPECTED_FILTERS_ON_DATE_RANGE"),
        (
            "SELECT segments.date, metrics.clicks FROM campaign WHERE segments.date >= '2026-11-01'",
            "EXPECTED_FILTERS_ON_DATE_RANGE",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date BETWEEN '2026-11-05' AND '2026-11-01'",
            "DATE_RANGE_TOO_NARROW",
        ),
        ("SELECT campaign.id FROM campaign WHERE segments.date = '11/01/2026'", "INVALID_DATE_FORMAT"),
        ("SELECT campaign.id FROM campaigns", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
        ("SELECT campaign.id FROM customer", "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"),
        (
            "SELECT customer_client.id, metrics.clicks FROM customer_client",
            "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        ("SELECT campaign.id FROM campaign WHERE campaign.status = RUNNING", "BAD_ENUM_CONSTANT"),
        ("SELECT campaign.id FROM campaign WHERE campaign.id = 1 OR campaign.id = 2", "UNEXPECTED_INPUT"),
        ("SELECT campaign.id FROM campaign WHERE campaign.id BETWEEN 1 2", "EXPECTED_AND"),
        ("SELECT campaign.id FROM campaign LIMIT 0", "LIMIT_VALUE_TOO_LOW"),
        ("SELECT campaign.id FROM campaign WHERE campaign.name = 'open", "STRING_NOT_TERMINATED"),
        ("campaign.id FROM campaign", "EXPECTED_SELECT"),
        ("SELECT campaign.id campaign", "EXPECTED_FROM"),
    ],
)
def test_queries_the_api_rejects_are_rejected(sandbox: Wire, query: str, name: str) -> None:
    status, codes, _ = rejected(lambda: sandbox.stream_all(STANDALONE, query))
    assert status == grpc.StatusCode.INVALID_ARGUMENT and codes == [("query_error", name)]


def test_metrics_cannot_be_asked_of_a_manager(sandbox: Wire) -> None:
    end = today(sandbox, MANAGER)
    status, codes, _ = rejected(lambda: sandbox.report(MANAGER, end, end))
    assert status == grpc.StatusCode.INVALID_ARGUMENT
    assert codes == [("query_error", "REQUESTED_METRICS_FOR_MANAGER")]


def test_fields_the_sandbox_does_not_model_are_not_answered_wrongly(sandbox: Wire) -> None:
    status, _, _ = rejected(
        lambda: sandbox.stream_all(STANDALONE, "SELECT campaign.bidding_strategy_type FROM campaign")
    )
    assert status == grpc.StatusCode.UNIMPLEMENTED


def test_customer_client_lists_the_hierarchy_with_levels(sandbox: Wire) -> None:
    query = (
        "SELECT customer_client.client_customer, customer_client.level, customer_client.manager, "
        "customer_client.status, customer_client.currency_code FROM customer_client"
    )
    rows = [r.customer_client for b in sandbox.stream_all("5550006000", query) for r in b.results]
    found = {(c.client_customer, c.level, c.manager, c.status) for c in rows}
    status = {v.name: v.number for v in rows[0].DESCRIPTOR.fields_by_name["status"].enum_type.values}
    assert found == {
        ("customers/5550006000", 0, True, status["ENABLED"]),
        ("customers/5550006001", 1, False, status["ENABLED"]),
        ("customers/5550006002", 1, False, status["SUSPENDED"]),
        ("customers/5550006100", 1, True, status["ENABLED"]),
        ("customers/5550006101", 2, False, status["ENABLED"]),
        ("customers/5550006102", 2, False, status["CLOSED"]),
    }
    assert all(c.resource_name.startswith("customers/5550006000/customerClients/") for c in rows)


def test_where_filters_order_and_limit_apply(sandbox: Wire) -> None:
    query = (
        "SELECT campaign.id, campaign.status FROM campaign WHERE campaign.status IN ('ENABLED', 'PAUSED') "
        "ORDER BY campaign.id DESC LIMIT 3"
    )
    rows = [r.campaign for b in sandbox.stream_all(STANDALONE, query) for r in b.results]
    assert len(rows) == 3 and [c.id for c in rows] == sorted((c.id for c in rows), reverse=True)


# -- Search (paged) ---------------------------------------------------------------------------------------


def test_search_pages_have_a_fixed_size_and_the_last_has_no_token(sandbox: Wire) -> None:
    end = today(sandbox)
    query = REPORT.format((end - timedelta(days=13)).isoformat(), end.isoformat())
    request = wire.SearchRequest(customer_id=STANDALONE, query=query)
    request.search_settings.return_total_results_count = True
    metadata, pages = sandbox.metadata(), []
    while True:
        page = sandbox.search(request, metadata=metadata, timeout=10)
        pages.append(page)
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert len(pages) > 1 and all(len(p.results) == 40 for p in pages[:-1])
    assert sum(len(p.results) for p in pages) == pages[0].total_results_count > 40


def test_search_refuses_a_page_size(sandbox: Wire) -> None:
    request = wire.SearchRequest(
        customer_id=STANDALONE, query="SELECT campaign.id FROM campaign", page_size=100
    )
    status, codes, _ = rejected(lambda: sandbox.search(request, metadata=sandbox.metadata(), timeout=5))
    assert status == grpc.StatusCode.INVALID_ARGUMENT and codes == [
        ("request_error", "PAGE_SIZE_NOT_SUPPORTED")
    ]


# -- faults ---------------------------------------------------------------------------------------------


def test_throttle_is_resource_exhausted_with_a_retry_delay(sandbox: Wire) -> None:
    sandbox.app.faults.add("rate_limit", times=1, retry_delay_seconds=40591)
    status, codes, failure = rejected(
        lambda: sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer")
    )
    assert status == grpc.StatusCode.RESOURCE_EXHAUSTED and codes == [("quota_error", "RESOURCE_EXHAUSTED")]
    details = failure.errors[0].details.quota_error_details
    assert details.retry_delay.seconds == 40591 and details.rate_name
    assert (
        details.rate_scope
        == details.DESCRIPTOR.fields_by_name["rate_scope"].enum_type.values_by_name["DEVELOPER"].number
    )


def test_a_daily_operations_quota_resets_when_the_sandbox_clock_passes_midnight(sandbox: Wire) -> None:
    answer = requests.post(f"{sandbox.url}/_sandbox/quota", json={"daily_operations": 2}, timeout=5)
    assert answer.status_code == 200 and answer.json()["daily_operations"] == 2
    token = sandbox.access_token()
    for _ in range(2):
        assert sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer", token=token)
    status, codes, failure = rejected(
        lambda: sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer", token=token)
    )
    assert status == grpc.StatusCode.RESOURCE_EXHAUSTED and codes == [("quota_error", "RESOURCE_EXHAUSTED")]
    delay = failure.errors[0].details.quota_error_details.retry_delay.seconds
    now = sandbox.app.now()
    past_midnight = (now + delay) % 86_400
    assert 0 < delay <= 86_400 and past_midnight < 1  # until the sandbox day ends
    assert sandbox.app.state()["operations_today"] == 2  # a refused call is not an operation
    moved = requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance_seconds": delay}, timeout=5)
    assert moved.status_code == 200 and moved.json()["now"] >= now + delay
    assert sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer")  # hours later: a new token
    assert sandbox.app.state()["operations_today"] == 1
    refused = requests.post(f"{sandbox.url}/_sandbox/clock", json={"advance_seconds": -5}, timeout=5)
    assert refused.status_code == 400  # the clock never goes back


def test_failures_are_also_packed_in_the_rpc_status(sandbox: Wire) -> None:
    sandbox.app.faults.add("rate_limit", times=1, retry_delay_seconds=3)
    with pytest.raises(grpc.RpcError) as caught:
        sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer")
    trailers = dict(caught.value.trailing_metadata())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    packed: any_pb2.Any = status.details[0]
    assert packed.type_url.endswith("google.ads.googleads.v26.errors.GoogleAdsFailure")
    assert trailers["request-id"]


@pytest.mark.parametrize("code", ["INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED"])
def test_server_errors(sandbox: Wire, code: str) -> None:
    sandbox.app.faults.add("server_error", times=1, code=code)
    status, _, _ = rejected(lambda: sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer"))
    assert status == getattr(grpc.StatusCode, code)
    assert sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer")  # once only


def test_a_token_can_expire_in_the_middle_of_a_stream(sandbox: Wire) -> None:
    token = sandbox.access_token()
    sandbox.app.faults.add("expire_token", times=1, after_batches=1)
    end = today(sandbox)
    request = wire.StreamRequest(customer_id=STANDALONE, query=REPORT.format(end - timedelta(days=29), end))
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for batch in sandbox.stream(request, metadata=sandbox.metadata(token), timeout=10):
            received.append(batch)
    assert len(received) == 1
    assert failure_of(caught.value)[:2] == (
        grpc.StatusCode.UNAUTHENTICATED,
        [("authentication_error", "OAUTH_TOKEN_EXPIRED")],
    )
    status, _, _ = rejected(
        lambda: sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer", token=token)
    )
    assert status == grpc.StatusCode.UNAUTHENTICATED  # that token stays expired
    assert sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer")  # a fresh one works


def test_malformed_rows_lose_their_date(sandbox: Wire) -> None:
    sandbox.app.faults.add("malformed", times=1, index=0)
    end = today(sandbox)
    rows = [r for b in sandbox.report(STANDALONE, end - timedelta(days=3), end) for r in b.results]
    assert not rows[0].segments.HasField("date") and all(r.segments.HasField("date") for r in rows[1:])


def test_account_totals_from_customer_sum_every_campaign_of_the_days(sandbox: Wire) -> None:
    end = today(sandbox)
    start = end - timedelta(days=20)
    query = (
        "SELECT customer.currency_code, metrics.impressions, metrics.clicks, metrics.cost_micros, "
        f"metrics.conversions FROM customer WHERE segments.date BETWEEN '{start}' AND '{end}'"
    )
    (total,) = [r for b in sandbox.stream_all(STANDALONE, query) for r in b.results]
    expected = expected_daily_rows(STANDALONE, start, end, today=end)

    assert total.customer.currency_code == "GBP" and not total.segments.HasField("date")
    assert total.metrics.impressions == sum(e["impressions"] for e in expected) > 0
    assert total.metrics.clicks == sum(e["clicks"] for e in expected)
    assert total.metrics.cost_micros == sum(e["cost_micros"] for e in expected)
    assert abs(Decimal(repr(total.metrics.conversions)) - sum(e["conversions"] for e in expected)) < Decimal("0.0001")


def test_silent_gap_drops_rows_from_one_stream_message(sandbox: Wire) -> None:
    end = today(sandbox)
    clean = [list(b.results) for b in sandbox.report(STANDALONE, end - timedelta(days=29), end)]
    sandbox.app.faults.add("silent_gap", drop=3, after=1)

    gapped = [list(b.results) for b in sandbox.report(STANDALONE, end - timedelta(days=29), end)]

    assert len(clean) > 2 and gapped[0] == clean[0] and gapped[2:] == clean[2:]
    assert gapped[1] == clean[1][3:] and sandbox.app.counters["silent_gap_dropped"] == 3


def test_faults_can_be_planned_and_counters_read_over_http(sandbox: Wire) -> None:
    planned = requests.post(
        f"{sandbox.url}/_sandbox/faults",
        json={"kind": "server_error", "path": wire.SEARCH_STREAM, "code": "UNAVAILABLE"},
        timeout=5,
    )
    assert planned.status_code == 201
    status, _, _ = rejected(lambda: sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer"))
    assert status == grpc.StatusCode.UNAVAILABLE
    sandbox.stream_all(STANDALONE, "SELECT customer.id FROM customer")
    state = requests.get(f"{sandbox.url}/_sandbox/state", timeout=5).json()
    assert state["requests"]["SearchStream"] == 2 and state["requests"]["token"] == 2
    assert state["counters"][f"rows_served:{STANDALONE}:customer"] == 1
    bad = requests.post(
        f"{sandbox.url}/_sandbox/faults", json={"kind": "server_error", "code": "OOPS"}, timeout=5
    )
    assert bad.status_code == 400


def test_delay_fault_slows_a_grpc_call(sandbox: Wire) -> None:
    sandbox.app.faults.add("delay", times=1, path=wire.LIST_ACCESSIBLE, seconds=0.3)
    metadata = sandbox.metadata()
    started = time.monotonic()
    sandbox.accessible(wire.AccessibleRequest(), metadata=metadata, timeout=5)
    assert time.monotonic() - started >= 0.3

"""The Demandbase connector's small parts, without a server: error mapping, token answers, paging,
result files, intent aggregation and option parsing."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import requests

from connectors.auth import TokenSet
from connectors.demandbase.connector import INTENT_PAGE_SIZE, parse_ids
from connectors.demandbase.export import JOB_NAME_MAX, ExportTiming, job_name
from connectors.demandbase.intent import daily_intent
from connectors.demandbase.keyset import token_set_from_exchange
from connectors.demandbase.paging import PageTotalPaginator
from connectors.demandbase.policy import DemandbaseErrorPolicy, DownloadPolicy, KeySetPolicy
from connectors.demandbase.results import nest_fields, parse_results
from connectors.errors import AuthError, MalformedResponse, PermanentError, RateLimited, TransientError
from connectors.paginators import CursorPaginator

pytestmark = pytest.mark.embedded


def response(status: int, body: Any, *, raw: bytes | None = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = raw if raw is not None else json.dumps(body).encode()
    return answer


def envelope(code: str, message: str = "Something") -> dict[str, str]:
    return {"errorCode": code, "errorMessage": message, "diagnosticCode": "d1a9"}


# --------------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    "body", [envelope("401-100", "Authentication credentials are missing or invalid."), {"status": "Failed."}]
)
def test_both_401_bodies_ask_for_a_new_token(body: dict[str, str]) -> None:
    error = DemandbaseErrorPolicy().classify(response(401, body))
    assert isinstance(error, AuthError) and error.expired


def test_throttle_codes() -> None:
    policy = DemandbaseErrorPolicy()
    concurrent = policy.classify(response(429, envelope("429-100")))
    assert (
        isinstance(concurrent, RateLimited)
        and concurrent.retry_after is None
        and concurrent.code == "429-100"
    )
    quota = policy.classify(response(429, envelope("429-101")))
    assert isinstance(quota, RateLimited) and (quota.retry_after or 0) >= 60 and "quota" in quota.message
    slot = policy.classify(response(429, envelope("429-102")))
    assert isinstance(slot, RateLimited) and slot.retry_after == 30.0


def test_server_errors_are_transient_and_client_errors_permanent() -> None:
    policy = DemandbaseErrorPolicy()
    assert isinstance(policy.classify(response(500, envelope("500-100"))), TransientError)
    bad = policy.classify(response(400, envelope("400-115", "Invalid field names: {Account}.x")))
    assert isinstance(bad, PermanentError)
    assert bad.message == (
        "Demandbase answered HTTP 400 (400-115): Invalid field names: {Account}.x (diagnostic code d1a9)"
    )
    forbidden = policy.classify(response(403, envelope("403-100")))
    assert isinstance(forbidden, PermanentError) and "API key set access" in forbidden.message


@pytest.mark.parametrize("status", [400, 401, 403])
def test_a_refused_key_set_needs_reauthorization(status: int) -> None:
    error = KeySetPolicy().classify(response(status, envelope(f"{status}-100")))
    assert isinstance(error, AuthError) and not error.expired and "key set" in error.message
    assert isinstance(KeySetPolicy().classify(response(503, {})), TransientError)


def test_a_refused_download_link_is_named_as_such() -> None:
    xml = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    error = DownloadPolicy().classify(response(403, None, raw=xml))
    assert isinstance(error, PermanentError) and error.code == "download_refused"


# --------------------------------------------------------------------------- token answers


def test_token_answer_keeps_the_key_set() -> None:
    previous = TokenSet(access_token="old", extra={"client_id": "id", "client_secret": "secret"})
    tokens = token_set_from_exchange(
        {"accessToken": "new", "tokenType": "bearer", "expiresIn": 28800}, previous=previous
    )
    assert tokens.access_token == "new" and tokens.refresh_token == ""
    assert tokens.extra == {"client_id": "id", "client_secret": "secret", "token_type": "bearer"}
    assert tokens.expires_at is not None and not tokens.expires_within(28_000)


@pytest.mark.parametrize("body", [{}, {"accessToken": ""}, ["accessToken"], {"access_token": "snake"}])
def test_an_answer_without_an_access_token_is_malformed(body: Any) -> None:
    with pytest.raises(MalformedResponse):
        token_set_from_exchange(body, previous=TokenSet())


# --------------------------------------------------------------------------- paging


def test_intent_cursor_paginator() -> None:
    paginator = CursorPaginator(token_path=("pagination", "after"), page_size=INTENT_PAGE_SIZE)
    assert paginator.first() == {"pageSize": 100}
    assert paginator.next({"pagination": {"after": "Tzo1MDoyNQ==", "before": None}}) == {
        "pageSize": 100,
        "pageToken": "Tzo1MDoyNQ==",
    }
    assert paginator.next({"pagination": {"after": None}}) is None
    assert paginator.next({"data": []}) is None


def test_page_total_paginator_stops_at_the_total_a_short_page_or_the_page_cap() -> None:
    paginator = PageTotalPaginator(per_page=2, max_pages=3)
    assert paginator.first() == {"page": 1, "perPage": 2}
    assert paginator.next({"data": [1, 2], "totalCount": 5}) == {"page": 2, "perPage": 2}
    assert paginator.next({"data": [3, 4], "totalCount": 5}) == {"page": 3, "perPage": 2}
    assert paginator.next({"data": [5, 6], "totalCount": 9}) is None  # the page cap
    paginator.first()
    assert paginator.next({"data": [1, 2], "totalCount": 2}) is None
    assert paginator.next({"data": [1]}) is None


# --------------------------------------------------------------------------- result files


@pytest.mark.parametrize(
    "raw",
    [
        b'[{"{Account}.id": 1}, {"{Account}.id": 2}]',
        b'{"data": [{"{Account}.id": 1}, {"{Account}.id": 2}]}',
        b'{"{Account}.id": 1}\n{"{Account}.id": 2}\n',
        b'\xef\xbb\xbf[{"{Account}.id": 1}, {"{Account}.id": 2}]',
    ],
)
def test_result_file_layouts(raw: bytes) -> None:
    assert [r["{Account}.id"] for r in parse_results(response(200, None, raw=raw))] == [1, 2]


def test_a_cut_result_file_is_malformed() -> None:
    with pytest.raises(MalformedResponse):
        parse_results(response(200, None, raw=b'[{"{Account}.id": 1}, {"{Acc'))
    assert parse_results(response(200, None, raw=b"")) == []


def test_nesting_by_entity() -> None:
    assert nest_fields({"{Account}.id": 1, "{Activity}.type": "Web Visit", "domain": "a.com"}) == {
        "Account": {"id": 1, "domain": "a.com"},
        "Activity": {"type": "Web Visit"},
    }
    assert nest_fields({"Account": {"id": 1}, "{Account}.name": "A"}) == {"Account": {"id": 1, "name": "A"}}
    assert nest_fields("corrupt") == "corrupt"


# --------------------------------------------------------------------------- intent aggregation


def row(
    company: str, keyword: str, people: Any, strength: str = "LOW", end: str = "2026-09-12"
) -> dict[str, Any]:
    return {
        "companyId": company,
        "domain": f"{company}.com",
        "keyword": keyword,
        "numPeopleResearching": people,
        "intentStrength": strength,
        "isTrending": False,
        "trendingScore": 10,
        "startDate": "2026-09-06",
        "endDate": end,
    }


def test_intent_is_summed_over_distinct_keywords_with_the_strongest_intent() -> None:
    rows = [row("1", "SASE", 3), row("1", "ETL", 9, "HIGH"), row("1", "SASE", 5, "MED"), row("2", "ETL", 1)]
    found = daily_intent(rows, date(2026, 9, 1), date(2026, 9, 30))
    assert [
        (r["companyId"], r["numPeopleResearching"], r["intentStrength"], r["keywords"]) for r in found
    ] == [
        ("1", 14, "HIGH", "ETL, SASE"),
        ("2", 1, "LOW", "ETL"),
    ]


def test_periods_ending_outside_the_window_are_left_out_and_unreadable_rows_go_first() -> None:
    rows = [row("1", "ETL", 2, end="2026-09-05"), row("1", "ETL", 2), row("3", "ETL", "lots"), "junk"]
    found = daily_intent(rows, date(2026, 9, 6), date(2026, 9, 30))
    assert found[:2] == [rows[2], "junk"]
    assert [(r["companyId"], r["endDate"]) for r in found[2:]] == [("1", "2026-09-12")]


# --------------------------------------------------------------------------- names and options


def test_job_names_fit_in_fifty_characters() -> None:
    assert job_name("sales-dashboard sync-42 accounts", 0) == "sales-dashboard sync-42 accounts"
    long = job_name("x" * 80, 1)
    assert len(long) == JOB_NAME_MAX and long.endswith(" retry 1")


def test_poll_waits_back_off_to_a_ceiling() -> None:
    waits = ExportTiming(first_poll_seconds=2, max_poll_seconds=5, deadline_seconds=60).waits()
    assert [next(waits) for _ in range(5)] == [2, 3, 4.5, 5, 5]


@pytest.mark.parametrize(
    ("value", "ids"),
    [(None, []), ("", []), ("7301, 7302 7301", [7301, 7302]), ([7301, "7302"], [7301, 7302]), (7303, [7303])],
)
def test_id_options(value: Any, ids: list[int]) -> None:
    assert parse_ids(value, "keyword_set_ids") == ids


@pytest.mark.parametrize("value", ["security", [True], {"a": 1}, ["7301x"]])
def test_bad_id_options_say_which_option(value: Any) -> None:
    with pytest.raises(PermanentError, match="keyword_set_ids"):
        parse_ids(value, "keyword_set_ids")

"""Metrics a campaign type or an account does not have: absent from rows (never 0) or refused in the
query, as Google Ads does it. The optional ones load empty with a plain-words note; the query is sent
again without a refused one, once per account and sync; a required one missing is a clear error.

Driven over gRPC against the sandbox with the options that reproduce each case, plus the pure parts
(the error mapping, the notes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from connectors.auth import TokenSet
from connectors.base import Window
from connectors.errors import PermanentError
from connectors.google_ads import errors
from connectors.google_ads.connector import Connector, unreported_notes
from connectors.google_ads.records import Account
from sandbox.google_ads import DEMO_REFRESH_TOKEN, GoogleAdsSandbox, create_app
from tests.connectors.google_ads.support import DACH_CLIENT, MANAGER, STANDALONE, US_CLIENT
from tests.connectors.google_ads.test_extract import as_truth, stream_calls, truth
from tests.sandbox.test_google_ads import Wire, rejected
from tests.sandboxes import Sandboxes, app_of

pytestmark = pytest.mark.embedded

VIEW_THROUGH_NOT_FOR_PMAX = (
    "Google Ads: view-through conversions are not reported for Performance Max campaigns; those figures "
    "stay empty."
)
FABRIKAM_REFUSES_VIEW_THROUGH = (
    "Google Ads: account 555-000-3001 (Fabrikam UK) does not report view-through conversions (Google "
    "refused metrics.view_through_conversions in its report query); those figures stay empty for its "
    "campaigns."
)


def connector(
    account_id: str = STANDALONE, state: dict[str, Any] | None = None, **options: str
) -> Connector:
    return Connector(
        account_id=account_id,
        tokens=TokenSet(refresh_token=DEMO_REFRESH_TOKEN),
        options=options,
        state=state,
    )


def window(app: GoogleAdsSandbox, days: int, customer_id: str = STANDALONE) -> Window:
    end = app.today_for(customer_id)
    return Window(end - timedelta(days=days - 1), end)


def extracted(conn: Connector, win: Window) -> list[dict[str, Any]]:
    return [record for page in conn.extract(conn.stream("campaign_performance"), win) for record in page]


def of_type(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["campaign"]["advertising_channel_type"] == kind]


def not_of_type(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["campaign"]["advertising_channel_type"] != kind]


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    return {}


@pytest.fixture
def app(sandboxes: Sandboxes, sandbox_options: dict[str, Any]) -> GoogleAdsSandbox:
    """The sandbox with this test's options (``sandbox_options``, parametrized indirectly)."""
    return app_of(sandboxes.serve("google_ads", **sandbox_options), GoogleAdsSandbox)


def options(**given: Any) -> Any:
    return pytest.mark.parametrize("sandbox_options", [given])


# -- metrics absent from the rows of a campaign type ----------------------------------------------------


@options(unreported_metrics={"PERFORMANCE_MAX": ["view_through_conversions"]})
def test_rows_of_a_campaign_type_without_a_metric_load_it_empty_with_a_note(app: GoogleAdsSandbox) -> None:
    conn, win = connector(), window(app, 14)
    records = extracted(conn, win)
    assert as_truth(records) == truth(win, STANDALONE)  # impressions, clicks, cost, conversions intact
    pmax, others = of_type(records, "PERFORMANCE_MAX"), not_of_type(records, "PERFORMANCE_MAX")
    assert pmax and others
    assert all(r["metrics"]["view_through_conversions"] is None for r in pmax)  # None, not 0
    assert all(r["metrics"]["conversions_value"] is not None for r in pmax)
    assert all(isinstance(r["metrics"]["view_through_conversions"], int) for r in others)
    assert conn.state["notes"] == [VIEW_THROUGH_NOT_FOR_PMAX]
    assert "unavailable_metrics" not in conn.state
    extracted(conn, win)  # a retried attempt of the same sync notes it once
    assert conn.state["notes"] == [VIEW_THROUGH_NOT_FOR_PMAX]


@options(
    unreported_metrics={
        "PERFORMANCE_MAX": ["conversions_value", "view_through_conversions"],
        "DISPLAY": ["conversions_value", "view_through_conversions"],
    }
)
def test_metrics_missing_for_the_same_campaign_types_share_one_note(app: GoogleAdsSandbox) -> None:
    conn = connector()
    records = extracted(conn, window(app, 14))
    search = of_type(records, "SEARCH")
    assert search and all(r["metrics"]["conversions_value"] is not None for r in search)
    assert all(r["metrics"]["conversions_value"] is None for r in of_type(records, "DISPLAY"))
    assert conn.state["notes"] == [
        "Google Ads: conversion value and view-through conversions are not reported for Display and "
        "Performance Max campaigns; those figures stay empty."
    ]


def test_a_zero_is_a_zero_and_a_tenant_like_the_sandbox_gets_no_note(google_ads_app: GoogleAdsSandbox) -> None:
    conn = connector()
    records = extracted(conn, window(google_ads_app, 14))
    search = of_type(records, "SEARCH")  # search ads earn no view-through conversions: Google sends 0
    assert search and all(r["metrics"]["view_through_conversions"] == 0 for r in search)
    assert all(value is not None for r in records for value in r["metrics"].values())
    assert "notes" not in conn.state


@options(unreported_metrics={"PERFORMANCE_MAX": ["clicks"]})
def test_rows_without_a_required_metric_are_a_permanent_error_naming_it(app: GoogleAdsSandbox) -> None:
    with pytest.raises(PermanentError, match=r"without clicks \(metrics\.clicks\)") as caught:
        extracted(connector(), window(app, 14))
    assert "Performance Max campaigns" in caught.value.message and "555-000-3001" in caught.value.message
    assert caught.value.code == "required_metric_missing"


@pytest.mark.parametrize(
    ("lacking", "notes"),
    [
        ({}, []),
        (
            {"conversions_value": {"VIDEO"}},
            ["Google Ads: conversion value is not reported for Video campaigns; those figures stay empty."],
        ),
        (
            {"conversions": {"DEMAND_GEN", "VIDEO"}, "view_through_conversions": {"PERFORMANCE_MAX"}},
            [
                "Google Ads: conversions are not reported for Demand Gen and Video campaigns; those figures "
                "stay empty.",
                VIEW_THROUGH_NOT_FOR_PMAX,
            ],
        ),
        (
            {"view_through_conversions": {"MULTI_CHANNEL", "SMART", "SHOPPING"}},
            [
                "Google Ads: view-through conversions are not reported for App, Shopping and Smart "
                "campaigns; those figures stay empty."
            ],
        ),
        (
            {"conversions": {None}},
            ["Google Ads: conversions are not reported for some campaigns; those figures stay empty."],
        ),
        (
            {"conversions": {"BRAND_NEW_TYPE", None}},
            [
                "Google Ads: conversions are not reported for Brand New Type and some other campaigns; "
                "those figures stay empty."
            ],
        ),
    ],
)
def test_the_notes_name_metrics_and_campaign_types_in_plain_words(
    lacking: dict[str, set[str | None]], notes: list[str]
) -> None:
    assert unreported_notes(lacking) == notes


# -- an account that refuses a metric in the query ------------------------------------------------------


@options(refused_metrics={STANDALONE: ["view_through_conversions"]})
def test_an_account_refusing_a_metric_is_asked_again_without_it_once_per_sync(app: GoogleAdsSandbox) -> None:
    conn, win = connector(), window(app, 45)  # two report queries: 30 + 15 days
    records = extracted(conn, win)
    assert as_truth(records) == truth(win, STANDALONE) and len(records) == len(truth(win, STANDALONE))
    assert all(r["metrics"]["view_through_conversions"] is None for r in records)
    assert all(r["metrics"]["conversions_value"] is not None for r in records)
    assert stream_calls(app) == 4  # the account, the refused report, then 30 + 15 days without the metric
    assert conn.state["unavailable_metrics"] == {STANDALONE: ["view_through_conversions"]}
    assert conn.state["notes"] == [FABRIKAM_REFUSES_VIEW_THROUGH]

    again = connector(state=conn.state)  # a retried attempt of the same sync starts from its state
    assert as_truth(extracted(again, win)) == truth(win, STANDALONE)
    assert stream_calls(app) == 4 + 3  # no refused query this time
    assert again.state["notes"] == [FABRIKAM_REFUSES_VIEW_THROUGH]


@options(refused_metrics={DACH_CLIENT: ["conversions_value", "view_through_conversions"]})
def test_under_a_manager_only_the_refusing_client_loses_the_metric(app: GoogleAdsSandbox) -> None:
    conn = connector(MANAGER, login_customer_id="555-000-1000")
    records = extracted(conn, window(app, 7, MANAGER))
    dach = [r for r in records if r["customer"]["id"] == DACH_CLIENT]
    us = [r for r in records if r["customer"]["id"] == US_CLIENT]
    assert dach and us
    assert all(r["metrics"]["conversions_value"] is None for r in dach)
    assert all(r["metrics"]["view_through_conversions"] is None for r in dach)
    assert all(r["metrics"]["conversions_value"] is not None for r in us)
    assert conn.state["unavailable_metrics"] == {DACH_CLIENT: ["conversions_value", "view_through_conversions"]}
    assert (
        "Google Ads: account 555-000-1002 (Northwind – DACH) does not report conversion value and view-through "
        "conversions (Google refused metrics.conversions_value and metrics.view_through_conversions in its "
        "report query); those figures stay empty for its campaigns."
    ) in conn.state["notes"]


@options(refused_metrics={STANDALONE: ["cost_micros"]})
def test_a_refused_required_metric_is_a_permanent_error_naming_it(app: GoogleAdsSandbox) -> None:
    with pytest.raises(PermanentError, match=r"refused spend \(metrics\.cost_micros\)") as caught:
        extracted(connector(), window(app, 7))
    assert "could not support requested resources" in caught.value.message  # Google's own words
    assert caught.value.code == "query_error.PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE"
    assert stream_calls(app) == 2  # the account, the refused report: nothing to retry without


def test_a_refusal_naming_nothing_left_to_drop_stays_permanent() -> None:
    conn = connector()
    account = Account(STANDALONE, "Fabrikam UK", "GBP", "Europe/London", False, "ENABLED")
    for named, without in [((), ()), (("view_through_conversions",), ("view_through_conversions",))]:
        refusal = errors.MetricsRefused("refused", metrics=named, code="query_error.X")
        with pytest.raises(errors.MetricsRefused):
            conn._drop_refused_metrics(account, refusal, without)
    assert "notes" not in conn.state and "unavailable_metrics" not in conn.state


# -- the error mapping ------------------------------------------------------------------------------------

REFUSAL = (
    "Cannot select or filter on the following metrics: {}, since metric is incompatible with the resource "
    "in the FROM clause or other selected segmenting resources."
)


@pytest.mark.parametrize(
    ("name", "quoted", "metrics"),
    [
        (
            "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
            "'conversions'(could not support requested resources: 'CONVERSION_ACTION')",
            ("conversions",),
        ),
        (
            "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
            "'metrics.view_through_conversions' (could not support requested resources: 'CAMPAIGN'), "
            "'conversions_value' (could not support requested resources: 'CAMPAIGN')",
            ("view_through_conversions", "conversions_value"),
        ),
        (
            "PROHIBITED_FIELD_OR_SEGMENT_WITH_METRIC",
            "'view_through_conversions' (could not support requested resources: 'CAMPAIGN')",
            ("view_through_conversions",),
        ),
        ("PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE", "some metrics", ()),
    ],
)
def test_a_query_refused_for_metrics_names_them(name: str, quoted: str, metrics: tuple[str, ...]) -> None:
    failure = errors.Failure(
        grpc.StatusCode.INVALID_ARGUMENT,
        "",
        (errors.AdsError("query_error", name, REFUSAL.format(quoted)),),
        "r1",
        None,
    )
    error = errors.classify(failure, errors.CallContext(STANDALONE))
    assert isinstance(error, errors.MetricsRefused) and error.metrics == metrics
    assert error.code == f"query_error.{name}" and error.status == 400
    assert "could not support requested resources" in error.said or not metrics


def test_other_query_errors_are_not_metric_refusals() -> None:
    failure = errors.Failure(
        grpc.StatusCode.INVALID_ARGUMENT,
        "",
        (errors.AdsError("query_error", "UNRECOGNIZED_FIELD", "Unrecognized field in the query: 'x.y'."),),
        None,
        None,
    )
    error = errors.classify(failure, errors.CallContext(STANDALONE))
    assert isinstance(error, PermanentError) and not isinstance(error, errors.MetricsRefused)


# -- the sandbox, over the wire ---------------------------------------------------------------------------

BY_TYPE = (
    "SELECT campaign.id, campaign.advertising_channel_type, segments.date, metrics.impressions, "
    "metrics.view_through_conversions FROM campaign WHERE segments.date BETWEEN '{}' AND '{}'"
)


@pytest.fixture
def wire(sandboxes: Sandboxes, sandbox_options: dict[str, Any]) -> Iterator[Wire]:
    with Wire.on(sandboxes.serve("google_ads", stream_batch_rows=50, **sandbox_options)) as client:
        yield client


def rows(wire: Wire, customer_id: str, query: str) -> list[Any]:
    end = wire.app.today_for(customer_id)
    text = query.format((end - timedelta(days=13)).isoformat(), end.isoformat())
    return [row for batch in wire.stream_all(customer_id, text) for row in batch.results]


@options(unreported_metrics={"PERFORMANCE_MAX": ["view_through_conversions"]})
def test_the_sandbox_leaves_an_unreported_metric_unset_and_sends_zeros(wire: Wire) -> None:
    served = rows(wire, STANDALONE, BY_TYPE)
    channel = served[0].campaign.DESCRIPTOR.fields_by_name["advertising_channel_type"].enum_type
    kinds = {row.campaign.advertising_channel_type: row for row in served}
    pmax = kinds[channel.values_by_name["PERFORMANCE_MAX"].number]
    search = kinds[channel.values_by_name["SEARCH"].number]
    assert not pmax.metrics.HasField("view_through_conversions") and pmax.metrics.HasField("impressions")
    assert search.metrics.HasField("view_through_conversions") and search.metrics.view_through_conversions == 0
    # The same rows in REST JSON: the key is missing for the one, "0" for the other.
    assert "viewThroughConversions" not in json_format.MessageToDict(pmax)["metrics"]
    assert json_format.MessageToDict(search)["metrics"]["viewThroughConversions"] == "0"


@options(refused_metrics={STANDALONE: ["view_through_conversions"]})
def test_the_sandbox_refuses_a_metric_for_an_account_as_the_api_does(wire: Wire) -> None:
    status, codes, failure = rejected(lambda: rows(wire, STANDALONE, BY_TYPE))
    assert status == grpc.StatusCode.INVALID_ARGUMENT
    assert codes == [("query_error", "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE")]
    assert failure.errors[0].message == (
        "Cannot select or filter on the following metrics: 'view_through_conversions' (could not support "
        "requested resources: 'CAMPAIGN'), since metric is incompatible with the resource in the FROM clause "
        "or other selected segmenting resources."
    )
    assert rows(wire, STANDALONE, BY_TYPE.replace(", metrics.view_through_conversions", ""))
    assert rows(wire, "5550002001", BY_TYPE)  # another account is not affected


@pytest.mark.parametrize(
    "given",
    [
        {"unreported_metrics": {"SEARCHES": ["conversions"]}},
        {"unreported_metrics": {"SEARCH": ["conversion_value"]}},
        {"refused_metrics": {"123": ["conversions"]}},
    ],
)
def test_unknown_option_values_are_refused(given: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown"):
        create_app(**given)

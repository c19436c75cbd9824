"""Whole Zoho CRM syncs through the chain (Celery in-process) against the sandbox."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.models import Connection
from connectors.services import connection_create, connection_tokens
from etl.models import CrmDeal, CrmLead, QuarantinedRecord, SyncRun
from etl.pipeline import sync_start
from sandbox.core import SandboxServer
from sandbox.zoho_crm import (
    DEMO_ORG,
    GMBH_REFRESH_TOKEN,
    ZohoCrmSandbox,
    expected_records,
)
from tenancy.models import Organization
from tests.sandboxes import run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

GMBH_ORG = "820017733"


def since(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def lead_rows(connection: Connection) -> set[tuple[Any, ...]]:
    return {
        (r.lead_id, r.modified_time, r.status, r.owner, r.campaign_id, r.utm_source)
        for r in CrmLead.objects.filter(connection=connection)
    }


def served_leads(account_id: str, start: date) -> set[tuple[Any, ...]]:
    return {
        (
            r["id"],
            datetime.fromisoformat(r["Modified_Time"]),
            r["Lead_Status"],
            r["Owner"]["name"],
            (r.get("Campaign_Source") or {}).get("id"),
            r.get("UTM_Source"),
        )
        for r in expected_records(account_id, "Leads", since=since(start))
    }


def deal_rows(connection: Connection) -> set[tuple[Any, ...]]:
    return {
        (r.deal_id, r.modified_time, r.stage, r.amount, r.currency, r.closing_date, r.account_name)
        for r in CrmDeal.objects.filter(connection=connection)
    }


def served_deals(account_id: str, start: date, home_currency: str) -> set[tuple[Any, ...]]:
    return {
        (
            r["id"],
            datetime.fromisoformat(r["Modified_Time"]),
            r["Stage"],
            None if r["Amount"] is None else Decimal(str(r["Amount"])),
            r.get("Currency") or home_currency,
            date.fromisoformat(r["Closing_Date"]),
            r["Account_Name"]["name"],
        )
        for r in expected_records(account_id, "Deals", since=since(start))
    }


def test_first_sync_loads_exactly_what_was_served(
    zoho_connection: Connection, zoho_app: ZohoCrmSandbox
) -> None:
    run = run_sync(zoho_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.is_backfill and set(run.timings) == {"refresh", "extract", "normalize", "load", "prune"}
    leads, deals = served_leads(DEMO_ORG, run.window_start), served_deals(DEMO_ORG, run.window_start, "USD")
    assert len(leads) > 2000  # only reachable with page_token
    assert lead_rows(zoho_connection) == leads and deal_rows(zoho_connection) == deals
    counters = zoho_app.state()["counters"]
    assert counters[f"served:{DEMO_ORG}:Leads"] == len(leads) == run.rows["leads"]["inserted"]
    assert counters[f"served:{DEMO_ORG}:Deals"] == len(deals) == run.rows["deals"]["inserted"]
    assert {r.currency for r in CrmDeal.objects.filter(connection=zoho_connection)} == {"USD", "EUR", "GBP"}
    zoho_connection.refresh_from_db()
    assert zoho_connection.status == Connection.Status.ACTIVE
    assert connection_tokens(zoho_connection).extra["api_domain"].startswith("http://127.0.0.1:")


def test_converted_leads_are_flagged(zoho_connection: Connection) -> None:
    run = run_sync(zoho_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    served = expected_records(DEMO_ORG, "Leads", since=since(run.window_start))
    flags = dict(CrmLead.objects.filter(connection=zoho_connection).values_list("lead_id", "converted"))
    assert flags == {r["id"]: r["$converted"] for r in served}
    assert 0 < sum(1 for flag in flags.values() if flag) < len(flags)


def test_second_sync_changes_nothing(zoho_connection: Connection, zoho_app: ZohoCrmSandbox) -> None:
    run_sync(zoho_connection)
    leads, deals = lead_rows(zoho_connection), deal_rows(zoho_connection)
    second = run_sync(zoho_connection)
    assert second.status == SyncRun.Status.SUCCEEDED and not second.is_backfill, second.error_message
    assert (second.window_end - second.window_start).days == 2  # ZOHO_CRM_RESTATEMENT_DAYS = 3
    assert lead_rows(zoho_connection) == leads and deal_rows(zoho_connection) == deals
    for stream in ("leads", "deals"):
        stats = second.rows[stream]
        assert stats["inserted"] == 0 and stats["updated"] == 0 and stats["deleted"] == 0
        assert stats["unchanged"] == stats["loaded"] > 0
    assert second.rows["leads"]["loaded"] < len(leads)  # If-Modified-Since: only the recent changes


def test_throttling_a_500_and_an_expired_token_mid_run_lose_nothing(
    zoho_connection: Connection, zoho_app: ZohoCrmSandbox
) -> None:
    zoho_app.faults.add("rate_limit", times=2, after=3, path="/crm/v8/Leads")
    zoho_app.faults.add("expire_token", times=1, after=10, path="/crm/v8/Leads")  # a page_token call
    zoho_app.faults.add("server_error", times=1, path="/crm/v8/Deals")
    zoho_app.faults.add("rate_limit", times=1, path="/crm/v8/org")
    run = run_sync(zoho_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert lead_rows(zoho_connection) == served_leads(DEMO_ORG, run.window_start)
    assert deal_rows(zoho_connection) == served_deals(DEMO_ORG, run.window_start, "USD")
    assert zoho_app.faults.pending() == []
    assert zoho_app.state()["counters"]["tokens_issued"] == 2  # the refresh step, then one after expiry


def test_revoked_authorization_marks_the_connection_and_does_not_retry(
    zoho_connection: Connection, zoho_app: ZohoCrmSandbox
) -> None:
    zoho_app.faults.add("revoke_refresh", times=1)
    run = run_sync(zoho_connection)
    assert run.status == SyncRun.Status.FAILED and run.error_class == "AuthError"
    assert "Reconnect" in run.error_message
    zoho_connection.refresh_from_db()
    assert zoho_connection.status == Connection.Status.NEEDS_REAUTH
    assert zoho_app.state()["requests"].get("token", 0) <= 1
    assert sync_start(connection_id=zoho_connection.pk) is None


def test_malformed_records_are_quarantined_and_the_rest_loads(
    zoho_connection: Connection, zoho_app: ZohoCrmSandbox
) -> None:
    zoho_app.faults.add("malformed", times=1, path="/crm/v8/Leads", variant="bad_datetime")
    zoho_app.faults.add("malformed", times=1, path="/crm/v8/Deals", variant="non_numeric_amount")
    run = run_sync(zoho_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.rows["leads"]["quarantined"] == 1 and run.rows["deals"]["quarantined"] == 1
    reasons = sorted(QuarantinedRecord.objects.filter(sync_run=run).values_list("reason", flat=True))
    assert reasons == [
        "amount: '12,500.00' is not a valid decimal",
        "modified_time: '2026-02-30T15:26:00+05:30' is not a valid datetime",
    ]
    assert len(lead_rows(zoho_connection)) == len(served_leads(DEMO_ORG, run.window_start)) - 1
    assert len(deal_rows(zoho_connection)) == len(served_deals(DEMO_ORG, run.window_start, "USD")) - 1


def test_single_currency_org_without_leads(organization: Organization, zoho_sandbox: SandboxServer) -> None:
    connection = connection_create(
        organization=organization,
        platform="zoho_crm",
        account_id=GMBH_ORG,
        credentials={"refresh_token": GMBH_REFRESH_TOKEN},
        check=True,
    )
    assert connection.name == "Northwind GmbH"
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.rows["leads"]["extracted"] == 0 and not CrmLead.objects.filter(connection=connection).exists()
    assert deal_rows(connection) == served_deals(GMBH_ORG, run.window_start, "EUR")
    assert {r.currency for r in CrmDeal.objects.filter(connection=connection)} == {"EUR"}

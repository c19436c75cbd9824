"""Whole syncs (Celery in-process) against Demandbase tenants that differ from the demo's: a tenant with
a small field catalogue, and one without the Intent product."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from connectors.auth import TokenSet
from connectors.demandbase import mapping
from connectors.demandbase.activity import ACTIVITY_EXPORT_FIELDS
from connectors.demandbase.connector import Connector
from connectors.demandbase.export import ExportTiming
from connectors.models import Connection
from etl.models import AbmAccount, AbmEngagementDaily, SyncRun
from sandbox.demandbase import (
    NO_INTENT_CLIENT_ID,
    NO_INTENT_CLIENT_SECRET,
    NO_INTENT_TENANT,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SMALL_CATALOGUE_CLIENT_ID,
    SMALL_CATALOGUE_CLIENT_SECRET,
    SMALL_CATALOGUE_TENANT,
    DemandbaseSandbox,
    expected_accounts,
)
from tenancy.models import Organization
from tests.connectors.demandbase.truth import engagement_truth, intent_truth
from tests.sandboxes import connect as sandbox_connect
from tests.sandboxes import run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

SMALL_NOTE = (
    "Demandbase: this tenant has no Industry, Journey Stage, Engagement Points, Intent Score or "
    "Intent Keywords fields; those columns stay empty."
)
ABSENT_COLUMNS = (
    "industry",
    "journey_stage",
    "engagement_points_7d",
    "engagement_points_30d",
    "intent_score",
    "intent_keyword_count",
)


@pytest.fixture(autouse=True)
def fast_export_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Connector, "export_timing", ExportTiming(0.01, 0.05, 10.0))


def connect(organization: Organization, label: str, client_id: str, secret: str) -> Connection:
    """A connection on the running sandbox with another key set (another tenant)."""
    credentials = {"client_id": client_id, "client_secret": secret}
    # Nothing read for this tenant yet (the catalogue is cached per tenant for a day).
    reader = Connector(account_id=label, tokens=TokenSet(extra=credentials))
    reader.field_catalogue("account").forget()
    reader.field_catalogue("activity").forget()
    return sandbox_connect("demandbase", organization, account_id=label, credentials=credentials)


def test_a_small_catalogue_loads_the_accounts_with_empty_columns_and_a_note(
    organization: Organization, demandbase_app: DemandbaseSandbox
) -> None:
    connection = connect(organization, "fabrikam", SMALL_CATALOGUE_CLIENT_ID, SMALL_CATALOGUE_CLIENT_SECRET)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert SMALL_NOTE in run.notes

    wanted = ("{Account}.id", "{Account}.domain", "{Account}.name", "{Account}.engagementMinutesLast7Day")
    truth = {
        str(r["{Account}.id"]): r
        for r in expected_accounts(demandbase_app.today(), tenant=SMALL_CATALOGUE_TENANT, fields=wanted)
    }
    rows = list(AbmAccount.objects.filter(connection=connection))
    assert len(rows) == len(truth) == 40 and run.rows["accounts"]["loaded"] == 40
    for row in rows:
        expected = truth[row.account_id]
        assert (row.domain, row.name) == (expected["{Account}.domain"], expected["{Account}.name"])
        assert row.engagement_minutes_7d == expected["{Account}.engagementMinutesLast7Day"]
        assert all(getattr(row, column) is None for column in ABSENT_COLUMNS), row.account_id  # NULL, not 0
    assert any(row.engagement_minutes_7d for row in rows)
    assert AbmEngagementDaily.objects.filter(connection=connection).exists()  # intent is unaffected
    # No activity fields: no daily engagement, only intent periods, and a note saying so.
    daily = AbmEngagementDaily.objects.filter(connection=connection)
    assert not daily.filter(intent_strength__isnull=True).exists()
    assert not daily.filter(engagement_minutes__isnull=False).exists()
    assert any("cannot export activities" in note for note in run.notes)

    # The next sync the same day uses the catalogue it read; the note is on that run too.
    again = run_sync(connection)
    assert again.status == SyncRun.Status.SUCCEEDED and SMALL_NOTE in again.notes
    assert demandbase_app.state()["requests"]["fields"] == 2  # the account and activity catalogues, once


def test_the_full_tenant_asks_for_every_field_and_has_no_field_note(
    organization: Organization, demandbase_app: DemandbaseSandbox
) -> None:
    connection = connect(organization, "northwind", SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert not any("this tenant has no" in note for note in run.notes)
    assert [list(job.request.fields) for job in demandbase_app._jobs.values()] == [
        list(mapping.ACCOUNT_EXPORT_FIELDS),
        list(ACTIVITY_EXPORT_FIELDS),
    ]
    assert AbmAccount.objects.filter(connection=connection, intent_score__isnull=False).exists()


def daily_of(connection: Connection) -> tuple[dict[tuple[str, Any], tuple[Any, ...]], dict[tuple[str, Any], tuple[Any, ...]]]:
    """(engagement, intent) of the connection's daily ABM rows, each keyed by (account, day)."""
    engagement, intent = {}, {}
    for r in AbmEngagementDaily.objects.filter(connection=connection):
        if r.engagement_minutes is not None:
            engagement[(r.account_id, r.date)] = (
                r.engagement_minutes, r.engagement_points, r.web_minutes, r.email_minutes, r.ad_minutes, r.page_views
            )  # fmt: skip
        if r.intent_strength is not None:
            intent[(r.account_id, r.date)] = (r.domain, r.people_researching, r.intent_strength, r.intent_keywords)
        assert r.engagement_minutes is not None or r.intent_strength is not None  # no empty rows
    return engagement, intent


def test_a_tenant_without_intent_syncs_accounts_and_engagement_then_intent_once_it_has_it(
    organization: Organization, demandbase_app: DemandbaseSandbox
) -> None:
    """Only id, name, domain and engagement minutes among the account fields, activities, no Intent."""
    connection = connect(organization, "litware", NO_INTENT_CLIENT_ID, NO_INTENT_CLIENT_SECRET)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.PARTIAL
    assert set(run.failed_streams) == {"intent"}
    assert "403-100" in run.failed_streams["intent"] and "no access to Intent" in run.failed_streams["intent"]
    assert any(
        note.startswith("Demandbase: intent could not be read (") and "the next sync tries it again" in note
        for note in run.notes
    )
    assert any("this tenant has no Industry, Journey Stage, Engagement Points" in note for note in run.notes)

    accounts = list(AbmAccount.objects.filter(connection=connection))
    assert len(accounts) == 25 and any(a.engagement_minutes_7d for a in accounts)
    assert all(a.intent_score is None and a.industry is None for a in accounts)  # NULL, not 0
    engagement, intent = daily_of(connection)
    window = (run.window_start, run.window_end)
    assert engagement == engagement_truth(*window, as_of=demandbase_app.today(), tenant=NO_INTENT_TENANT) != {}
    assert intent == {}
    connection.refresh_from_db()
    assert connection.last_success_at is None  # a partial sync is not a complete one

    # The Accounts page shows the real engagement per day and says what the tenant does not report.
    page = accounts_page(organization)
    assert 'id="engagement-table"' in page and 'data-figure="minutes"' in page
    unreported = re.search(r'id="engagement-unreported">([^<]*)<', page)
    assert unreported and "intent keywords, people researching" in unreported.group(1)
    assert 'data-figure="people_researching"' not in page
    shown = {
        day: Decimal(value.replace(",", ""))
        for day, value in re.findall(r'data-day="([\d-]+)"[^>]*>.*?data-figure="minutes">([\d.,]+)<', page, re.S)
    }
    by_day: dict[str, Decimal] = {}
    for (_, day), figures in engagement.items():
        by_day[day.isoformat()] = by_day.get(day.isoformat(), Decimal(0)) + figures[0]
    assert shown and all(shown[day] == round(total, 1) for day, total in by_day.items() if day in shown)

    # The tenant buys Intent: the next sync reads it, with no change to the connection.
    demandbase_app.grant_intent(NO_INTENT_TENANT)
    again = run_sync(connection)
    assert again.status == SyncRun.Status.SUCCEEDED, again.error_message
    assert not again.failed_streams and again.rows["intent"]["loaded"] > 0
    engagement_after, intent_after = daily_of(connection)
    assert engagement_after == engagement
    today = demandbase_app.today()
    assert intent_after == intent_truth(again.window_start, again.window_end, today=today, tenant=NO_INTENT_TENANT)
    assert intent_after
    connection.refresh_from_db()
    assert connection.last_success_at is not None


def accounts_page(organization: Organization) -> str:
    from django.test import Client
    from django.urls import reverse

    from tests.dashboard import PASSWORD, make_user

    client = Client()
    user = make_user("litware-analyst", organization=organization)
    assert client.login(username=user.username, password=PASSWORD)
    response = client.get(reverse("dashboard:accounts"), {"days": "30"})
    assert response.status_code == 200
    return response.content.decode()


def test_losing_intent_keeps_the_intent_already_loaded(
    organization: Organization, demandbase_app: DemandbaseSandbox
) -> None:
    demandbase_app.grant_intent(NO_INTENT_TENANT)
    connection = connect(organization, "litware", NO_INTENT_CLIENT_ID, NO_INTENT_CLIENT_SECRET)
    first = run_sync(connection)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error_message
    before = daily_of(connection)
    assert before[0] and before[1]

    demandbase_app.grant_intent(NO_INTENT_TENANT, granted=False)
    second = run_sync(connection)
    assert second.status == SyncRun.Status.PARTIAL and set(second.failed_streams) == {"intent"}
    assert daily_of(connection) == before  # the failed stream's figures are left as they were

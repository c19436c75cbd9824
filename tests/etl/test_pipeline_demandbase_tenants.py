"""Whole syncs (Celery in-process) against Demandbase tenants that differ from the demo's: a tenant with
a small field catalogue, and one without the Intent product."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.auth import TokenSet
from connectors.demandbase import mapping
from connectors.demandbase.activity import ACTIVITY_EXPORT_FIELDS
from connectors.demandbase.connector import Connector
from connectors.demandbase.export import ExportTiming
from connectors.demandbase.sandbox import (
    NO_INTENT_CLIENT_ID,
    NO_INTENT_CLIENT_SECRET,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SMALL_CATALOGUE_CLIENT_ID,
    SMALL_CATALOGUE_CLIENT_SECRET,
    SMALL_CATALOGUE_TENANT,
    DemandbaseSandbox,
    create_app,
    expected_accounts,
)
from connectors.models import Connection, Organization
from connectors.sandbox import SandboxServer
from dashboard.services import sync_start
from etl.models import AbmAccount, AbmEngagementDaily, SyncRun

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


@pytest.fixture
def demandbase_app(settings: Any) -> Iterator[DemandbaseSandbox]:
    with SandboxServer(create_app()) as server:
        for key, value in server.env().items():
            setattr(settings, key, value)
        assert isinstance(server.app, DemandbaseSandbox)
        yield server.app


def connect(organization: Organization, label: str, client_id: str, secret: str) -> Connection:
    from connectors.services import connection_create

    # Nothing read for this tenant yet (the catalogue is cached per tenant for a day).
    reader = Connector(
        account_id=label, tokens=TokenSet(extra={"client_id": client_id, "client_secret": secret})
    )
    reader.field_catalogue("account").forget()
    reader.field_catalogue("activity").forget()
    return connection_create(
        organization=organization,
        platform="demandbase",
        account_id=label,
        credentials={"client_id": client_id, "client_secret": secret},
        check=False,
    )


def run_sync(connection: Connection) -> SyncRun:
    run = sync_start(connection_id=connection.pk)
    assert run is not None
    run.refresh_from_db()
    return run


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


def test_a_tenant_without_intent_loads_its_accounts(
    organization: Organization, demandbase_app: DemandbaseSandbox
) -> None:
    connection = connect(organization, "litware", NO_INTENT_CLIENT_ID, NO_INTENT_CLIENT_SECRET)
    run = run_sync(connection)
    assert run.status == SyncRun.Status.PARTIAL
    assert set(run.failed_streams) == {"intent"}
    assert "403-100" in run.failed_streams["intent"] and "no access to Intent" in run.failed_streams["intent"]
    assert AbmAccount.objects.filter(connection=connection).count() == 25

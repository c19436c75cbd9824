"""Streams fail alone: a stream that cannot be read (a missing permission, an unlicensed product)
leaves the other streams' data loaded, the run "partial", and its own rows as they were.

Through the real pipeline (in-process) against the Zoho CRM sandbox, whose leads and deals are two
streams; the deals listing answers 403 as a missing module permission does.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from connectors.models import Connection
from dashboard.selectors.sync import overview_connections
from etl.models import CrmDeal, CrmLead, RawPage, SyncRun
from etl.services import retention_start
from sandbox.zoho_crm import ZohoCrmSandbox
from tests.sandboxes import run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

DEALS = "/crm/v8/Deals"


def test_a_stream_without_permission_fails_alone_and_is_read_again_next_time(
    zoho_connection: Connection, zoho_app: ZohoCrmSandbox
) -> None:
    zoho_app.faults.add("server_error", times=50, path=DEALS, status=403)

    partial = run_sync(zoho_connection)

    assert partial.status == SyncRun.Status.PARTIAL and partial.step == SyncRun.Step.DONE
    assert set(partial.failed_streams) == {"deals"}
    assert CrmLead.objects.filter(connection=zoho_connection).count() == partial.rows["leads"]["inserted"] > 0
    assert not CrmDeal.objects.filter(connection=zoho_connection).exists()
    assert any(note.startswith("Zoho CRM: deals could not be read (") for note in partial.notes)
    assert not RawPage.objects.filter(sync_run=partial).exists()
    zoho_connection.refresh_from_db()
    assert zoho_connection.status == Connection.Status.ACTIVE
    assert zoho_connection.last_success_at is None  # the deals of this window are still to be read
    [overview] = overview_connections(organization=zoho_connection.organization)
    assert overview.problem.startswith("The last sync loaded everything but deals (deals: ")

    zoho_app.faults.clear()
    complete = run_sync(zoho_connection)

    assert complete.status == SyncRun.Status.SUCCEEDED and not complete.failed_streams
    assert complete.window_start == partial.window_start  # the whole gap is read
    assert CrmDeal.objects.filter(connection=zoho_connection).count() == complete.rows["deals"]["inserted"] > 0


def test_the_rows_of_a_stream_that_failed_are_left_as_they_were(zoho_connection: Connection, zoho_app: ZohoCrmSandbox) -> None:
    first = run_sync(zoho_connection)
    assert first.status == SyncRun.Status.SUCCEEDED
    long_ago = timezone.now() - timedelta(days=400)
    assert long_ago.date() < retention_start()
    old_deal = CrmDeal.objects.filter(connection=zoho_connection).first()
    old_lead = CrmLead.objects.filter(connection=zoho_connection).first()
    assert old_deal is not None and old_lead is not None
    CrmDeal.objects.filter(pk=old_deal.pk).update(modified_time=long_ago, stage="As it was")
    CrmLead.objects.filter(pk=old_lead.pk).update(modified_time=long_ago)
    deals_before = CrmDeal.objects.filter(connection=zoho_connection).count()
    zoho_app.faults.add("server_error", times=50, path=DEALS, status=403)

    partial = run_sync(zoho_connection)

    assert partial.status == SyncRun.Status.PARTIAL
    assert CrmDeal.objects.filter(connection=zoho_connection).count() == deals_before  # not pruned, not replaced
    assert CrmDeal.objects.get(pk=old_deal.pk).stage == "As it was"
    assert not CrmLead.objects.filter(pk=old_lead.pk, modified_time=long_ago).exists()  # leads were pruned


def test_a_run_whose_every_stream_fails_still_fails(zoho_connection: Connection, zoho_app: ZohoCrmSandbox) -> None:
    zoho_app.faults.add("server_error", times=50, path="/crm/v8/", status=403)
    run = run_sync(zoho_connection)
    assert run.status == SyncRun.Status.FAILED
    assert not CrmLead.objects.exists() and not CrmDeal.objects.exists()


def test_the_command_says_partial_with_its_own_exit_status(zoho_connection: Connection, zoho_app: ZohoCrmSandbox) -> None:
    zoho_app.faults.add("server_error", times=50, path=DEALS, status=403)
    out = StringIO()
    with pytest.raises(CommandError, match="were partial") as partial:
        call_command("start_background_syncs", stdout=out, stderr=StringIO())
    assert partial.value.returncode == 6
    assert "partial" in out.getvalue() and "deals could not be read" in out.getvalue()

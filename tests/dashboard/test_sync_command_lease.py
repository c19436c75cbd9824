"""``start_background_syncs`` and ``cancel_sync`` around a run's lease: a killed command run again
at once, Ctrl-C, a connection held by a live run, a paused connection, and the exit statuses.

The command runs as an operator runs it (``python manage.py ...`` in a subprocess, in-process
tasks, against the test database) where a signal or a kill is involved.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from connectors.models import Connection
from etl.models import AdPerformanceDaily, RawPage, SyncRun
from etl.services import sync_run_create_if_idle
from sandbox.core import SandboxServer
from sandbox.linkedin_ads import LinkedInAdsSandbox
from tests.linkedin_rows import served, warehouse
from tests.security.test_command_input import ROOT, assert_one_line_error, manage

pytestmark = pytest.mark.django_db(transaction=True)

ANALYTICS = "/rest/adAnalytics"
SYNC = ["start_background_syncs", "--platform", "linkedin_ads"]


def command_process(sandbox: SandboxServer) -> subprocess.Popen[str]:
    """``manage.py start_background_syncs --platform linkedin_ads`` on its own, as an operator starts it."""
    from django.conf import settings
    from django.db import connection as db

    conf = db.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VAR_DIR"}},
        **sandbox.env(),
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.test",
        "DATABASE_URL": f"postgres://{conf['USER']}@{conf['HOST']}:{conf['PORT'] or 5432}/{conf['NAME']}",
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", *SYNC], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # As in a terminal: Ctrl-C reaches the command even when this test run was started with
        # SIGINT ignored (a job started in the background by a shell without job control).
        preexec_fn=_interruptible,
    )  # fmt: skip


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_command_killed_mid_extract_and_run_again_at_once_completes(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox, linkedin_sandbox: SandboxServer
) -> None:
    linkedin_app.faults.add("hold", path=ANALYTICS, seconds=60)
    killed = command_process(linkedin_sandbox)
    try:
        assert linkedin_app.holds.wait_until_held(timeout=60), "the command never reached the report"
        killed.kill()  # SIGKILL: no clean-up of any kind
        killed.wait(timeout=30)
    finally:
        linkedin_app.release_held()

    out, _ = run_command(*SYNC)  # at once: no waiting for a lease to lapse

    dead, new = SyncRun.objects.filter(connection=linkedin_connection).order_by("pk")
    assert f"took over run {dead.pk}: The process running this sync stopped at " in out
    assert dead.status == SyncRun.Status.FAILED and dead.error_class == "Abandoned"
    assert "stopped at" in dead.error_message and "during extract; a new sync took over." in dead.error_message
    assert not RawPage.objects.filter(sync_run=dead).exists()
    assert new.status == SyncRun.Status.SUCCEEDED and "succeeded" in out
    assert warehouse(linkedin_connection) == served(new)


def test_ctrl_c_ends_the_commands_run_as_cancelled(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox, linkedin_sandbox: SandboxServer
) -> None:
    linkedin_app.faults.add("hold", path=ANALYTICS, seconds=60)
    command = command_process(linkedin_sandbox)
    try:
        assert linkedin_app.holds.wait_until_held(timeout=60), "the command never reached the report"
        command.send_signal(signal.SIGINT)
        _, err = command.communicate(timeout=60)
    finally:
        linkedin_app.release_held()

    assert command.returncode == 130
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("CommandError: Interrupted: cancelled ")
    run = SyncRun.objects.get(connection=linkedin_connection)
    assert run.status == SyncRun.Status.CANCELLED and run.step == SyncRun.Step.EXTRACT
    assert run.error_message.startswith("Cancelled with Ctrl-C at ")
    assert not AdPerformanceDaily.objects.exists() and not RawPage.objects.exists()


def test_a_connection_held_by_a_live_run_is_not_synced_twice_and_the_status_says_so(
    linkedin_connection: Connection,
) -> None:
    live = sync_run_create_if_idle(connection_id=linkedin_connection.pk)  # owned by this process, alive
    assert live is not None
    err = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command(*SYNC, stdout=StringIO(), stderr=err)
    assert refused.value.returncode == 3
    line = err.getvalue()
    assert f"run {live.pk} (queued, step refresh) by process {os.getpid()}" in line
    assert "last heartbeat" in line
    assert SyncRun.objects.filter(connection=linkedin_connection).count() == 1


def test_a_paused_connection_asked_for_by_id_is_refused_with_its_own_status(
    linkedin_connection: Connection,
) -> None:
    Connection.objects.filter(pk=linkedin_connection.pk).update(status=Connection.Status.PAUSED)
    err = StringIO()
    with pytest.raises(CommandError, match="No requested connection can sync") as refused:
        call_command("start_background_syncs", "--connection", str(linkedin_connection.pk), stderr=err)
    assert refused.value.returncode == 4
    assert "paused, not synced" in err.getvalue()
    assert not SyncRun.objects.exists()


def test_a_sync_that_succeeded_exits_zero_and_one_asked_by_id_runs_alone(linkedin_connection: Connection) -> None:
    out, _ = run_command("start_background_syncs", "--connection", str(linkedin_connection.pk))
    assert "succeeded" in out and SyncRun.objects.get().status == SyncRun.Status.SUCCEEDED


def test_unknown_ids_and_bad_lease_settings_get_one_clear_line(linkedin_connection: Connection) -> None:
    result = manage("start_background_syncs", "--connection", "987654")
    assert_one_line_error(result, "Unknown connection id(s): 987654")
    assert result.returncode == 2
    result = manage("cancel_sync", "987654")
    assert_one_line_error(result, "There is no sync run 987654.")
    assert result.returncode == 2
    for value in ("0", "-5", "soon", "inf"):
        result = manage("start_background_syncs", env={"SYNC_RUN_LEASE_SECONDS": value})
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip() == (
            f"Configuration error: SYNC_RUN_LEASE_SECONDS must be a positive number, not {value!r}."
        )
    assert not SyncRun.objects.exists()


def test_cancel_sync_cancels_a_run_in_flight_and_refuses_an_ended_one(linkedin_connection: Connection) -> None:
    run = sync_run_create_if_idle(connection_id=linkedin_connection.pk)
    assert run is not None
    out, _ = run_command("cancel_sync", str(run.pk), "--reason", "Wrong account.")
    run.refresh_from_db()
    assert run.status == SyncRun.Status.CANCELLED and run.error_message == "Wrong account."
    assert f"Sync run {run.pk} of" in out
    with pytest.raises(CommandError, match="is not in flight") as refused:
        run_command("cancel_sync", str(run.pk))
    assert refused.value.returncode == 3


def test_help_lists_the_exit_statuses(db: None) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "start_background_syncs", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.test"},
        timeout=60,
    )
    assert result.returncode == 0
    for code in ("0", "1", "2", "3", "4", "5", "130"):
        assert f"\n  {code:<4} " in result.stdout

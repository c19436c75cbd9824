"""The operator's commands, run as an operator would (call_command), against the sandbox."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from connectors.models import Connection
from connectors.registry import platforms
from connectors.services import connection_credentials
from etl.models import AdPerformanceDaily, SyncRun
from sandbox.core import SandboxServer
from sandbox.linkedin_ads import DEMO_REFRESH_TOKEN, LinkedInAdsSandbox
from sandbox.serve import demo_connections, serve_sandboxes
from tenancy.models import Organization

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_add_connection_checks_the_credentials_and_prints_the_id(linkedin_sandbox: SandboxServer) -> None:
    out = run(
        "add_connection",
        "--org",
        "acme",
        "--platform",
        "linkedin_ads",
        "--account-id",
        "508000002",
        "--credential",
        f"refresh_token={DEMO_REFRESH_TOKEN}",
    )
    connection = Connection.objects.get(pk=int(out.strip()))
    assert connection.organization.slug == "acme" and connection.name == "Northwind – DACH"
    assert connection_credentials(connection)["access_token"]  # refreshed during the check
    assert DEMO_REFRESH_TOKEN not in connection.credentials_encrypted  # encrypted at rest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "myspace"], "Unknown platform 'myspace'"),
        (["--platform", "linkedin_ads", "--credential", "password=x"], "does not take credential"),
        (["--platform", "linkedin_ads", "--credential", "refresh_token"], "expects key=value"),
        (
            ["--platform", "linkedin_ads", "--credential", "refresh_token=wrong"],
            "The credentials did not work",
        ),
    ],
)
def test_add_connection_rejects_bad_input_clearly(
    linkedin_sandbox: SandboxServer, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run("add_connection", "--org", "acme", "--account-id", "508000001", *args)
    assert not Connection.objects.exists()


def test_start_background_syncs_syncs_and_prints_a_summary(linkedin_connection: Connection) -> None:
    out = run("start_background_syncs")
    assert "succeeded" in out and f"linkedin_ads {linkedin_connection.name}" in out
    count = AdPerformanceDaily.objects.count()
    assert count > 0 and f"{count} new, 0 updated, 0 removed" in out
    out = run("start_background_syncs", "--platform", "linkedin_ads")
    assert AdPerformanceDaily.objects.count() == count and "0 new, 0 updated, 0 removed" in out
    assert SyncRun.objects.filter(status="succeeded").count() == 2


def test_start_background_syncs_no_wait_prints_task_ids(linkedin_connection: Connection) -> None:
    out = run("start_background_syncs", "--no-wait", "--org", linkedin_connection.organization.slug)
    run_ = SyncRun.objects.get()
    assert f"sync run {run_.pk}" in out and all(task_id in out for task_id in run_.task_ids)


def test_start_background_syncs_rejects_unknown_platform_and_org(db: None) -> None:
    with pytest.raises(CommandError, match="Unknown platform 'tiktok'"):
        run("start_background_syncs", "--platform", "tiktok")
    with pytest.raises(CommandError, match="Unknown organization 'nobody'"):
        run("start_background_syncs", "--org", "nobody")


def test_failed_syncs_make_the_command_fail(
    linkedin_connection: Connection, linkedin_app: LinkedInAdsSandbox
) -> None:
    linkedin_app.faults.add("revoke_refresh", times=1)
    with pytest.raises(CommandError, match="did not succeed") as failed:
        run("start_background_syncs")
    assert failed.value.returncode == 1


def test_cleanup_and_refresh_tokens(linkedin_connection: Connection) -> None:
    assert "warehouse_rows=0" in run("start_background_syncs", "--cleanup")
    out = run("start_background_syncs", "--refresh-tokens")
    assert "refreshed=1" in out  # the new connection has no access token yet
    linkedin_connection.refresh_from_db()
    assert linkedin_connection.token_expires_at is not None


def test_periodic_tasks_are_installed_idempotently(db: None) -> None:
    run("setup_periodic_tasks")
    first = {t.name: (t.task, t.crontab_id, t.kwargs) for t in PeriodicTask.objects.all()}
    run("setup_periodic_tasks")
    assert {t.name: (t.task, t.crontab_id, t.kwargs) for t in PeriodicTask.objects.all()} == first
    hours = {t.name: t.crontab.hour for t in PeriodicTask.objects.select_related("crontab")}
    assert hours["sync all platforms every 6 hours"] == "0,6,12,18"
    assert hours["sync linkedin_ads every 4 hours"] == "0,4,8,12,16,20"
    assert hours["cleanup old data daily"] == "2"
    assert hours["refresh expiring tokens hourly"] == "*"
    task = PeriodicTask.objects.get(name="sync linkedin_ads every 4 hours")
    assert json.loads(task.kwargs) == {"platform": "linkedin_ads"}


def test_demo_setup_is_idempotent(db: None, settings: Any) -> None:
    servers = serve_sandboxes(platforms())
    try:
        for server in servers.values():
            for key, value in server.env().items():
                setattr(settings, key, value)
        run("demo_setup")
        run("demo_setup")
    finally:
        for server in servers.values():
            server.stop()
    assert Organization.objects.filter(slug="demo").count() == 1
    for platform in servers:
        demo = demo_connections(platform)
        assert Connection.objects.filter(platform=platform).count() == len(demo), platform

"""``manage.py run_embedded``: a real worker and beat on the embedded broker (kombu's filesystem
transport, no Redis) run a scheduled sync end to end, Sync health sees them, and Ctrl-C leaves no
process behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from connectors.models import Connection
from etl.models import BeatHeartbeat, SyncRun, WorkerHeartbeat
from sandbox.core import SandboxServer

# The embedded default is SQLite: `make test` runs this on it as well as on PostgreSQL.
pytestmark = [pytest.mark.embedded]

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = django_settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,sid="], capture_output=True, text=True, check=True)
    rows = [tuple(int(v) for v in line.split()) for line in out.stdout.splitlines()]
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid, _ in rows if ppid == parent]
        found += children
        frontier += children
    return found


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text(errors='replace')[-6000:]}")


@pytest.fixture
def embedded(
    transactional_db: None, linkedin_sandbox: SandboxServer, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}},
        **linkedin_sandbox.env(),
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.base",
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "FIELD_ENCRYPTION_KEY": django_settings.FIELD_ENCRYPTION_KEY,
        "DJANGO_SECRET_KEY": "embedded-test-secret-key-not-for-production",
        "VAR_DIR": str(tmp_path / "var"),
        "DASHBOARD_CACHE_WARM_DELAY_SECONDS": "0",
    }
    log = tmp_path / "run_embedded.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_embedded",
                "--no-web",
                "--concurrency=1",
                "--schedule-every=2",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            for pid in descendants(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_schedule_runs_on_the_embedded_broker_and_ctrl_c_stops_everything(
    embedded: tuple[subprocess.Popen[bytes], Path], linkedin_connection: Connection, tmp_path: Path
) -> None:
    from django_celery_beat.models import PeriodicTask

    proc, log = embedded
    # Nobody asks for a sync: beat's test schedule starts it, the worker runs every step.
    run = wait_for(
        lambda: SyncRun.objects.filter(connection=linkedin_connection, step=SyncRun.Step.DONE).first(),
        timeout=120,
        what="a scheduled sync",
        log=log,
    )
    assert run.trigger == "schedule" and run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.rows_loaded > 0
    (worker,) = WorkerHeartbeat.objects.all()
    assert worker.hostname.startswith("embedded@") and worker.stopped_at is None
    assert {"sync", "maintenance", "sync.linkedin_ads", "sync.google_ads"} <= set(worker.queues)
    assert BeatHeartbeat.objects.filter(stopped_at__isnull=True).exists()
    assert (tmp_path / "var" / "broker" / "queue").is_dir()  # the embedded broker, not Redis
    children = descendants(proc.pid)
    assert len(children) >= 3  # the worker, its pool process, beat

    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert proc.wait(timeout=60) == 0, log.read_text(errors="replace")[-4000:]
    time.sleep(0.5)
    alive = [pid for pid in children if os.path.exists(f"/proc/{pid}") and _not_zombie(pid)]
    assert alive == [], f"left running: {alive}"
    assert WorkerHeartbeat.objects.get().stopped_at is not None
    assert BeatHeartbeat.objects.get().stopped_at is not None
    # The declared times are back.
    assert not PeriodicTask.objects.filter(interval__isnull=False).exists()
    assert "The declared schedule is installed again." in log.read_text()


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False

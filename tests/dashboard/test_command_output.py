"""What the commands and the embedded default print: progress as plain lines where no terminal
reads them, and no broker or task chatter from in-process Celery."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from connectors.models import Connection
from dashboard.management.progress import PlainProgress
from etl.models import SyncRun

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_prints_a_line_at_most_every_interval_and_one_at_the_end() -> None:
    out, clock = StringIO(), FakeClock()
    bar = PlainProgress(total=8, desc="syncing", unit="step", file=out, interval=10, clock=clock)
    for _ in range(3):
        bar.update(1)
        clock.now += 2
    clock.now += 10
    bar.update(1)
    bar.update(0)
    bar.update(4)
    bar.close()
    bar.close()
    assert out.getvalue().splitlines() == [
        "syncing: 1/8 steps (12%), 0 s",
        "syncing: 4/8 steps (50%), 16 s",
        "syncing: 8/8 steps (100%), 16 s",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_sync_command_prints_progress_lines_when_not_on_a_terminal(
    linkedin_connection: Connection,
) -> None:
    out, err = StringIO(), StringIO()
    call_command("start_background_syncs", stdout=out, stderr=err)
    assert "\r" not in err.getvalue()  # no bar redrawn into one endless line of a log file
    lines = err.getvalue().splitlines()
    assert lines and all(line.startswith("syncing: ") for line in lines)
    steps = len(SyncRun.Step) - 1  # every step but "done", for the one connection
    assert lines[-1].startswith(f"syncing: {steps}/{steps} steps (100%)")
    assert "succeeded" in out.getvalue()


def embedded(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``manage.py`` on the embedded default (SQLite in a fresh var/, tasks in-process), as a new
    user runs it."""
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.base",
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "LOG_LEVEL": "INFO",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_embedded_default_prints_no_broker_warning_and_no_task_results(tmp_path: Path) -> None:
    assert embedded(tmp_path, "migrate", "--noinput", "-v", "0").returncode == 0
    for flag in ("--cleanup", "--refresh-tokens"):
        done = embedded(tmp_path, "start_background_syncs", flag)
        assert done.returncode == 0, done.stderr
        assert "No hostname was supplied" not in done.stderr, done.stderr
        assert done.stderr.strip() == ""
    # What a Sync now click in runserver does: a task run in-process, with the project's logging.
    done = embedded(
        tmp_path, "shell", "-c", "from dashboard.tasks import cleanup_old_data; cleanup_old_data.delay()"
    )
    assert done.returncode == 0, done.stderr
    assert "celery.app.trace" not in done.stderr and "data=" not in done.stderr, done.stderr
    assert "No hostname was supplied" not in done.stderr

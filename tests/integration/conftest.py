"""Real Celery processes for the integration suite: a worker and beat on the real Redis broker,
reading and writing the pytest-django test database on the real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from django.conf import settings as django_settings

from sandbox.core import SandboxServer

# Another Redis database with TEST_CELERY_BROKER_URL (this one is flushed by every worker test).
BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.fail("the worker suite needs PostgreSQL (DATABASE_URL)")
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class CeleryProcesses:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.client = Celery(broker=BROKER_URL)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "sales_dashboard", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_worker(self, concurrency: int = 1) -> subprocess.Popen[bytes]:
        proc = self.start(
            "worker",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--hostname=test-worker@%h",
            "--without-gossip",
            "--without-mingle",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.client.control.ping(timeout=0.5):
                return proc
            if proc.poll() is not None:
                pytest.fail(f"the worker exited: {self.log('worker', tail=4000)}")
        pytest.fail(f"the worker did not answer a ping: {self.log('worker', tail=4000)}")

    def start_beat(self) -> subprocess.Popen[bytes]:
        return self.start(
            "beat",
            "beat",
            "--loglevel=INFO",
            "--max-interval=1",
            f"--pidfile={self.log_dir / 'beat.pid'}",
            f"--schedule={self.log_dir / 'beat-schedule'}",
        )

    def children(self, name: str = "worker") -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.procs[name].pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def log(self, name: str, *, tail: int | None = None) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text[-tail:] if tail else text

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.client.close()


@pytest.fixture
def celery_processes(
    transactional_db: None, linkedin_sandbox: SandboxServer, tmp_path: Path
) -> Iterator[CeleryProcesses]:
    redis.Redis.from_url(BROKER_URL).flushdb()
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}},
        **linkedin_sandbox.env(),
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.base",
        "DATABASE_URL": _database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": BROKER_URL,
        "REDIS_URL": BROKER_URL,
        "FIELD_ENCRYPTION_KEY": django_settings.FIELD_ENCRYPTION_KEY,
        "DJANGO_SECRET_KEY": "integration-test-secret-key-not-for-production",
        "VAR_DIR": str(tmp_path / "var"),
        "HTTP_BACKOFF_BASE_SECONDS": "0.05",
        "HTTP_BACKOFF_MAX_SECONDS": "0.2",
        "DASHBOARD_CACHE_WARM_DELAY_SECONDS": "0",
    }
    processes = CeleryProcesses(env, tmp_path)
    yield processes
    processes.stop()


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, logs: CeleryProcesses) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(
        f"timed out waiting for {what}\n--- worker ---\n{logs.log('worker', tail=4000)}"
        f"\n--- beat ---\n{logs.log('beat', tail=2000)}"
    )

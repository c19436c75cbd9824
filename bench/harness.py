"""What the benchmarks share: a scratch database, real Celery workers, waiting and memory readings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from connectors.platform_settings import declared  # noqa: E402

# The entry tasks' queue, maintenance, each platform's queue of sync steps (etl/queues.py), and
# Celery's default for the benchmarks' own tasks.
QUEUES = ("sync", "maintenance", *(f"sync.{platform}" for platform in declared()), "celery")


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sales_dashboard.settings.test")
    import django

    django.setup()


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """Create (and afterwards drop) a migrated PostgreSQL database; yields its URL."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL (DATABASE_URL).")
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = name
    old = setup_databases(verbosity=0, interactive=False)
    try:
        db = settings.DATABASES["default"]
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        yield f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    finally:
        teardown_databases(old, verbosity=0)


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


class Worker:
    """A real Celery worker subprocess (prefork), logging to a file."""

    def __init__(
        self,
        env: dict[str, str],
        broker_url: str,
        log_path: Path,
        *,
        concurrency: int = 1,
        loglevel: str = "WARNING",
        name: str = "bench-worker",
        app: str = "sales_dashboard",
    ) -> None:
        from celery import Celery

        self.log_path = log_path
        self.broker_url = broker_url
        self.client = Celery(broker=broker_url)
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    app,
                    "worker",
                    f"--loglevel={loglevel}",
                    f"--concurrency={concurrency}",
                    "--pool=prefork",
                    "-Q",
                    ",".join(QUEUES),
                    f"--hostname={name}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.client.control.ping(timeout=0.5):
                return
            if self.proc.poll() is not None:
                break
        raise RuntimeError(f"the worker did not start:\n{self.log()[-3000:]}")

    def pool_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def cpu_seconds(self) -> float:
        """CPU time used so far by the worker process and its pool processes."""
        total = 0
        for pid in [self.proc.pid, *self.pool_pids()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def kill_pool(self) -> None:
        """SIGKILL the pool processes (the worker's parent process stays and starts new ones)."""
        for pid in self.pool_pids():
            os.kill(pid, signal.SIGKILL)

    def send(self, task: str, **kwargs: Any) -> str:
        """Send a task to the ``sync`` queue; returns its id."""
        return str(self.client.send_task(task, kwargs=kwargs, queue="sync").id)

    def idle(self) -> bool:
        """Whether nothing is left to do: no task running, reserved or scheduled (a retry's
        countdown) in the worker, and no message waiting in its queues or delivered unacknowledged."""
        # A connection of its own each time: a pooled one may be dead after a broker restart.
        with self.client.connection_for_write() as connection:
            inspect = self.client.control.inspect(timeout=5, limit=1, connection=connection)
            for listing in (inspect.active(), inspect.reserved(), inspect.scheduled()):
                if listing is None or any(listing.values()):
                    return False
        return self.broker_backlog() == 0

    def broker_backlog(self) -> int:
        """Messages in the worker's queues (every priority) plus those delivered and not yet acked."""
        import redis

        client = redis.Redis.from_url(self.broker_url)
        try:
            # Kombu keeps one Redis list per queue and priority step: "sync", "sync\x06\x163", ...
            queued = sum(
                int(client.llen(queue if priority == 0 else f"{queue}\x06\x16{priority}"))
                for queue in QUEUES
                for priority in (0, 3, 6, 9)
            )
            return queued + int(client.hlen("unacked"))
        finally:
            client.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.client.close()

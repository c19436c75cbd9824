"""Running one worker scenario of the fault suite and judging how it ended.

A scenario empties the scratch database and the broker's Redis database, starts a fresh sandbox in
this process and a real ``celery worker --pool=prefork`` subprocess (the project's Celery app with
the suite's load hook, ``chaos_worker``), registers a connection, plans its faults, triggers
``dashboard.sync_platform_data`` through the broker and acts while the sync runs. Once every
trigger was consumed, every run has finished and the worker has nothing left to do (no task
running, reserved or counting down, no message queued or unacknowledged), it compares the warehouse
with what the sandbox serves and checks what the scenario declares must have happened.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos_hooks import HookFiles
from chaos_measure import PLATFORMS, Outcome, Tally, rows_failures, runs_window, tally
from harness import Worker, wait_until

BROKER_URL = os.environ.get("CHAOS_BROKER_URL", "redis://127.0.0.1:6379/12")
BENCH = Path(__file__).resolve().parent
LOST_CHAIN = "lost chain"  # the fact noted when a run's chain was lost and its lease made to expire

Action = Callable[["Chaos"], None]
Check = Callable[["Chaos"], "str | None"]  # a reason when what must have happened did not


def nothing(chaos: Chaos) -> None:
    """No fault to plan, nothing to do during the sync."""


@dataclass
class WorkerScenario:
    """A sync through a real worker with faults planned in the sandbox, and what it must end with.

    ``runs``, ``final_state`` (the last run's ``status/step``) and ``connection_state`` are what the
    scenario must end with; ``checks`` say what must have happened on the way (the fault was
    reached, the step ran again...). Every scenario must also lose no row, duplicate none and fire
    every planned fault.
    """

    name: str
    what: str
    platform: str = "linkedin_ads"
    account_id: str = ""  # empty: the platform's usual sandbox account (PLATFORMS)
    env: dict[str, str] = field(default_factory=dict)
    env_at_start: Callable[[], dict[str, str]] | None = None  # worked out when the scenario starts
    hook_on_load: str = ""  # hold the first load taking this path ("copy", "merge")
    arm: Action = nothing  # before the trigger: plan faults, set the stage
    during: Action = nothing  # while the sync runs
    triggers: int = 1
    concurrency: int = 1
    data_expected: bool = True
    rows_dropped: int = 0  # rows a silent_gap fault drops without a sign: the only loss allowed
    own_redis: bool = False  # the worker's broker and result backend are a redis-server of its own
    finish_within: float = 180.0  # seconds for the sync to finish (with own_redis: before it counts as lost)
    runs: int = 1
    final_state: str = "succeeded/done"
    connection_state: str = "active"
    checks: tuple[Check, ...] = ()

    def run(self, work_dir: Path) -> Outcome:
        return run_worker_scenario(self, work_dir)


# --------------------------------------------------------------------------- a private Redis


class PrivateRedis:
    """A ``redis-server`` of the suite's own on a free loopback port, which a scenario may stop and
    start again without touching the machine's shared Redis. Like the broker it stands for, it keeps
    nothing on disk, so a restart loses every queued and unacknowledged message."""

    def __init__(self, work_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.dir = work_dir / f"redis-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.restarts = 0
        self.proc = self._start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _start(self) -> subprocess.Popen[bytes]:
        import redis

        proc = subprocess.Popen(
            [
                "redis-server",
                *("--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"),
                *("--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            wait_until(lambda: proc.poll() is not None or _answers(client), timeout=20, what="redis-server")
        finally:
            client.close()
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited: {(self.dir / 'redis.log').read_text(errors='replace')}")
        return proc

    def restart(self, down_seconds: float = 1.0) -> None:
        """``SHUTDOWN NOSAVE``, a moment without Redis, then the same server again on the same port."""
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"], check=False, capture_output=True
        )
        self.proc.wait(timeout=20)
        time.sleep(down_seconds)
        self.proc = self._start()
        self.restarts += 1

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _answers(client: Any) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


# --------------------------------------------------------------------------- what a scenario can reach


@dataclass
class Chaos:
    """What a scenario's actions and checks can reach: the sandbox, the worker, the connection, the
    database, the load hook's files, and the facts the actions noted on the way."""

    scenario: WorkerScenario
    app: Any
    worker: Worker
    connection_id: int
    db_dsn: str
    hooks: HookFiles
    redis: PrivateRedis | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    trigger_ids: list[str] = field(default_factory=list)
    stopped_pids: list[int] = field(default_factory=list)

    def trigger(self, count: int = 1) -> None:
        """Send ``count`` triggers at the same moment, the way beat sends one."""
        barrier = threading.Barrier(count)
        sent: list[str] = []

        def fire() -> None:
            barrier.wait()
            sent.append(self.worker.send("dashboard.sync_platform_data", platform=self.scenario.platform))

        threads = [threading.Thread(target=fire) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.trigger_ids.extend(sent)

    def triggers_consumed(self) -> int:
        """How many of the triggers sent so far the worker has run to the end (its log says so)."""
        log = self.worker.log()
        return sum(
            1 for task_id in self.trigger_ids if re.search(rf"\[{re.escape(task_id)}\] succeeded", log)
        )

    def runs(self) -> list[Any]:
        from etl.models import SyncRun

        return list(
            SyncRun.objects.filter(connection_id=self.connection_id)
            .select_related("connection")
            .order_by("pk")
        )

    def stop_process(self, pid: int) -> None:
        """SIGSTOP a process; ``let_go`` resumes it whatever happens."""
        os.kill(pid, signal.SIGSTOP)
        self.stopped_pids.append(pid)

    def resume_processes(self) -> None:
        while self.stopped_pids:
            pid = self.stopped_pids.pop()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def let_go(self) -> None:
        """After the scenario's actions, whatever they reached: nothing stays held or stopped."""
        self.resume_processes()
        self.app.release_held()
        self.hooks.release()


def run_finished(run: Any) -> bool:
    """Done, or ended without success (failed, cancelled); a succeeded run still pruning is not."""
    return bool(run.step == "done" or run.status not in ("queued", "running", "succeeded"))


def all_runs_finished(connection_id: int, minimum: int) -> bool:
    from etl.models import SyncRun

    runs = list(SyncRun.objects.filter(connection_id=connection_id))
    return len(runs) >= minimum and all(run_finished(r) for r in runs)


# --------------------------------------------------------------------------- running one scenario


def flush_state(broker_url: str) -> None:
    import redis
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    redis.Redis.from_url(broker_url).flushdb()


def database_dsn() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_sandbox(platform: str) -> Any:
    from sandbox.core import SandboxServer
    from sandbox.serve import create_sandbox

    return SandboxServer(create_sandbox(platform))


def worker_env(
    sandbox_env: dict[str, str], scenario: WorkerScenario, var_dir: Path, broker_url: str, hooks: HookFiles
) -> dict[str, str]:
    from django.conf import settings

    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    return {
        **{k: v for k, v in os.environ.items() if k in keep},
        **sandbox_env,
        "PYTHONPATH": os.pathsep.join([str(BENCH), str(BENCH.parent)]),
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.base",
        "DATABASE_URL": database_dsn(),
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": broker_url,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "DJANGO_SECRET_KEY": "chaos-suite-secret-key-not-for-production",
        "VAR_DIR": str(var_dir),
        "HTTP_BACKOFF_BASE_SECONDS": "0.05",
        "HTTP_BACKOFF_MAX_SECONDS": "0.2",
        "DASHBOARD_CACHE_WARM_DELAY_SECONDS": "0",
        **(hooks.env(scenario.hook_on_load) if scenario.hook_on_load else {}),
        **scenario.env,
        **(scenario.env_at_start() if scenario.env_at_start else {}),
    }


def create_connection(scenario: WorkerScenario) -> int:
    from connectors.services import connection_create
    from tenancy.models import Organization

    platform = PLATFORMS[scenario.platform]
    org = Organization.objects.create(name="Chaos", slug="chaos")
    conn = connection_create(
        organization=org,
        platform=scenario.platform,
        account_id=scenario.account_id or platform.account_id,
        credentials=platform.credentials(),
        options=dict(platform.options),
        check=False,
    )
    return conn.pk


def run_worker_scenario(scenario: WorkerScenario, work_dir: Path) -> Outcome:
    flush_state(BROKER_URL)
    started = time.monotonic()
    server = start_sandbox(scenario.platform)
    worker: Worker | None = None
    own_redis: PrivateRedis | None = None
    try:
        connection_id = create_connection(scenario)
        own_redis = PrivateRedis(work_dir) if scenario.own_redis else None
        broker_url = own_redis.url if own_redis else BROKER_URL
        hooks = HookFiles(work_dir / scenario.name / "hooks")
        worker = Worker(
            worker_env(server.env(), scenario, work_dir / scenario.name, broker_url, hooks),
            broker_url,
            work_dir / f"{scenario.name}.log",
            concurrency=scenario.concurrency,
            loglevel="INFO",
            name="chaos-worker",
            app="chaos_worker",
        )
        chaos = Chaos(scenario, server.app, worker, connection_id, database_dsn(), hooks, redis=own_redis)
        try:
            scenario.arm(chaos)
            chaos.trigger(scenario.triggers)
            scenario.during(chaos)
        finally:
            chaos.let_go()
        settle(chaos)
        return measure(chaos, time.monotonic() - started)
    except Exception as exc:
        return Outcome.error(exc, time.monotonic() - started, worker.log() if worker else "")
    finally:
        if worker is not None:
            worker.stop()
        if own_redis is not None:
            own_redis.stop()
        server.stop()


def settle(chaos: Chaos) -> None:
    """Wait until the scenario is over: every trigger consumed, every run finished, nothing left in
    the worker or the broker (a late redelivery or a second run would show up)."""
    scenario = chaos.scenario
    wait_until(
        lambda: chaos.triggers_consumed() >= len(chaos.trigger_ids),
        timeout=scenario.finish_within,
        what="the worker to consume every trigger",
    )
    try:
        wait_until(
            lambda: all_runs_finished(chaos.connection_id, 1),
            timeout=scenario.finish_within,
            what="the sync to finish",
        )
    except TimeoutError:
        if not scenario.own_redis:
            raise
        chaos.facts[LOST_CHAIN] = expire_lost_run(chaos)
    wait_until(chaos.worker.idle, timeout=180, what="the worker to have nothing left to do")
    wait_until(lambda: all_runs_finished(chaos.connection_id, 1), timeout=180, what="every run to finish")


def expire_lost_run(chaos: Chaos) -> str:
    """The chain was lost with the broker's messages: take the documented way out. The run's lease
    is made to expire (instead of waiting for it), the next trigger closes it as abandoned and
    starts a new run, and that run must load the window cleanly."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from etl.models import SyncRun

    stuck = SyncRun.objects.filter(connection_id=chaos.connection_id).order_by("-pk").first()
    assert stuck is not None
    lapsed = timezone.now() - timedelta(seconds=settings.SYNC_RUN_LEASE_SECONDS + 60)
    SyncRun.objects.filter(pk=stuck.pk).update(
        heartbeat_at=lapsed, lease_expires_at=lapsed, waiting_until=None
    )
    chaos.trigger()
    wait_until(
        lambda: all_runs_finished(chaos.connection_id, 2), timeout=180, what="the sync after the lost one"
    )
    stuck.refresh_from_db()
    return (
        f"chain lost at step {stuck.step}: run {stuck.pk}'s lease expired, closed as {stuck.error_class} "
        f"({stuck.error_message}), the next trigger ran a new sync"
    )


# --------------------------------------------------------------------------- measuring and judging


def measure(chaos: Chaos, seconds: float) -> Outcome:
    from connectors.models import Connection

    scenario = chaos.scenario
    runs = chaos.runs()
    window = runs_window(chaos.connection_id) if scenario.data_expected else None
    figures = tally(scenario.platform, chaos.app, chaos.connection_id, window)
    outcome = Outcome.of(figures, runs, Connection.objects.get(pk=chaos.connection_id).status, seconds)
    outcome.failures = judge(chaos, figures, outcome)
    outcome.detail = details(chaos, runs)  # after the checks: they note what they saw
    return outcome


def judge(chaos: Chaos, figures: Tally, outcome: Outcome) -> list[str]:
    """Every reason the scenario did not end as it must (empty: it did)."""
    scenario = chaos.scenario
    failures = rows_failures(figures, dropped=scenario.rows_dropped)
    if scenario.data_expected and figures.served == 0:
        failures.append("the sandbox serves no row for the window, so nothing was compared")
    # A chain lost with the broker's messages is closed through its lease and synced again: one more run.
    expected_runs = scenario.runs + (1 if LOST_CHAIN in chaos.facts else 0)
    if outcome.runs != expected_runs:
        failures.append(f"{outcome.runs} run(s), expected {expected_runs}")
    if outcome.run_state != scenario.final_state:
        failures.append(f"the last run ended {outcome.run_state}, expected {scenario.final_state}")
    if outcome.connection_state != scenario.connection_state:
        failures.append(f"connection {outcome.connection_state}, expected {scenario.connection_state}")
    pending = chaos.app.faults.pending()
    if pending:
        failures.append(f"faults not fired: {pending}")
    for check in scenario.checks:
        reason = check(chaos)
        if reason:
            failures.append(reason)
    return failures


def details(chaos: Chaos, runs: list[Any]) -> str:
    from etl.models import QuarantinedRecord

    parts = [
        f"run {run.pk}: {run.status}/{run.step}, window {run.window_start}..{run.window_end}, "
        f"totals {run.reconciliation_status or 'not compared yet'}"
        for run in runs
    ]
    calls = ", ".join(f"{name} {count}" for name, count in sorted(chaos.app.requests.items()))
    parts.append(f"requests: {calls}")
    if chaos.redis is not None:
        lost = chaos.worker.log().count("Connection to broker lost")
        parts.append(
            f"redis restarts {chaos.redis.restarts}, broker connection lost {lost} time(s) in the worker log"
        )
    for run in runs:
        if run.error_class:
            parts.append(f"run {run.pk} error {run.error_class}: {run.error_message[:160]}")
        parts.extend(f"run {run.pk} note: {note[:140]}" for note in run.notes)
    reasons = QuarantinedRecord.objects.filter(connection_id=chaos.connection_id).values_list(
        "reason", flat=True
    )
    parts.extend(f"quarantined: {reason[:120]}" for reason in reasons)
    parts.extend(f"{name}: {value}" for name, value in chaos.facts.items())
    return "; ".join(parts)

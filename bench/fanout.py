"""Fan-out: many connections due at once, drained by real Celery workers.

What it does, all on this machine:

- creates a scratch PostgreSQL database (``bench_fanout``, as the test runner does) and a clean
  Redis database (db 11 by default: broker, results and cache; flushed at the start and the end);
- serves the LinkedIn Ads sandbox from a separate process;
- registers N organizations with one LinkedIn connection each, all to the sandbox account with
  12 campaigns, holding a valid 60-day access token (so the refresh step has nothing to renew) and
  a recent last success (so each sync re-reads a 2-day window: one stream, three API calls, a
  couple of dozen rows);
- starts W worker processes (``bench/harness.Worker``: prefork, ``--concurrency C``,
  C = 1 by default: W pool processes in all);
- triggers every connection three times at once, as an overlap at 00:00 does: beat's "all
  platforms" task and its "LinkedIn" task go to the broker, and a manual run starts the same
  connections from this process at the same moment;
- waits until every run has finished, then prints the figures and writes them to
  ``var/bench/fanout.json``.

The figures:

- **drain wall time**: from the moment the triggers are sent to the end of the last step, as the
  worker reported it (task events carry the worker's clock, which is this machine's clock);
- **step time**: the sum over the runs of ``SyncRun.timings``, the time each step spent on its
  own work (inside ``etl.services._step``);
- **task time**: the sum of the ``runtime`` Celery reports for every step task: from the moment
  the pool process starts the task until its result is handled and the next step is sent;
- **worker-busy time**: for each pool process, the time from the start of the first step it ran
  to the end of the last one, less the time it spent running the entry tasks in between; summed
  over the pool processes. It contains everything a worker does for a step besides the step
  itself: loading the run, the bookkeeping writes, Celery's tracing, results, events, sending the
  next step, acknowledging, fetching the next message, the hand-over to the pool process;
- **chain overhead per sync** = (worker-busy time - step time) / syncs; it is split into the part
  inside the tasks ((task time - step time) / syncs) and the part between them ((worker-busy time
  - task time) / syncs).

And the proof that nothing ran twice, from three sources that could each disagree:

- SyncRuns per connection, from the database: exactly one each;
- executions per task id, from the workers' task events: every run's five task ids start and
  succeed exactly once, and no step task runs that belongs to no run;
- the sandbox's own request counters: exactly one analytics request per run (one extract each).

    .venv/bin/python bench/fanout.py [--connections 1000] [--workers 2] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, Worker

sys.path.insert(0, str(ROOT))

SANDBOX_ACCOUNT = "508000001"  # the LinkedIn sandbox account with 12 campaigns
STEP_TASKS = ("sync.refresh_token", "sync.extract", "sync.normalize", "sync.load", "sync.prune")
STEP_QUEUES = {"sync.prune": "maintenance"}  # the others go to "sync.linkedin_ads"
ENTRY_TASKS = ("dashboard.sync_all_platform_data", "dashboard.sync_platform_data")
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sales_dashboard"


# -------------------------------------------------------------------------------- the sandbox


def _serve_sandbox(pipe: Pipe) -> None:
    """Child process: serve the LinkedIn sandbox until told to stop; answer its request counters."""
    from sandbox.core import SandboxServer
    from sandbox.linkedin_ads import create_app

    with SandboxServer(create_app()) as server:
        pipe.send(server.env())
        while pipe.recv() != "stop":
            pipe.send(server.app.state()["requests"])


@contextmanager
def sandbox_process() -> Iterator[tuple[dict[str, str], Pipe]]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve_sandbox, args=(theirs,), name="linkedin-sandbox", daemon=True)
    process.start()
    try:
        if not ours.poll(60):
            raise RuntimeError("the sandbox did not start")
        yield ours.recv(), ours
    finally:
        ours.send("stop")
        process.join(timeout=10)
        if process.is_alive():
            process.kill()


def sandbox_requests(pipe: Pipe) -> dict[str, int]:
    pipe.send("state")
    return dict(pipe.recv())


# -------------------------------------------------------------------------------- task events


@dataclass
class TaskEvents:
    """Every task event the workers publish, gathered from the broker in a background thread."""

    app: Any
    events: list[dict[str, Any]] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    _receiver: Any = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._capture, name="task-events", daemon=True)
        self._thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("could not listen to task events")

    def _capture(self) -> None:
        with self.app.connection_for_read() as connection:
            self._receiver = self.app.events.Receiver(connection, handlers={"*": self._on_event})
            # Called before each wait for events, once the subscription is in place.
            self._receiver.on_iteration = self.ready.set
            for _ in self._receiver.consume(limit=None, timeout=None, safety_interval=0.2):
                pass

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type", "").startswith("task-"):
            self.events.append(event)

    def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["type"] == kind]


# -------------------------------------------------------------------------------- the workers


class Workers:
    """W real workers (``bench/harness.Worker``), each with its own log file."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.workers: list[Worker] = []

    def start(self, count: int, concurrency: int, broker_url: str, app: str = "sales_dashboard") -> None:
        for index in range(count):
            self.workers.append(
                Worker(
                    self.env,
                    broker_url,
                    self.log_dir / f"{app}-worker-{index}.log",
                    concurrency=concurrency,
                    loglevel="INFO",
                    name=f"fanout-{index}",
                    app=app,
                )
            )

    def cpu_seconds(self) -> float:
        """CPU time used so far by the worker processes and their pool processes."""
        return sum(worker.cpu_seconds() for worker in self.workers)

    def log(self) -> str:
        return "".join(worker.log() for worker in self.workers)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


# -------------------------------------------------------------------------------- set-up


def database_url_for(name: str) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def create_connections(count: int) -> list[int]:
    """N organizations with one LinkedIn connection each; the first one is checked against the
    sandbox (a real token refresh), the others share its fresh access token."""
    from django.utils import timezone

    from connectors.models import Connection
    from connectors.services import connection_create
    from sandbox.linkedin_ads import DEMO_REFRESH_TOKEN
    from tenancy.models import Organization

    organizations = Organization.objects.bulk_create(
        Organization(name=f"Fan-out {i:04d}", slug=f"fanout-{i:04d}") for i in range(count)
    )
    first = connection_create(
        organization=organizations[0],
        platform="linkedin_ads",
        account_id=SANDBOX_ACCOUNT,
        credentials={"refresh_token": DEMO_REFRESH_TOKEN},
        check=True,
    )
    Connection.objects.bulk_create(
        Connection(
            organization=organization,
            platform="linkedin_ads",
            account_id=SANDBOX_ACCOUNT,
            name=first.name,
            credentials_encrypted=first.credentials_encrypted,
            token_expires_at=first.token_expires_at,
        )
        for organization in organizations[1:]
    )
    Connection.objects.update(last_success_at=timezone.now() - timedelta(minutes=5), restatement_days=1)
    return list(Connection.objects.order_by("pk").values_list("pk", flat=True))


# -------------------------------------------------------------------------------- the run


@dataclass
class Trigger:
    sent_at: float
    worker_cpu_before: float
    entry_task_ids: list[str]
    manual_started: int
    manual_skipped: int
    manual_seconds: float


def trigger_all(app: Any, workers: Workers) -> Trigger:
    """Beat's two overlapping schedules to the broker, and a manual run from here, at once."""
    from etl.pipeline import syncs_start

    cpu_before = workers.cpu_seconds()
    sent_at = time.time()
    entry = [
        app.send_task("dashboard.sync_all_platform_data", queue="sync").id,
        app.send_task("dashboard.sync_platform_data", kwargs={"platform": "linkedin_ads"}, queue="sync").id,
    ]
    started = time.perf_counter()
    batch = syncs_start(platform="linkedin_ads", trigger="manual")
    return Trigger(
        sent_at, cpu_before, entry, len(batch.started), len(batch.skipped), time.perf_counter() - started
    )


def all_finished(events: TaskEvents, trigger: Trigger) -> bool:
    from etl.models import SyncRun

    done = {e["uuid"] for e in events.of_type("task-succeeded")} | {
        e["uuid"] for e in events.of_type("task-failed")
    }
    if not set(trigger.entry_task_ids) <= done:
        return False
    unfinished = SyncRun.objects.exclude(status=SyncRun.Status.FAILED).exclude(step=SyncRun.Step.DONE)
    return not unfinished.exists()


def wait_for_drain(events: TaskEvents, trigger: Trigger, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all_finished(events, trigger):
            time.sleep(1.0)  # the last events are still on their way
            return True
        time.sleep(0.25)
    return False


def celery_floor(args: argparse.Namespace, env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    """The same drain with five no-op tasks per chain (``bench/celery_floor.py``): Celery's share."""
    from celery import Celery, chain

    flush(args.redis_url)
    client = Celery("celery-floor-client", broker=args.redis_url, set_as_current=False)
    events = TaskEvents(client)
    floor_env = {k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"}  # no Django
    workers = Workers({**floor_env, "PYTHONPATH": str(Path(__file__).resolve().parent)}, log_dir)
    expected = args.connections * len(STEP_TASKS)
    try:
        events.start()
        workers.start(args.workers, args.concurrency, args.redis_url, app="celery_floor")
        sent_at = time.time()
        for index in range(args.connections):
            chain(
                *(
                    client.signature(
                        name, args=(index,), queue=STEP_QUEUES.get(name, "sync.linkedin_ads"), immutable=True
                    )
                    for name in STEP_TASKS
                )
            ).apply_async()
        deadline = time.monotonic() + args.timeout
        while len(events.of_type("task-succeeded")) < expected and time.monotonic() < deadline:
            time.sleep(0.25)
        drained = len(events.of_type("task-succeeded")) >= expected
        time.sleep(1.0)  # the last events are still on their way
    finally:
        events.stop()
        workers.stop()
        client.close()
    busy, task_time, _ = busy_seconds(events, task_names(events))
    ends = [e["timestamp"] for e in events.of_type("task-succeeded")]
    return {
        "drained": drained,
        "wall_seconds": round(max(ends) - sent_at, 2) if ends else None,
        "task_time_per_chain_ms": round(task_time * 1000 / args.connections, 1),
        "chain_overhead_per_chain_ms": round(busy * 1000 / args.connections, 1),
    }


# -------------------------------------------------------------------------------- the figures


def task_names(events: TaskEvents) -> dict[str, str]:
    return {e["uuid"]: e["name"] for e in events.of_type("task-received") if e.get("name")}


def busy_seconds(events: TaskEvents, names: dict[str, str]) -> tuple[float, float, int]:
    """Worker-busy time, task time of the steps, and the number of pool processes that ran steps."""
    started = {e["uuid"]: e for e in events.of_type("task-started")}
    spans: dict[tuple[str, int], list[tuple[float, float, bool]]] = defaultdict(list)
    task_time = 0.0
    for end in (
        events.of_type("task-succeeded") + events.of_type("task-failed") + events.of_type("task-retried")
    ):
        start = started.get(end["uuid"])
        if start is None:
            continue
        is_step = names.get(end["uuid"]) in STEP_TASKS
        runtime = float(end.get("runtime") or (end["timestamp"] - start["timestamp"]))
        spans[(start["hostname"], int(start["pid"]))].append((start["timestamp"], end["timestamp"], is_step))
        if is_step:
            task_time += runtime
    busy = 0.0
    processes = 0
    for tasks in spans.values():
        steps = [(s, e) for s, e, is_step in tasks if is_step]
        if not steps:
            continue
        processes += 1
        first, last = min(s for s, _ in steps), max(e for _, e in steps)
        entry = sum(
            min(e, last) - max(s, first) for s, e, is_step in tasks if not is_step and e > first and s < last
        )
        busy += last - first - entry
    return busy, task_time, processes


def overhead_by_step(
    events: TaskEvents, names: dict[str, str], runs: list[Any]
) -> dict[str, dict[str, float]]:
    """Mean task runtime and mean step time (ms) of each of the five steps."""
    runtimes: dict[str, list[float]] = defaultdict(list)
    for event in events.of_type("task-succeeded"):
        name = names.get(event["uuid"])
        if name in STEP_TASKS and event.get("runtime") is not None:
            runtimes[name].append(float(event["runtime"]))
    result = {}
    for name, step in zip(STEP_TASKS, ("refresh", "extract", "normalize", "load", "prune"), strict=True):
        times = runtimes.get(name) or [0.0]
        step_mean = sum(float(run.timings.get(step, 0)) for run in runs) / max(len(runs), 1)
        task_mean = sum(times) / len(times)
        result[step] = {
            "task_ms": round(task_mean * 1000, 1),
            "step_ms": round(step_mean * 1000, 1),
            "overhead_ms": round((task_mean - step_mean) * 1000, 1),
        }
    return result


def executions_check(events: TaskEvents, names: dict[str, str], runs: list[Any]) -> dict[str, Any]:
    started = Counter(e["uuid"] for e in events.of_type("task-started"))
    succeeded = Counter(e["uuid"] for e in events.of_type("task-succeeded"))
    run_task_ids = {task_id for run in runs for task_id in run.task_ids}
    step_ids_seen = {uuid for uuid in started if names.get(uuid) in STEP_TASKS}
    not_once = [
        run.pk
        for run in runs
        if len(set(run.task_ids)) != len(STEP_TASKS)
        or any(started[t] != 1 or succeeded[t] != 1 for t in run.task_ids)
    ]
    return {
        "step_tasks_started": sum(started[u] for u in step_ids_seen),
        "step_tasks_expected": len(runs) * len(STEP_TASKS),
        "runs_with_a_step_not_run_exactly_once": not_once[:20],
        "runs_with_a_step_not_run_exactly_once_count": len(not_once),
        "step_tasks_belonging_to_no_run": len(step_ids_seen - run_task_ids),
        "retries": len(events.of_type("task-retried")),
        "failures": len(events.of_type("task-failed")),
        "redelivered_or_rejected": len(events.of_type("task-rejected")),
    }


def figures(
    args: argparse.Namespace,
    trigger: Trigger,
    events: TaskEvents,
    requests: dict[str, int],
    drained: bool,
    worker_cpu: float,
) -> dict[str, Any]:
    from connectors.models import Connection
    from etl.models import SyncRun

    runs = list(SyncRun.objects.order_by("pk"))
    syncs = len(runs)
    per_connection = Counter(run.connection_id for run in runs)
    connection_ids = list(Connection.objects.values_list("pk", flat=True))
    counts = Counter(per_connection.get(pk, 0) for pk in connection_ids)
    names = task_names(events)
    busy, task_time, processes = busy_seconds(events, names)
    step_time = sum(sum(float(v) for v in run.timings.values()) for run in runs)
    step_split = {
        step: sum(float(run.timings.get(step, 0)) for run in runs) / max(syncs, 1)
        for step in ("refresh", "extract", "normalize", "load", "prune")
    }
    ends = [e["timestamp"] for e in events.of_type("task-succeeded") if names.get(e["uuid"]) in STEP_TASKS]
    first_step = [
        e["timestamp"] for e in events.of_type("task-started") if names.get(e["uuid"]) in STEP_TASKS
    ]
    wall = (max(ends) - trigger.sent_at) if ends else float("nan")
    entry = {
        e["uuid"]: float(e.get("runtime") or 0)
        for e in events.of_type("task-succeeded")
        if names.get(e["uuid"]) in ENTRY_TASKS
    }
    rows_extracted = sum(run.rows_extracted for run in runs)
    rows_loaded = sum(run.rows_loaded for run in runs)
    window_days = {(run.window_end - run.window_start).days + 1 for run in runs}
    per_sync = 1000 / max(syncs, 1)
    return {
        "setup": {
            "connections": len(connection_ids),
            "workers": args.workers,
            "concurrency_per_worker": args.concurrency,
            "pool": "prefork",
            "pool_processes_that_ran_steps": processes,
            "each_sync_carried": {
                "platform": "linkedin_ads",
                "sandbox_account": SANDBOX_ACCOUNT,
                "campaigns": 12,
                "streams": 1,
                "window_days": sorted(window_days),
                "token": "valid 60-day access token: the refresh step renews nothing",
                "api_requests_per_sync": round(
                    sum(v for k, v in requests.items() if not k.startswith("control")) / max(syncs, 1), 2
                ),
                "rows_extracted_per_sync": round(rows_extracted / max(syncs, 1), 1),
                "rows_loaded_per_sync": round(rows_loaded / max(syncs, 1), 1),
            },
            "triggers": "beat 'all platforms' + beat 'LinkedIn' (sent to the broker) + a manual run, at once",
        },
        "load_average": {"before": args.load_before, "after": list(os.getloadavg())},
        "drained": drained,
        "wall_seconds": round(wall, 2),
        "syncs_per_second": round(syncs / wall, 1) if wall == wall and wall > 0 else None,
        "first_step_after_trigger_seconds": round(min(first_step) - trigger.sent_at, 3)
        if first_step
        else None,
        "per_sync_ms": {
            "step_time": round(step_time * per_sync, 1),
            "task_time": round(task_time * per_sync, 1),
            "worker_busy_time": round(busy * per_sync, 1),
            "chain_overhead": round((busy - step_time) * per_sync, 1),
            "overhead_inside_tasks": round((task_time - step_time) * per_sync, 1),
            "overhead_between_tasks": round((busy - task_time) * per_sync, 1),
            "worker_cpu_including_entry_tasks": round(worker_cpu * per_sync, 1),
            "steps": {k: round(v * 1000, 1) for k, v in step_split.items()},
            "by_step": overhead_by_step(events, names, runs),
        },
        "starting": {
            "manual_run_started": trigger.manual_started,
            "manual_run_skipped": trigger.manual_skipped,
            "manual_run_ms_per_connection": round(
                trigger.manual_seconds * 1000 / max(len(connection_ids), 1), 2
            ),
            "beat_entry_tasks_seconds": {names.get(k, k): round(v, 2) for k, v in entry.items()},
            "runs_by_trigger": dict(Counter(run.trigger for run in runs)),
        },
        # An organization's dashboards are warmed after its sync only when a member opened them
        # lately; none of these organizations has a member, so none should run.
        "dashboard_warm_ups_run": sum(
            names.get(e["uuid"]) == "dashboard.cache_warm" for e in events.of_type("task-succeeded")
        ),
        "runs": {
            "total": syncs,
            "succeeded": sum(run.status == SyncRun.Status.SUCCEEDED for run in runs),
            "failed": sum(run.status == SyncRun.Status.FAILED for run in runs),
            "in_flight": sum(run.status in SyncRun.IN_FLIGHT for run in runs),
            "errors": dict(
                Counter(f"{run.error_class}: {run.error_message}"[:200] for run in runs if run.error_class)
            ),
            "connections_by_run_count": {str(k): v for k, v in sorted(counts.items())},
        },
        "executions": {
            **executions_check(events, names, runs),
            "sandbox_requests": requests,
            "sandbox_analytics_requests_per_run": round(requests.get("ad_analytics", 0) / max(syncs, 1), 3),
        },
    }


def verdict(result: dict[str, Any]) -> dict[str, bool]:
    runs, executions = result["runs"], result["executions"]
    return {
        "every run finished": result["drained"] and runs["in_flight"] == 0,
        "exactly one SyncRun per connection": runs["connections_by_run_count"]
        == {"1": result["setup"]["connections"]},
        "every step ran exactly once (task events)": executions["runs_with_a_step_not_run_exactly_once_count"]
        == 0
        and executions["step_tasks_belonging_to_no_run"] == 0
        and executions["step_tasks_started"] == executions["step_tasks_expected"],
        "one extract per run (sandbox counters)": executions["sandbox_analytics_requests_per_run"] == 1.0,
        "chain overhead under 20 ms per sync": result["per_sync_ms"]["chain_overhead"] < 20,
    }


def report(result: dict[str, Any], checks: dict[str, bool]) -> None:
    setup, carried, ms = result["setup"], result["setup"]["each_sync_carried"], result["per_sync_ms"]
    print(
        f"{setup['connections']} connections, {setup['workers']} workers x prefork concurrency "
        f"{setup['concurrency_per_worker']}; triggers: {setup['triggers']}"
    )
    print(
        f"each sync: {carried['platform']} sandbox account {carried['sandbox_account']} "
        f"({carried['campaigns']} campaigns, 1 stream), window {carried['window_days']} day(s), "
        f"{carried['api_requests_per_sync']} API requests, {carried['rows_extracted_per_sync']} rows extracted, "
        f"{carried['rows_loaded_per_sync']} loaded; token still valid (nothing to renew)"
    )
    print(
        f"load average             : {result['load_average']['before']} before, "
        f"{[round(x, 2) for x in result['load_average']['after']]} after ({os.cpu_count()} cores)"
    )
    print(
        f"drain wall time          : {result['wall_seconds']:.2f} s  ({result['syncs_per_second']} syncs/s)"
    )
    print(
        f"per sync, step time      : {ms['step_time']:6.1f} ms  "
        + " ".join(f"{k}={v}" for k, v in ms["steps"].items())
    )
    print(f"per sync, task time      : {ms['task_time']:6.1f} ms  (Celery's runtime of the five step tasks)")
    print(
        "per task, task - step    : "
        + " ".join(f"{k}={v['overhead_ms']}" for k, v in ms["by_step"].items())
        + " ms"
    )
    print(
        f"per sync, worker busy    : {ms['worker_busy_time']:6.1f} ms  (pool-process time spent on the chain)"
    )
    print(
        f"per sync, worker CPU     : {ms['worker_cpu_including_entry_tasks']:6.1f} ms  (CPU of the worker "
        "processes and their pools, entry tasks included: unaffected by other load on the machine)"
    )
    print(
        f"chain overhead per sync  : {ms['chain_overhead']:6.1f} ms  = (worker busy - step time) / syncs: "
        f"{ms['overhead_inside_tasks']} ms inside the tasks, {ms['overhead_between_tasks']} ms between them"
    )
    floor = result.get("celery_floor")
    if floor:
        print(
            f"Celery's floor           : {floor['chain_overhead_per_chain_ms']:6.1f} ms  = the same measure for "
            f"chains of five no-op tasks (bench/celery_floor.py: same settings, workers and events), "
            f"drained in {floor['wall_seconds']} s; the pipeline's steps add "
            f"{ms['chain_overhead'] - floor['chain_overhead_per_chain_ms']:.1f} ms of bookkeeping"
        )
    starting = result["starting"]
    print(
        f"starting                 : manual run {starting['manual_run_ms_per_connection']} ms per connection "
        f"({starting['manual_run_started']} started, {starting['manual_run_skipped']} skipped); "
        f"beat entry tasks {starting['beat_entry_tasks_seconds']} s; runs by trigger {starting['runs_by_trigger']}"
    )
    print(
        f"{'dashboard warm-ups':25}: {result['dashboard_warm_ups_run']} run (warmed only where a member "
        "opened the dashboards lately; nobody did here)"
    )
    runs, executions = result["runs"], result["executions"]
    print(
        f"runs                     : {runs['total']} ({runs['succeeded']} succeeded, {runs['failed']} failed, "
        f"{runs['in_flight']} in flight); connections by number of runs {runs['connections_by_run_count']}"
    )
    if runs["errors"]:
        print(f"errors                   : {runs['errors']}")
    print(
        f"step executions          : {executions['step_tasks_started']} started of "
        f"{executions['step_tasks_expected']} expected; runs with a step not run exactly once: "
        f"{executions['runs_with_a_step_not_run_exactly_once_count']}; retries {executions['retries']}; "
        f"analytics requests per run {executions['sandbox_analytics_requests_per_run']}"
    )
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")


# -------------------------------------------------------------------------------- main


def flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1, help="prefork pool processes per worker")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="broker, results and cache")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the drain")
    parser.add_argument("--output", default=str(ROOT / "var" / "bench" / "fanout.json"))
    args = parser.parse_args()
    args.load_before = list(os.getloadavg())  # the machine may be shared: say how busy it was

    with sandbox_process() as (sandbox_env, sandbox), tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        os.environ.update(sandbox_env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "sales_dashboard.settings.base"
        os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
        os.environ["CELERY_BROKER_URL"] = os.environ["REDIS_URL"] = args.redis_url
        os.environ.pop("CELERY_RESULT_BACKEND", None)
        os.environ.setdefault("LOG_LEVEL", "WARNING")  # this process only; the workers log as production does
        flush(args.redis_url)

        import django

        django.setup()
        from django.conf import settings
        from django.db import connection, connections
        from django.test.utils import setup_databases, teardown_databases

        from sales_dashboard.celery import app

        if connection.vendor != "postgresql":
            sys.exit("This benchmark needs PostgreSQL (DATABASE_URL).")
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = "bench_fanout"
        old = setup_databases(verbosity=0, interactive=False)
        worker_env = {
            **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}},
            **sandbox_env,
            "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.base",
            "DATABASE_URL": database_url_for("bench_fanout"),
            "CELERY_BROKER_URL": args.redis_url,
            "REDIS_URL": args.redis_url,
            "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
            "DJANGO_SECRET_KEY": "fanout-bench-secret-key-not-for-production",
            "VAR_DIR": str(Path(tmp) / "var"),
        }
        workers = Workers(worker_env, Path(tmp))
        events = TaskEvents(app)
        try:
            create_connections(args.connections)
            events.start()
            workers.start(args.workers, args.concurrency, args.redis_url)
            trigger = trigger_all(app, workers)
            drained = wait_for_drain(events, trigger, args.timeout)
            worker_cpu = workers.cpu_seconds() - trigger.worker_cpu_before
            result = figures(args, trigger, events, sandbox_requests(sandbox), drained, worker_cpu)
        finally:
            events.stop()
            workers.stop()
            connections.close_all()
            teardown_databases(old, verbosity=0)
            flush(args.redis_url)
            app.close()
        try:
            result["celery_floor"] = celery_floor(args, worker_env, Path(tmp))
        finally:
            flush(args.redis_url)

    checks = verdict(result)
    result["checks"] = checks
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    report(result, checks)
    print(f"figures written to {output}")
    return 0 if all(v for k, v in checks.items() if not k.startswith("chain overhead")) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Fault suite: real syncs through a real Celery worker with the sandbox misbehaving.

For each scenario the script empties a scratch PostgreSQL database (``chaos_sales_dashboard``,
created and dropped here as the test runner does), flushes a dedicated Redis database (db 12),
starts a fresh sandbox in this process and a real ``celery worker --pool=prefork`` subprocess,
registers a connection, plans the scenario's faults, triggers ``dashboard.sync_platform_data``
through the broker and waits for the run to finish. It then prints one line per scenario:

- served: the rows the sandbox's own expected-rows helpers say the API serves for the run's window
  (0 when the scenario is one where no report may be fetched, e.g. a revoked grant);
- loaded: warehouse rows of the connection; dup: rows beyond one per natural key;
- lost: served rows missing from the warehouse (or loaded with other values) and not quarantined;
- quar: records quarantined by the run; runs: SyncRun rows created; run / connection: final states.

Every platform's throttle is played with its real answer (LinkedIn's 429 body, Google Ads'
gRPC RESOURCE_EXHAUSTED with a QuotaError, Mailchimp's 429 problem document and bare 403, Zoho's
429 TOO_MANY_REQUESTS, Demandbase's 429-100), and served/loaded compare each platform's own
warehouse tables. The Redis restart scenario gives its worker a ``redis-server`` of its own on a
free port and restarts that one, so the machine's shared Redis is never touched.
``--only NAME`` (repeatable) picks scenarios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, Worker

sys.path.insert(0, str(ROOT))
BROKER_URL = "redis://127.0.0.1:6379/12"
TEST_DB_NAME = "chaos_sales_dashboard"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sales_dashboard.settings.test")
os.environ["REDIS_URL"] = BROKER_URL  # keep this process's cache off the other suites' Redis dbs

Key = tuple[str, ...]  # a warehouse row's natural key, e.g. (campaign id, ISO date)
Values = tuple[Any, ...]  # the row's compared values, e.g. (impressions, clicks, spend)


# --------------------------------------------------------------------------- scenario model


@dataclass
class Scenario:
    name: str
    what: str
    platform: str = "linkedin_ads"
    account_id: str = ""  # empty: the platform's usual sandbox account (PLATFORMS)
    env: dict[str, str] = field(default_factory=dict)
    arm: Callable[[Chaos], None] = lambda chaos: None  # plan faults before the trigger
    during: Callable[[Chaos], None] = lambda chaos: None  # act while the sync runs
    triggers: int = 1
    concurrency: int = 1
    data_expected: bool = True
    resync: bool = False  # after a failed run, sync once more and report how that one ends
    own_redis: bool = False  # the worker's broker and result backend are a redis-server of its own
    finish_within: float = 180.0  # seconds for the sync to finish (with own_redis: before it counts as lost)


@dataclass
class Outcome:
    served: int
    loaded: int
    duplicates: int
    lost: int
    quarantined: int
    runs: int
    run_state: str
    connection_state: str
    detail: str
    seconds: float


# --------------------------------------------------------------------------- processes


class PrivateRedis:
    """A ``redis-server`` of the suite's own on a free loopback port, which a scenario may stop and
    start again without touching the machine's shared Redis. Like the broker it stands for, it keeps
    nothing on disk, so a restart loses every queued and unacknowledged message."""

    def __init__(self, work_dir: Path) -> None:
        import socket

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
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxmemory-policy",
                "noeviction",
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.dir / "redis.log"),
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


@dataclass
class Chaos:
    """What a scenario's hooks can reach: the sandbox app, the worker, the connection and the DB."""

    app: Any
    worker: Worker
    connection_id: int
    db_dsn: str
    lock: Any = None  # an open connection holding the fact-table lock, when a scenario took it
    redis: PrivateRedis | None = None  # the scenario's own Redis, when it has one


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


# --------------------------------------------------------------------------- platforms


def start_sandbox(platform: str) -> Any:
    from connectors.sandbox import SandboxServer, create_sandbox

    return SandboxServer(create_sandbox(platform))


@dataclass(frozen=True)
class Platform:
    """How the suite connects one platform's sandbox account and what its warehouse should hold.

    ``served`` is the sandbox's own account of the rows its API serves for a run's window, and
    ``loaded`` the rows of the connection in the warehouse, both keyed by natural key.
    """

    account_id: str
    credentials: Callable[[], dict[str, str]]
    served: Callable[[Any, Any], dict[Key, Values]]
    loaded: Callable[[int], list[tuple[Key, Values]]]
    options: dict[str, str] = field(default_factory=dict)


def ad_rows(rows: list[dict[str, Any]]) -> dict[Key, Values]:
    return {
        (str(r["campaign_id"]), r["date"].isoformat()): (
            int(r["impressions"]),
            int(r["clicks"]),
            Decimal(str(r["cost"])),
        )
        for r in rows
    }


def linkedin_served(app: Any, run: Any) -> dict[Key, Values]:
    from connectors.linkedin_ads.sandbox import expected_daily_rows

    return ad_rows(expected_daily_rows(run.connection.account_id, run.window_start, run.window_end))


def google_served(app: Any, run: Any) -> dict[Key, Values]:
    from connectors.google_ads.sandbox.catalogue import expected_daily_rows

    return ad_rows(expected_daily_rows(run.connection.account_id, run.window_start, run.window_end))


def ad_loaded(connection_id: int) -> list[tuple[Key, Values]]:
    from etl.models import AdPerformanceDaily

    return [
        ((r.campaign_id, r.date.isoformat()), (r.impressions, r.clicks, Decimal(r.spend)))
        for r in AdPerformanceDaily.objects.filter(connection_id=connection_id)
    ]


EMAIL_COUNTS = ("emails_sent", "opens", "unique_opens", "clicks", "unique_clicks", "bounces", "unsubscribes")


def mailchimp_served(app: Any, run: Any) -> dict[Key, Values]:
    from connectors.mailchimp.sandbox import expected_campaign_rows

    rows = expected_campaign_rows(
        run.connection.account_id, run.window_start, run.window_end, now=app.moment()
    )
    return {
        (r["campaign_id"],): (
            r["send_time"],
            *(r[name] for name in EMAIL_COUNTS),
            round(r["open_rate"], 6),
            round(r["click_rate"], 6),
        )
        for r in rows
    }


def mailchimp_loaded(connection_id: int) -> list[tuple[Key, Values]]:
    from etl.models import EmailCampaign

    return [
        (
            (r.campaign_id,),
            (
                r.send_time,
                *(getattr(r, name) for name in EMAIL_COUNTS),
                round(float(r.open_rate or 0), 6),
                round(float(r.click_rate or 0), 6),
            ),
        )
        for r in EmailCampaign.objects.filter(connection_id=connection_id)
    ]


def zoho_served(app: Any, run: Any) -> dict[Key, Values]:
    from connectors.zoho_crm.sandbox import expected_records

    org = run.connection.account_id
    since = datetime.combine(run.window_start, datetime.min.time(), tzinfo=UTC)
    leads: dict[Key, Values] = {
        ("lead", r["id"]): (datetime.fromisoformat(r["Modified_Time"]), r["Lead_Status"], r["Owner"]["name"])
        for r in expected_records(org, "Leads", since=since)
    }
    deals: dict[Key, Values] = {
        ("deal", r["id"]): (
            datetime.fromisoformat(r["Modified_Time"]),
            r["Stage"],
            None if r["Amount"] is None else Decimal(str(r["Amount"])),
        )
        for r in expected_records(org, "Deals", since=since)
    }
    return {**leads, **deals}


def zoho_loaded(connection_id: int) -> list[tuple[Key, Values]]:
    from etl.models import CrmDeal, CrmLead

    leads: list[tuple[Key, Values]] = [
        (("lead", r.lead_id), (r.modified_time, r.status, r.owner))
        for r in CrmLead.objects.filter(connection_id=connection_id)
    ]
    deals: list[tuple[Key, Values]] = [
        (("deal", r.deal_id), (r.modified_time, r.stage, r.amount))
        for r in CrmDeal.objects.filter(connection_id=connection_id)
    ]
    return leads + deals


def demandbase_served(app: Any, run: Any) -> dict[Key, Values]:
    from etl.services import today_utc
    from tests.connectors.demandbase.truth import account_truth, intent_truth

    today = today_utc()
    accounts: dict[Key, Values] = {
        ("account", account_id): values for account_id, values in account_truth(today).items()
    }
    intent: dict[Key, Values] = {
        ("intent", account_id, day.isoformat()): values
        for (account_id, day), values in intent_truth(run.window_start, run.window_end, today=today).items()
    }
    return {**accounts, **intent}


def demandbase_loaded(connection_id: int) -> list[tuple[Key, Values]]:
    from etl.models import AbmAccount, AbmEngagementDaily

    accounts: list[tuple[Key, Values]] = [
        (
            ("account", r.account_id),
            (
                r.domain,
                r.name,
                r.journey_stage,
                r.engagement_minutes_7d,
                r.engagement_points_30d,
                r.intent_score,
                r.intent_keyword_count,
            ),
        )
        for r in AbmAccount.objects.filter(connection_id=connection_id)
    ]
    intent: list[tuple[Key, Values]] = [
        (
            ("intent", r.account_id, r.date.isoformat()),
            (r.domain, r.people_researching, r.intent_strength, r.intent_keywords),
        )
        for r in AbmEngagementDaily.objects.filter(connection_id=connection_id)
    ]
    return accounts + intent


def demo_credentials(module: str) -> Callable[[], dict[str, str]]:
    """The credentials of the first demo connection a sandbox module offers."""

    def credentials() -> dict[str, str]:
        import importlib

        return dict(importlib.import_module(module).DEMO_CONNECTIONS[0]["credentials"])

    return credentials


PLATFORMS: dict[str, Platform] = {
    "linkedin_ads": Platform(
        "508000001", demo_credentials("connectors.linkedin_ads.sandbox"), linkedin_served, ad_loaded
    ),
    "google_ads": Platform(
        "5550003001", demo_credentials("connectors.google_ads.sandbox"), google_served, ad_loaded
    ),
    "mailchimp": Platform(
        "40118001", demo_credentials("connectors.mailchimp.sandbox"), mailchimp_served, mailchimp_loaded
    ),
    "zoho_crm": Platform(
        "810004517",
        demo_credentials("connectors.zoho_crm.sandbox"),
        zoho_served,
        zoho_loaded,
        options={"accounts_server": "https://accounts.zoho.in"},
    ),
    "demandbase": Platform(
        "northwind", demo_credentials("connectors.demandbase.sandbox"), demandbase_served, demandbase_loaded
    ),
}


# --------------------------------------------------------------------------- database helpers


def flush_state() -> None:
    import redis
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    redis.Redis.from_url(BROKER_URL).flushdb()


def database_dsn() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def lock_warehouse(chaos: Chaos) -> None:
    """Hold an exclusive lock on the fact table (before the trigger), so the load blocks in view."""
    import psycopg

    chaos.lock = psycopg.connect(chaos.db_dsn)
    chaos.lock.execute("LOCK TABLE warehouse_ad_performance_daily IN ACCESS EXCLUSIVE MODE")


def unlock_warehouse(chaos: Chaos) -> None:
    if chaos.lock is not None:
        chaos.lock.rollback()
        chaos.lock.close()
        chaos.lock = None


def blocked_backend(conn: Any) -> int | None:
    """The pid of a backend of the chaos database waiting on a lock (the worker's load)."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND wait_event_type = 'Lock'"
    ).fetchone()
    return int(row[0]) if row else None


def run_in_step(connection_id: int, step: str) -> bool:
    from etl.models import SyncRun

    return SyncRun.objects.filter(
        connection_id=connection_id, step=step, status=SyncRun.Status.RUNNING
    ).exists()


# --------------------------------------------------------------------------- scenario hooks


def kill_during_extract(chaos: Chaos) -> None:
    wait_until(
        lambda: run_in_step(chaos.connection_id, "extract") and chaos.app.requests.get("ad_analytics", 0),
        timeout=60,
        what="the extract step",
    )
    chaos.worker.kill_pool()


def interrupt_load(chaos: Chaos, action: Callable[[Chaos, int], None]) -> None:
    """With the fact table locked since before the trigger, wait for the load to block on it, act
    on the blocked worker, then let go of the lock."""
    try:
        wait_until(lambda: run_in_step(chaos.connection_id, "load"), timeout=60, what="the load step")
        pid = wait_until(
            lambda: blocked_backend(chaos.lock), timeout=60, what="the load to block on the lock"
        )
        action(chaos, pid)
        time.sleep(0.5)
    finally:
        unlock_warehouse(chaos)


def kill_during_load(chaos: Chaos) -> None:
    interrupt_load(chaos, lambda c, _pid: c.worker.kill_pool())


def terminate_backend_during_load(chaos: Chaos) -> None:
    def terminate(c: Chaos, pid: int) -> None:
        import psycopg

        with psycopg.connect(c.db_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    interrupt_load(chaos, terminate)


def restart_redis(chaos: Chaos) -> None:
    """Restart the scenario's own Redis while the extract step waits on a slow report."""
    assert chaos.redis is not None, "redis-restart needs a Redis of its own"
    wait_until(
        lambda: run_in_step(chaos.connection_id, "extract") and chaos.app.requests.get("ad_analytics", 0),
        timeout=60,
        what="the extract step",
    )
    chaos.redis.restart()


def plan(kind: str, **params: Any) -> Callable[[Chaos], None]:
    return lambda chaos: chaos.app.faults.add(kind, **params)


def server_errors(chaos: Chaos) -> None:
    chaos.app.faults.add("server_error", times=3, path="/rest/adAnalytics", status=503)
    chaos.app.faults.add("server_error", times=1, path="/rest/adAnalytics", status=500)


def mailchimp_throttling(chaos: Chaos) -> None:
    """Mailchimp's two throttles: the 429 problem document, then a bare 403 without a body."""
    chaos.app.faults.add("rate_limit", times=3, path=MAILCHIMP_REPORTS)
    chaos.app.faults.add("bare_throttle", times=1, path=MAILCHIMP_REPORTS, status=403)


def demandbase_throttling(chaos: Chaos) -> None:
    """The concurrent-query throttle on the Intent API (retried inline) and on the job creation,
    which is sent once and so is retried as a step, by Celery, with its countdown."""
    chaos.app.faults.add("throttle", times=4, path="/data/intent/")
    chaos.app.faults.add("throttle", times=1, path="/data/export/v1/job")


MAILCHIMP_REPORTS = "/us19/3.0/reports"
GOOGLE_ADS_RPC = "/google.ads.googleads."  # every gRPC method of the Ads API


SCENARIOS: list[Scenario] = [
    Scenario("baseline", "no fault (the reference)"),
    Scenario(
        "throttle-linkedin",
        "4 x LinkedIn 429 TOO_MANY_REQUESTS (serviceErrorCode 101) on adAnalytics",
        arm=plan("rate_limit", times=4, path="/rest/adAnalytics"),
    ),
    Scenario(
        "throttle-google-ads",
        "4 x gRPC RESOURCE_EXHAUSTED (QuotaError, retry_delay 1 s) on the Ads API",
        platform="google_ads",
        arm=plan(
            "rate_limit",
            times=4,
            path=GOOGLE_ADS_RPC,
            retry_delay_seconds=1,
            name="RESOURCE_TEMPORARILY_EXHAUSTED",
        ),
    ),
    Scenario(
        "throttle-mailchimp",
        "3 x Mailchimp 429 problem+json, then 1 x bare 403, on /3.0/reports",
        platform="mailchimp",
        arm=mailchimp_throttling,
    ),
    Scenario(
        "throttle-zoho-crm",
        "4 x Zoho 429 TOO_MANY_REQUESTS (no Retry-After) on /crm/",
        platform="zoho_crm",
        arm=plan("rate_limit", times=4, path="/crm/"),
    ),
    Scenario(
        "throttle-demandbase",
        "Demandbase 429 errorCode 429-100 (no Retry-After): 4 x on the Intent "
        "API, 1 x on the export-job POST",
        platform="demandbase",
        arm=demandbase_throttling,
    ),
    Scenario("5xx-burst", "3 x 503 then 1 x 500 on adAnalytics", arm=server_errors),
    Scenario(
        "timeouts",
        "2 x 3 s stall on adAnalytics, read timeout 1 s",
        env={"HTTP_READ_TIMEOUT_SECONDS": "1"},
        arm=plan("delay", times=2, path="/rest/adAnalytics", seconds=3),
    ),
    Scenario(
        "token-expiry",
        "access token expires on the 2nd /rest/ call (mid-extract)",
        arm=plan("expire_token", times=1, after=1, path="/rest/"),
    ),
    Scenario(
        "revoked-refresh",
        "refresh grant revoked (invalid_grant) at the token endpoint",
        arm=plan("revoke_refresh", times=1, path="/oauth/v2/accessToken"),
        data_expected=False,
    ),
    Scenario(
        "malformed-type",
        "one adAnalytics element with impressions 'abc' (wrong type)",
        arm=plan("malformed", times=1, path="/rest/adAnalytics", variant="non_numeric_impressions"),
    ),
    Scenario(
        "malformed-missing",
        "one adAnalytics element without pivotValues (missing field)",
        arm=plan("malformed", times=1, path="/rest/adAnalytics", variant="missing_pivot_values"),
    ),
    Scenario(
        "truncated-json",
        "adAnalytics body cut in half once",
        arm=plan("truncated", times=1, path="/rest/adAnalytics"),
    ),
    Scenario(
        "sigkill-extract",
        "pool process SIGKILLed while adAnalytics is answering",
        arm=plan("delay", times=1, path="/rest/adAnalytics", seconds=4),
        during=kill_during_extract,
    ),
    Scenario(
        "sigkill-load",
        "pool process SIGKILLed while the load waits on the fact table",
        arm=lock_warehouse,
        during=kill_during_load,
    ),
    Scenario(
        "pg-terminate-load",
        "pg_terminate_backend of the worker's backend during load",
        arm=lock_warehouse,
        during=terminate_backend_during_load,
        resync=True,
    ),
    Scenario(
        "double-trigger",
        "two sync_platform_data sent at the same moment, 2 pool processes",
        triggers=2,
        concurrency=2,
    ),
    Scenario(
        "dst-google-ads",
        "Google Ads account in Europe/London; window spans the 2026-10-25 change",
        platform="google_ads",
        account_id="5550003001",
    ),
    Scenario(
        "redis-restart",
        "the worker's own Redis shut down (nosave) and restarted during extract",
        arm=plan("delay", times=1, path="/rest/adAnalytics", seconds=3),
        during=restart_redis,
        own_redis=True,
        finish_within=90,
    ),
]


# --------------------------------------------------------------------------- running one scenario


def worker_env(
    sandbox_env: dict[str, str], scenario: Scenario, var_dir: Path, broker_url: str
) -> dict[str, str]:
    from django.conf import settings

    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    return {
        **{k: v for k, v in os.environ.items() if k in keep},
        **sandbox_env,
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
        **scenario.env,
    }


def create_connection(scenario: Scenario) -> int:
    from connectors.models import Organization
    from connectors.services import connection_create

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


def all_runs_finished(connection_id: int, minimum: int) -> bool:
    from etl.models import SyncRun

    runs = list(SyncRun.objects.filter(connection_id=connection_id))
    return len(runs) >= minimum and all(
        r.status == SyncRun.Status.FAILED or r.step == SyncRun.Step.DONE for r in runs
    )


def run_scenario(scenario: Scenario, work_dir: Path) -> Outcome:
    flush_state()
    started = time.monotonic()
    server = start_sandbox(scenario.platform)
    worker: Worker | None = None
    own_redis: PrivateRedis | None = None
    try:
        connection_id = create_connection(scenario)
        if scenario.own_redis:
            own_redis = PrivateRedis(work_dir)
        broker_url = own_redis.url if own_redis else BROKER_URL
        worker = Worker(
            worker_env(server.env(), scenario, work_dir / scenario.name, broker_url),
            broker_url,
            work_dir / f"{scenario.name}.log",
            concurrency=scenario.concurrency,
            loglevel="INFO",
            name="chaos-worker",
        )
        chaos = Chaos(server.app, worker, connection_id, database_dsn(), redis=own_redis)
        try:
            scenario.arm(chaos)
            send_triggers(worker, scenario)
            scenario.during(chaos)
        finally:
            unlock_warehouse(chaos)
        lost_chain = ""
        try:
            wait_until(
                lambda: all_runs_finished(connection_id, 1),
                timeout=scenario.finish_within,
                what="the sync to finish",
            )
        except TimeoutError:
            if not scenario.own_redis:
                raise
            lost_chain = expire_lost_run(scenario, chaos)
        time.sleep(1.0 if scenario.triggers > 1 else 0.2)  # a late second trigger would show up now
        wait_until(lambda: all_runs_finished(connection_id, 1), timeout=180, what="every run to finish")
        outcome = measure(scenario, chaos, time.monotonic() - started)
        outcome.detail += lost_chain
        if scenario.resync and outcome.run_state.startswith("failed"):
            outcome.detail += "; " + resync(scenario, chaos)
        return outcome
    except Exception as exc:
        tail = worker.log()[-1500:] if worker else ""
        return Outcome(
            0, 0, 0, 0, 0, 0, "ERROR", "-", f"{type(exc).__name__}: {exc}\n{tail}", time.monotonic() - started
        )
    finally:
        if worker is not None:
            worker.stop()
        if own_redis is not None:
            own_redis.stop()
        server.stop()


def expire_lost_run(scenario: Scenario, chaos: Chaos) -> str:
    """The chain was lost with the broker's messages: take the documented way out. The run is made
    as old as ``SYNC_RUN_STALE_AFTER_MINUTES`` (instead of waiting two hours), the next trigger marks
    it failed as ``Abandoned`` and starts a new run, and that run must load the window cleanly."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from etl.models import SyncRun

    stuck = SyncRun.objects.filter(connection_id=chaos.connection_id).order_by("-pk").first()
    assert stuck is not None
    age = timedelta(minutes=settings.SYNC_RUN_STALE_AFTER_MINUTES + 1)
    SyncRun.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - age)
    chaos.worker.send("dashboard.sync_platform_data", platform=scenario.platform)
    wait_until(
        lambda: all_runs_finished(chaos.connection_id, 2), timeout=180, what="the sync after the lost one"
    )
    stuck.refresh_from_db()
    return (
        f"; chain lost at step {stuck.step}: run {stuck.pk} expired as {stuck.error_class} "
        f"({stuck.error_message}), the next trigger ran a new sync"
    )


def resync(scenario: Scenario, chaos: Chaos) -> str:
    """The next sync after a failed one: what the warehouse holds once it is done."""
    chaos.worker.send("dashboard.sync_platform_data", platform=scenario.platform)
    wait_until(lambda: all_runs_finished(chaos.connection_id, 2), timeout=180, what="the second sync")
    again = measure(scenario, chaos, 0.0)
    return (
        f"next sync: run {again.run_state}, loaded {again.loaded}, lost {again.lost}, "
        f"dup {again.duplicates}, connection {again.connection_state}"
    )


def send_triggers(worker: Worker, scenario: Scenario) -> None:
    barrier = threading.Barrier(scenario.triggers)

    def fire() -> None:
        barrier.wait()
        worker.send("dashboard.sync_platform_data", platform=scenario.platform)

    threads = [threading.Thread(target=fire) for _ in range(scenario.triggers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def measure(scenario: Scenario, chaos: Chaos, seconds: float) -> Outcome:
    from connectors.models import Connection
    from etl.models import QuarantinedRecord, SyncRun

    platform = PLATFORMS[scenario.platform]
    runs = list(
        SyncRun.objects.filter(connection_id=chaos.connection_id).select_related("connection").order_by("pk")
    )
    run = runs[-1]
    served = platform.served(chaos.app, run) if scenario.data_expected else {}
    loaded = platform.loaded(chaos.connection_id)
    counts = Counter(key for key, _ in loaded)
    stored = dict(loaded)
    quarantined = QuarantinedRecord.objects.filter(sync_run__in=runs).count()
    missing = sum(1 for key, values in served.items() if stored.get(key) != values)
    connection = Connection.objects.get(pk=chaos.connection_id)
    return Outcome(
        served=len(served),
        loaded=len(loaded),
        duplicates=sum(n - 1 for n in counts.values()),
        lost=max(0, missing - quarantined),
        quarantined=quarantined,
        runs=len(runs),
        run_state=f"{run.status}/{run.step}",
        connection_state=connection.status,
        detail=details(scenario, chaos, run),
        seconds=seconds,
    )


def details(scenario: Scenario, chaos: Chaos, run: Any) -> str:
    from etl.models import QuarantinedRecord

    parts = [f"window {run.window_start}..{run.window_end}"]
    calls = ", ".join(f"{name} {count}" for name, count in sorted(chaos.app.requests.items()))
    parts.append(f"requests: {calls}")
    if chaos.app.faults.pending():
        parts.append(f"faults not fired: {chaos.app.faults.pending()}")
    if chaos.redis is not None:
        lost = chaos.worker.log().count("Connection to broker lost")
        parts.append(
            f"redis restarts {chaos.redis.restarts}, broker connection lost {lost} time(s) in the worker log"
        )
    if run.error_class:
        parts.append(f"error {run.error_class}: {run.error_message[:160]}")
    reasons = QuarantinedRecord.objects.filter(sync_run=run).values_list("reason", flat=True)
    parts.extend(f"quarantined: {reason[:120]}" for reason in reasons)
    parts.extend(f"note: {note[:140]}" for note in run.notes)
    if scenario.name.startswith("dst-"):
        parts.append(dst_check(chaos.connection_id, run))
    return "; ".join(parts)


def dst_check(connection_id: int, run: Any) -> str:
    """Every campaign has exactly one row per day across the clock change, in the account's zone."""
    from etl.models import AdPerformanceDaily

    rows = AdPerformanceDaily.objects.filter(connection_id=connection_id)
    zones = sorted({str(zone) for zone in rows.values_list("account_time_zone", flat=True)})
    per_day = Counter(rows.values_list("date", flat=True))
    around = {str(day): per_day.get(day, 0) for day in sorted(per_day) if str(day) in DST_DAYS}
    return f"zones {zones}; rows per day around the change {around}"


DST_DAYS = {"2026-10-24", "2026-10-25", "2026-10-26"}


# --------------------------------------------------------------------------- output


HEADER = (
    f"{'scenario':<20} {'served':>6} {'loaded':>6} {'dup':>4} {'lost':>4} {'quar':>4} {'runs':>4}  "
    f"{'run (status/step)':<20} {'connection':<13} {'secs':>5}"
)


def print_outcome(name: str, outcome: Outcome) -> None:
    print(
        f"{name:<20} {outcome.served:>6} {outcome.loaded:>6} {outcome.duplicates:>4} {outcome.lost:>4} "
        f"{outcome.quarantined:>4} {outcome.runs:>4}  {outcome.run_state:<20} {outcome.connection_state:<13} "
        f"{outcome.seconds:>5.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="run only these scenarios")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if connection.vendor != "postgresql":
        sys.exit("The fault suite needs PostgreSQL (DATABASE_URL).")
    unknown = set(args.only) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(
            f"unknown scenario(s): {', '.join(sorted(unknown))}; known: "
            f"{', '.join(s.name for s in SCENARIOS)}"
        )
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = TEST_DB_NAME
    old = setup_databases(verbosity=0, interactive=False)
    notes: list[tuple[str, str]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
            print(HEADER, flush=True)
            for scenario in chosen:
                outcome = run_scenario(scenario, Path(tmp))
                print_outcome(scenario.name, outcome)
                notes.append((scenario.name, f"{scenario.what} -> {outcome.detail}"))
    finally:
        connection.close()
        teardown_databases(old, verbosity=0)
    print()
    for name, text in notes:
        print(f"{name}: {text}")


if __name__ == "__main__":
    main()

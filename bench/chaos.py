"""Fault suite: real syncs with the sandbox misbehaving, each scenario judged by what it must show.

Worker scenarios (``chaos_run``) run a real ``celery worker --pool=prefork`` subprocess on a scratch
PostgreSQL database (``chaos_sales_dashboard``, or ``CHAOS_DB_NAME``; created and dropped here as
the test runner does) and a dedicated Redis database (db 12, or ``CHAOS_BROKER_URL``), with a fresh
sandbox in this process. Embedded scenarios (``chaos_embedded``) run ``manage.py
start_background_syncs`` on the embedded default (SQLite, no broker), SIGKILL it and run it again.

A fault point is reached by a condition, not a guessed delay: a ``hold`` fault keeps a data
request in flight until the scenario has acted, and the load hook (``chaos_hooks``) stops a load
inside its transaction and says so. One line per scenario:

- served: the rows the sandbox's own expected-rows helpers say the API serves for the runs' window
  (0 when the scenario is one where no report may be fetched, e.g. a revoked grant);
- loaded: warehouse rows of the connection; dup: rows beyond one per natural key;
- lost: served rows missing from the warehouse (or loaded with other values) and not quarantined;
- quar: records quarantined; runs: SyncRun rows created; run / connection: final states;
- verdict: ``ok``, or ``FAIL:`` and every reason: a row lost, doubled or made up, a run count or a
  final state other than the scenario's, a planned fault that never fired, a fault point never
  reached, an exception.

The script exits 1 when any scenario fails. ``--only NAME`` (repeatable) picks scenarios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from chaos_embedded import EmbeddedScenario, embedded_kill_scenarios  # noqa: E402
from chaos_faults import (  # noqa: E402
    backend_terminated,
    demandbase_throttling,
    dst_one_row_per_campaign_day,
    every_trigger_consumed,
    first_clean_sync,
    first_run_abandoned,
    hold_data_request,
    hold_reached,
    kill_at_load_hook,
    kill_while_held,
    killed_run_loaded_nothing,
    load_hook_reached,
    mailchimp_throttling,
    plan,
    pool_killed,
    redis_restarted,
    request_repeated,
    restart_redis_while_held,
    retention_spanning_dst,
    server_errors,
    step_retried,
    terminate_backend_at_load_hook,
    totals_flagged,
)
from chaos_lease import (  # noqa: E402
    INLINE_WAIT_SECONDS,
    no_takeover_during_the_wait,
    plant_stale_run,
    resumed_step_stopped,
    stop_owner_until_taken_over,
    trigger_during_celery_wait,
    trigger_during_inline_wait,
)
from chaos_measure import GOOGLE_ADS_STREAM, HEADER, Outcome, outcome_line  # noqa: E402
from chaos_run import BROKER_URL, WorkerScenario  # noqa: E402

TEST_DB_NAME = os.environ.get("CHAOS_DB_NAME", "chaos_sales_dashboard")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sales_dashboard.settings.test")
os.environ["REDIS_URL"] = BROKER_URL  # keep this process's cache off the other suites' Redis dbs

GOOGLE_ADS_RPC = "/google.ads.googleads."  # every gRPC method of the Ads API
LEASE_3S = {"SYNC_RUN_LEASE_SECONDS": "3"}

Scenario = WorkerScenario | EmbeddedScenario

SCENARIOS: list[Scenario] = [
    WorkerScenario("baseline", "no fault (the reference)"),
    WorkerScenario(
        "throttle-linkedin",
        "4 x LinkedIn 429 TOO_MANY_REQUESTS (serviceErrorCode 101) on adAnalytics",
        arm=plan("rate_limit", times=4, path="/rest/adAnalytics"),
    ),
    WorkerScenario(
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
    WorkerScenario(
        "throttle-mailchimp",
        "3 x Mailchimp 429 problem+json, then 1 x bare 403, on /3.0/reports",
        platform="mailchimp",
        arm=mailchimp_throttling,
    ),
    WorkerScenario(
        "throttle-zoho-crm",
        "4 x Zoho 429 TOO_MANY_REQUESTS (no Retry-After) on /crm/",
        platform="zoho_crm",
        arm=plan("rate_limit", times=4, path="/crm/"),
    ),
    WorkerScenario(
        "throttle-demandbase",
        "Demandbase 429 errorCode 429-100 (no Retry-After): 4 x on the Intent "
        "API, 1 x on the export-job POST",
        platform="demandbase",
        arm=demandbase_throttling,
        checks=(request_repeated("intent_query", 5), request_repeated("create_job")),
    ),
    WorkerScenario("5xx-burst", "3 x 503 then 1 x 500 on adAnalytics", arm=server_errors),
    WorkerScenario(
        "timeouts",
        "2 x 3 s stall on adAnalytics, read timeout 1 s",
        env={"HTTP_READ_TIMEOUT_SECONDS": "1"},
        arm=plan("delay", times=2, path="/rest/adAnalytics", seconds=3),
        checks=(request_repeated("ad_analytics", 3),),
    ),
    WorkerScenario(
        "token-expiry",
        "access token expires on the 2nd /rest/ call (mid-extract)",
        arm=plan("expire_token", times=1, after=1, path="/rest/"),
    ),
    WorkerScenario(
        "revoked-refresh",
        "refresh grant revoked (invalid_grant) at the token endpoint",
        arm=plan("revoke_refresh", times=1, path="/oauth/v2/accessToken"),
        data_expected=False,
        final_state="failed/refresh",
        connection_state="needs_reauth",
    ),
    WorkerScenario(
        "malformed-type",
        "one adAnalytics element with impressions 'abc' (wrong type)",
        arm=plan("malformed", times=1, path="/rest/adAnalytics", variant="non_numeric_impressions"),
    ),
    WorkerScenario(
        "malformed-missing",
        "one adAnalytics element without pivotValues (missing field)",
        arm=plan("malformed", times=1, path="/rest/adAnalytics", variant="missing_pivot_values"),
    ),
    WorkerScenario(
        "truncated-json",
        "adAnalytics body cut in half once",
        arm=plan("truncated", times=1, path="/rest/adAnalytics"),
    ),
    WorkerScenario(
        "silent-gap",
        "one adAnalytics answer silently loses 3 rows (valid JSON, no error); reconciliation flags it",
        arm=plan("silent_gap", times=1, path="/rest/adAnalytics", drop=3),
        rows_dropped=3,
        checks=(totals_flagged,),
    ),
    WorkerScenario(
        "sigkill-extract",
        "pool process SIGKILLed while the sandbox holds its adAnalytics request",
        arm=hold_data_request,
        during=kill_while_held,
        checks=(hold_reached, pool_killed, request_repeated("ad_analytics")),
    ),
    WorkerScenario(
        "sigkill-load",
        "pool process SIGKILLed at the load hook of a first load (COPY written, locks held)",
        hook_on_load="copy",
        during=kill_at_load_hook,
        checks=(load_hook_reached("copy"), pool_killed),
    ),
    WorkerScenario(
        "pg-terminate-load",
        "pg_terminate_backend of the load's backend at the hook of a first load (COPY)",
        hook_on_load="copy",
        during=terminate_backend_at_load_hook,
        checks=(load_hook_reached("copy"), backend_terminated, step_retried("sync.load")),
    ),
    WorkerScenario(
        "sigkill-load-merge",
        "a clean first sync, then the pool process SIGKILLed at the load hook of the second (merge)",
        hook_on_load="merge",
        arm=first_clean_sync,
        during=kill_at_load_hook,
        runs=2,
        checks=(load_hook_reached("merge"), pool_killed),
    ),
    WorkerScenario(
        "pg-terminate-load-merge",
        "a clean first sync, then pg_terminate_backend at the load hook of the second (merge)",
        hook_on_load="merge",
        arm=first_clean_sync,
        during=terminate_backend_at_load_hook,
        runs=2,
        checks=(load_hook_reached("merge"), backend_terminated, step_retried("sync.load")),
    ),
    WorkerScenario(
        "double-trigger",
        "two sync_platform_data sent at the same moment, 2 pool processes",
        triggers=2,
        concurrency=2,
        checks=(every_trigger_consumed,),
    ),
    WorkerScenario(
        "stale-takeover-race",
        "a run in flight with its owner gone and its lease expired; two triggers at once, 2 pool processes",
        arm=plant_stale_run,
        triggers=2,
        concurrency=2,
        runs=2,
        checks=(every_trigger_consumed, first_run_abandoned),
    ),
    WorkerScenario(
        "heartbeat-stops",
        "lease 3 s; the owner process SIGSTOPped while adAnalytics is held, a second trigger once its "
        "heartbeat is older than the lease, then SIGCONT and the answer",
        env=LEASE_3S,
        arm=hold_data_request,
        during=stop_owner_until_taken_over,
        concurrency=2,
        runs=2,
        checks=(hold_reached, every_trigger_consumed, killed_run_loaded_nothing, resumed_step_stopped),
    ),
    WorkerScenario(
        "long-wait-under-lease",
        "lease 3 s; a 429 on adAnalytics sends the extract to a Celery retry (a countdown longer than "
        "the lease); a second trigger during that wait",
        env={**LEASE_3S, "HTTP_MAX_INLINE_WAIT_SECONDS": "0.01"},
        arm=plan("rate_limit", times=1, path="/rest/adAnalytics"),
        during=trigger_during_celery_wait,
        concurrency=2,
        checks=(step_retried("sync.extract"), every_trigger_consumed, no_takeover_during_the_wait),
    ),
    WorkerScenario(
        "long-inline-wait-under-lease",
        f"lease 3 s; a RESOURCE_EXHAUSTED with retry_delay {INLINE_WAIT_SECONDS} s, waited inside the "
        "extract step; a second trigger once the step is more than the lease into that wait",
        platform="google_ads",
        env=LEASE_3S,
        arm=plan("rate_limit", times=1, path=GOOGLE_ADS_STREAM, retry_delay_seconds=INLINE_WAIT_SECONDS),
        during=trigger_during_inline_wait,
        concurrency=2,
        checks=(every_trigger_consumed, no_takeover_during_the_wait),
    ),
    WorkerScenario(
        "dst-google-ads",
        "Google Ads account in Europe/London; the first sync's window spans the zone's latest clock change",
        platform="google_ads",
        account_id="5550003001",
        env_at_start=retention_spanning_dst,
        checks=(dst_one_row_per_campaign_day,),
    ),
    WorkerScenario(
        "redis-restart",
        "the worker's own Redis shut down (nosave) and restarted while the sandbox holds adAnalytics",
        arm=hold_data_request,
        during=restart_redis_while_held,
        own_redis=True,
        finish_within=90,
        checks=(hold_reached, redis_restarted),
    ),
    *embedded_kill_scenarios(),
]


def chosen_scenarios(parser: argparse.ArgumentParser, only: list[str]) -> list[Scenario]:
    known = [s.name for s in SCENARIOS]
    unknown = set(only) - set(known)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    return [s for s in SCENARIOS if not only or s.name in only]


def run_all(chosen: list[Scenario], work_dir: Path) -> list[tuple[Scenario, Outcome]]:
    print(HEADER, flush=True)
    results = []
    for scenario in chosen:
        outcome = scenario.run(work_dir)
        print(outcome_line(scenario.name, outcome), flush=True)
        results.append((scenario, outcome))
    return results


def print_report(results: list[tuple[Scenario, Outcome]]) -> None:
    print()
    for scenario, outcome in results:
        print(f"{scenario.name}: {scenario.what} -> {outcome.detail}")
    failed = [(scenario, outcome) for scenario, outcome in results if outcome.failures]
    print()
    if not failed:
        print(f"All {len(results)} scenario(s) ok.")
        return
    print(f"{len(failed)} of {len(results)} scenario(s) failed:")
    for scenario, outcome in failed:
        print(f"- {scenario.name}: {'; '.join(outcome.failures)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run only this scenario (repeatable)"
    )
    args = parser.parse_args()
    chosen = chosen_scenarios(parser, args.only)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if connection.vendor != "postgresql":
        sys.exit("The fault suite needs PostgreSQL (DATABASE_URL).")
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = TEST_DB_NAME
    old = setup_databases(verbosity=0, interactive=False)
    try:
        with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
            results = run_all(chosen, Path(tmp))
    finally:
        connection.close()
        teardown_databases(old, verbosity=0)
    print_report(results)
    return 1 if any(outcome.failures for _, outcome in results) else 0


if __name__ == "__main__":
    sys.exit(main())

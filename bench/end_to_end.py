"""End to end: sandbox pages to committed warehouse rows, through the real chain on one worker.

Everything runs on this machine: a scratch PostgreSQL database (``bench_e2e``), Redis db 10 as
broker, the LinkedIn Ads sandbox in this process, and one real Celery worker (prefork, one pool
process for the memory runs; Celery's default of one per core for the throughput run, so one
sync's parsing overlaps another's loading) running refresh → extract → normalize → load → prune.

Two measurements:

- **throughput**: N connections × 30 days × M campaigns synced from scratch (the first-sync
  backfill). Printed: rows/s from the trigger to the last commit, and the split per step
  (``SyncRun.timings``).
- **memory**: the peak resident memory (VmHWM) of the worker's pool process after a small sync and
  after a 1M-row sync of one connection: pages are streamed, so it should barely move.

The sandbox account catalogue is extended with bench accounts whose adAnalytics pages are made in
bulk (see ``serve_analytics_in_bulk``), and the adAnalytics row cap (15,000
on the real API, which makes a 37,000-campaign account need one call per day per 50 campaigns) is
raised on both sides to 40,000 so one day of the big account fits one response, as Google Ads'
searchStream serves it; the pipeline's work per row is the same.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, Worker, django_setup, peak_rss_mb, scratch_database, wait_until

BROKER_URL = "redis://127.0.0.1:6379/10"
ROW_CAP = 40_000


def add_bench_accounts(accounts: dict[str, int]) -> None:
    """Extend the LinkedIn sandbox's catalogue with {account id: campaign count}."""
    from sandbox import linkedin_ads

    linkedin_ads.add_accounts(
        linkedin_ads.SandboxAccount(int(account_id), f"Bench {account_id}", "USD", campaigns)
        for account_id, campaigns in accounts.items()
    )


def serve_analytics_in_bulk(app: Any) -> None:
    """Answer adAnalytics from a cheap formula instead of the sandbox's per-day simulation.

    The sandbox draws every campaign-day from its own random stream (tens of microseconds a row),
    which would make the fake, not the pipeline, the bottleneck of a million-row benchmark. Here
    every campaign delivers every day with metrics from arithmetic on its id and the day, in
    LinkedIn's response shape, with the query's dates and campaign facets honoured. OAuth, the
    account and the campaign listing still come from the sandbox itself.
    """
    from sandbox import linkedin_ads
    from sandbox.core import SandboxResponse

    handle = app.handle

    def answer(request: Any) -> Any:
        if request.method != "GET" or not request.path.startswith("/rest/adAnalytics"):
            return handle(request)
        query = linkedin_ads.parse_analytics_query(request.query_string, app.today())
        ids = sorted(
            campaign.id
            for account in query.facets.get("accounts", ())
            for campaign in linkedin_ads.campaigns_for(str(account))
            if "campaigns" not in query.facets or campaign.id in query.facets["campaigns"]
        )
        # Assembled from pre-rendered pieces (the bytes orjson makes of the same dicts): the fake
        # stands for the platform's servers, so its share of this machine's two cores stays small.
        elements: list[str] = []
        day = query.start
        while day <= query.end and len(elements) < app.row_cap:
            ymd = f'{{"year":{day.year},"month":{day.month},"day":{day.day}}}'
            span = f'"dateRange":{{"start":{ymd},"end":{ymd}}},'
            ordinal = day.toordinal()
            elements.extend(
                _PIVOT.format(campaign_id) + span + _metrics((campaign_id * 7919 + ordinal) % 5000)
                for campaign_id in ids
            )
            day = day.fromordinal(ordinal + 1)
        body = (
            '{"paging":{"start":0,"count":10,"links":[]},"elements":['
            + ",".join(elements[: app.row_cap])
            + "]}"
        )
        return SandboxResponse(200, body.encode(), {"Content-Type": "application/json"})

    app.handle = answer


_PIVOT = '{{"pivotValues":["urn:li:sponsoredCampaign:{}"],'


@functools.lru_cache(maxsize=5000)
def _metrics(n: int) -> str:
    """One element's metrics (the rest of its JSON object): arithmetic on ``n``, 0 <= n < 5000."""
    cost = f"{n / 7:.2f}"
    return (
        f'"impressions":{n * 3},"clicks":{n // 40},"landingPageClicks":{n // 50},'
        f'"costInLocalCurrency":"{cost}","costInUsd":"{cost}",'
        f'"externalWebsiteConversions":{n % 7},"externalWebsitePostViewConversions":{n % 3},'
        f'"conversionValueInLocalCurrency":"{n * 1.3:.2f}","oneClickLeads":0}}'
    )


def worker_env(sandbox_env: dict[str, str], database_url: str, var_dir: Path) -> dict[str, str]:
    from django.conf import settings

    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    return {
        **{k: v for k, v in os.environ.items() if k in keep},
        **sandbox_env,
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.base",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": BROKER_URL,
        "REDIS_URL": BROKER_URL,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production",
        "VAR_DIR": str(var_dir),
        "LINKEDIN_ADS_ANALYTICS_ROW_CAP": str(ROW_CAP),
        "LOG_LEVEL": "WARNING",
    }


def connect(slug: str, account_ids: list[str]) -> list[int]:
    from connectors.services import connection_create
    from sandbox.linkedin_ads import DEMO_REFRESH_TOKEN
    from tenancy.models import Organization

    org = Organization.objects.create(name=slug, slug=slug)
    return [
        connection_create(
            organization=org,
            platform="linkedin_ads",
            account_id=account_id,
            credentials={"refresh_token": DEMO_REFRESH_TOKEN},
            check=False,
        ).pk
        for account_id in account_ids
    ]


def sync_and_wait(
    worker: Worker, slug: str, connection_ids: list[int], timeout: float
) -> tuple[float, list[Any]]:
    """Trigger the organization's LinkedIn syncs; wall seconds to the last finished run, and the runs."""
    from etl.models import SyncRun

    started_at = time.time()
    before = set(SyncRun.objects.filter(connection_id__in=connection_ids).values_list("pk", flat=True))
    worker.send("dashboard.sync_platform_data", platform="linkedin_ads", organization_slug=slug)

    def finished() -> list[Any] | None:
        runs = list(SyncRun.objects.filter(connection_id__in=connection_ids).exclude(pk__in=before))
        done = [r for r in runs if r.status == SyncRun.Status.FAILED or r.step == SyncRun.Step.DONE]
        return runs if len(runs) == len(connection_ids) and len(done) == len(runs) else None

    runs = wait_until(finished, timeout=timeout, what=f"the {slug} syncs")
    failed = [r for r in runs if r.status != SyncRun.Status.SUCCEEDED]
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed: {failed[0].error_message}\n{worker.log()[-2000:]}")
    last_commit = max(r.finished_at.timestamp() for r in runs)
    return last_commit - started_at, runs


def loaded_rows(runs: list[Any]) -> int:
    return sum(stats.get("loaded", 0) for run in runs for stats in run.rows.values())


def step_seconds(runs: list[Any]) -> dict[str, float]:
    steps = ("refresh", "extract", "normalize", "load", "prune")
    return {step: sum(run.timings.get(step, 0.0) for run in runs) for step in steps}


def plain_copy_rows_per_s(database_url: str, connection_ids: list[int]) -> tuple[int, float]:
    """This machine's speed at the same moment: the rows the throughput run loaded, exported and
    copied back with a plain ``COPY`` into an empty table with the same indexes, committed, after a
    checkpoint (the load benchmark's "plain COPY", on these rows). The end-to-end goal was set as 50,000 rows/s
    on a day this machine's plain COPY ran at 105,000 rows/s: the ratio of the two travels across
    days, the absolute figure does not."""
    import io

    import psycopg

    table = "warehouse_ad_performance_daily"
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'id'",
            [table],
        )
        (columns,) = cursor.fetchone() or ("",)
        exported = io.BytesIO()
        ids = ", ".join(str(int(pk)) for pk in connection_ids)
        query = f"SELECT {columns} FROM {table} WHERE connection_id IN ({ids})"
        with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy:
            for data in copy:
                exported.write(data)
        rows = exported.getvalue().count(b"\n")  # no field of these rows holds a line break
        cursor.execute(f"CREATE TABLE bench_copy (LIKE {table} INCLUDING ALL)")
        conn.commit()
        # On a quiet server, as the load benchmark times its COPY: the run's dirty pages written
        # out and the freshly loaded table vacuumed first, so the COPY does not pay for the run.
        conn.autocommit = True
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("CHECKPOINT")
        conn.autocommit = False
        started = time.perf_counter()
        with cursor.copy(f"COPY bench_copy ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(exported.getvalue())
        conn.commit()
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy")
        conn.commit()
    return rows, rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=12, help="N connections for the throughput run")
    parser.add_argument("--campaigns", type=int, default=1000, help="M campaigns per connection")
    parser.add_argument(
        "--big-rows", type=int, default=1_000_000, help="rows of the one-connection memory run"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count() or 1,
        help="pool processes of the one worker for the throughput run (Celery's default: one per core)",
    )
    args = parser.parse_args()

    django_setup()
    import redis

    from sandbox.core import SandboxServer
    from sandbox.serve import create_sandbox

    throughput_ids = [str(508_900_001 + i) for i in range(args.connections)]
    big_id, small_id = "508990001", "508990002"
    big_campaigns = math.ceil(args.big_rows / 30)
    add_bench_accounts(
        {**dict.fromkeys(throughput_ids, args.campaigns), big_id: big_campaigns, small_id: 400}
    )
    redis.Redis.from_url(BROKER_URL).flushdb()
    result: dict[str, Any] = {}
    with scratch_database("bench_e2e") as database_url, tempfile.TemporaryDirectory() as var_dir:
        server = SandboxServer(create_sandbox("linkedin_ads", row_cap=ROW_CAP))
        serve_analytics_in_bulk(server.app)
        env = worker_env(server.env(), database_url, Path(var_dir))
        log = Path(var_dir) / "worker.log"
        worker = Worker(env, BROKER_URL, log, concurrency=1)
        try:
            print("memory: one connection at a time, then the peak RSS of the worker's pool process")
            small = connect("bench-small", [small_id])
            _, runs = sync_and_wait(worker, "bench-small", small, timeout=300)
            (pool,) = worker.pool_pids()
            small_rows, small_rss = loaded_rows(runs), peak_rss_mb(pool)
            print(f"  {small_rows:>9,} rows   peak RSS {small_rss:6.0f} MB")
            big = connect("bench-big", [big_id])
            wall, runs = sync_and_wait(worker, "bench-big", big, timeout=900)
            big_rows, big_rss = loaded_rows(runs), peak_rss_mb(pool)
            print(f"  {big_rows:>9,} rows   peak RSS {big_rss:6.0f} MB   ({wall:.0f} s)")
            worker.stop()

            worker = Worker(env, BROKER_URL, log, concurrency=args.concurrency)
            print(
                f"throughput: {args.connections} connections x 30 days x {args.campaigns} campaigns, "
                f"one worker ({args.concurrency} pool processes)"
            )
            ids = connect("bench-e2e", throughput_ids)
            wall, runs = sync_and_wait(worker, "bench-e2e", ids, timeout=900)
            rows, steps = loaded_rows(runs), step_seconds(runs)
            pages_to_rows = steps["normalize"] + steps["load"]
            print(
                f"  {rows:,} rows in {wall:.1f} s: {rows / wall:,.0f} rows/s end to end (trigger to last commit)"
            )
            print(
                "  time in each step, summed over the runs (s): "
                + ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
            )
            print(
                f"  staged pages to committed rows, one step at a time (normalize + load): {rows / pages_to_rows:,.0f} rows/s"
            )
            copy_rows, copy_rate = plain_copy_rows_per_s(database_url, ids)
            print(
                f"  this machine now: a plain COPY of those {copy_rows:,} rows (same indexes) runs at "
                f"{copy_rate:,.0f} rows/s, so end to end = {rows / wall / copy_rate:.2f}x plain COPY "
                f"(the 50,000 rows/s goal was set at 105,000 rows/s of plain COPY: 0.48x)"
            )
            result = {
                "memory": {
                    "small_rows": small_rows,
                    "small_peak_rss_mb": small_rss,
                    "big_rows": big_rows,
                    "big_peak_rss_mb": big_rss,
                },
                "throughput": {
                    "connections": args.connections,
                    "pool_processes": args.concurrency,
                    "campaigns": args.campaigns,
                    "rows": rows,
                    "wall_s": wall,
                    "rows_per_s": rows / wall,
                    "steps_s": steps,
                    "normalize_load_rows_per_s": rows / pages_to_rows,
                    "plain_copy_same_rows_per_s": copy_rate,
                    "ratio_to_plain_copy": rows / wall / copy_rate,
                },
            }
        finally:
            worker.stop()
            server.stop()
            redis.Redis.from_url(BROKER_URL).flushdb()
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "end_to_end.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Warehouse loader throughput against a plain COPY, Django's bulk_create and dlt's merge.

Creates a scratch PostgreSQL database (as the test runner does) and, for each size in ``--rows``,
loads the same synthetic ad-performance rows with every contender, into an empty table and again
as a full re-load (every row a conflict):

- plain COPY into an empty ``LIKE warehouse_ad_performance_daily INCLUDING ALL`` table: the
  practical limit, the rows already carrying their system columns;
- our loader (``etl.load.load_rows`` in one transaction), re-loading the same rows ("unchanged")
  and rows whose every metric changed ("every row changed", the restatement case);
- Django's ``bulk_create(update_conflicts=True)`` on the warehouse model;
- dlt's ``merge`` write disposition fed a pandas DataFrame, primary key the natural key (created
  as a constraint), run in its own virtualenv (var/bench-venv-dlt, installed from
  bench/requirements-dlt.txt on first use). Before the re-load its table gets the warehouse
  table's secondary indexes (the dashboards' covering index, the date indexes), so both re-loads
  rewrite the same indexes.

Only the write is timed: each contender gets its input ready-made (CSV chunks, model instances, a
DataFrame). Prints rows per second and ratios, and writes the figures to var/bench/load.json.

Run as ``python bench/load.py --dlt-worker ...`` it is the dlt side, inside that virtualenv.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "var" / "bench"
DLT_VENV = ROOT / "var" / "bench-venv-dlt"
DLT_REQUIREMENTS = Path(__file__).with_name("requirements-dlt.txt")
SCRATCH_DB = "bench_load"
NATURAL_KEY = ["connection_id", "campaign_id", "date"]
COLUMNS = [
    "account_id", "account_name", "campaign_id", "campaign_name", "campaign_status", "campaign_type",
    "date", "account_time_zone", "currency", "impressions", "clicks", "spend", "conversions",
    "conversion_value", "view_through_conversions",
]  # fmt: skip
ORGANIZATION_ID, CONNECTION_ID, PLATFORM = 1, 1, "linkedin_ads"
CHUNK_ROWS = 50_000


def synthetic_csv(rows: int, *, restated: bool = False) -> list[str]:
    """Ad performance rows as the loader receives them: CSV chunks, no header, dataset order.

    30 days per campaign; the account name holds a comma, so every line carries a quoted field
    as real exports do. ``restated`` gives the same keys with every row's figures changed.
    """
    rng = random.Random(7)
    start = date(2026, 1, 1)
    bump = 1 if restated else 0
    chunks, buffer = [], io.StringIO()
    for i in range(rows):
        campaign, day = divmod(i, 30)
        impressions = rng.randint(0, 50000) + bump
        clicks = rng.randint(0, max(1, impressions // 20))
        buffer.write(
            f'508000001,"Bench, Inc.",{400000000 + campaign},Campaign {campaign},ACTIVE,SEARCH,'
            f"{start + timedelta(days=day)},UTC,USD,{impressions},{clicks},{rng.randint(0, 10**7) / 100:.2f},"
            f"{rng.randint(0, 50)},{rng.randint(0, 10**6) / 100:.2f},{rng.randint(0, 9)}\n"
        )
        if (i + 1) % CHUNK_ROWS == 0:
            chunks.append(buffer.getvalue())
            buffer = io.StringIO()
    if buffer.tell():
        chunks.append(buffer.getvalue())
    return chunks


# --- dlt, in its own virtualenv -------------------------------------------------------------------


def dlt_python() -> Path:
    """The dlt virtualenv's interpreter, created and installed on first use (timed, printed)."""
    python = DLT_VENV / "bin" / "python"
    stamp = DLT_VENV / ".installed"
    wanted = DLT_REQUIREMENTS.read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"installing dlt into {DLT_VENV.relative_to(ROOT)} (once) ...", flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(DLT_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"]
    done = subprocess.run([*pip, str(DLT_REQUIREMENTS)], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"installing dlt failed (run with --no-dlt to skip it):\n{done.stdout}{done.stderr}")
    stamp.write_text(wanted)
    print(f"dlt installed in {time.perf_counter() - started:.0f} s (not part of any figure)", flush=True)
    return python


def run_dlt(dsn: str, fresh_csv: Path, restated_csv: Path, rows: int) -> dict[str, float]:
    """Seconds dlt's merge took into an empty table and for a full re-load, from the subprocess."""
    command = [str(dlt_python()), __file__, "--dlt-worker", dsn, str(fresh_csv), str(restated_csv), str(rows)]
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "RUNTIME__LOG_LEVEL": "ERROR"}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=OUT_DIR)
    return json.loads(done.stdout.strip().splitlines()[-1])


def dlt_worker(dsn: str, fresh_csv: str, restated_csv: str, rows: int) -> None:
    """The dlt side: merge a DataFrame into an empty table, then merge the restated one over it."""
    import dlt
    import pandas as pd
    import psycopg2

    def frame(path: str) -> Any:
        df = pd.read_csv(
            path, names=COLUMNS, dtype={"account_id": str, "campaign_id": str}, parse_dates=["date"]
        )
        df["date"] = df["date"].dt.date
        df.insert(0, "organization_id", ORGANIZATION_ID)
        df.insert(1, "connection_id", CONNECTION_ID)
        df.insert(2, "platform", PLATFORM)
        df.insert(3, "sync_run_id", 1)
        df.insert(4, "synced_at", pd.Timestamp.now(tz="UTC"))
        return df

    dataset = f"dlt_ad_performance_{rows}"
    with psycopg2.connect(dsn) as db, db.cursor() as cursor:
        cursor.execute(
            f"DROP SCHEMA IF EXISTS {dataset} CASCADE; DROP SCHEMA IF EXISTS {dataset}_staging CASCADE"
        )
    pipeline = dlt.pipeline(
        pipeline_name=dataset,
        # With its primary key as a constraint, as the warehouse table has its natural key.
        destination=dlt.destinations.postgres(dsn, create_indexes=True),
        dataset_name=dataset,
        pipelines_dir=tempfile.mkdtemp(prefix="dlt-"),
    )
    seconds = {}
    for label, path in (("empty", fresh_csv), ("reload", restated_csv)):
        df = frame(path)
        checkpoint(dsn)
        started = time.perf_counter()
        pipeline.run(
            df, table_name="ad_performance_daily", write_disposition="merge", primary_key=NATURAL_KEY
        ).raise_on_failed_jobs()
        seconds[label] = time.perf_counter() - started
        if label == "empty":
            add_warehouse_indexes(dsn, f"{dataset}.ad_performance_daily")
            vacuum(dsn, f"{dataset}.ad_performance_daily")
    print(json.dumps(seconds))


def add_warehouse_indexes(dsn: str, table: str) -> None:
    """Give dlt's table the warehouse table's secondary indexes, so a re-load rewrites the same ones.

    dlt creates its table with its own keys only (the primary key, ``_dlt_id``); the warehouse
    table also carries the dashboards' covering index and the date indexes, and every changed row
    costs an entry in each. Our natural key and dlt's primary key are the same columns.
    """
    import psycopg2

    with psycopg2.connect(dsn) as db, db.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'warehouse_ad_performance_daily' "
            "AND indexdef NOT LIKE 'CREATE UNIQUE%%'"
        )
        for name, definition in cursor.fetchall():
            _, _, rest = definition.partition(" USING ")
            cursor.execute(f"CREATE INDEX dlt_{name} ON {table} USING {rest}")


def checkpoint(dsn: str) -> None:
    import psycopg2

    db = psycopg2.connect(dsn)
    db.autocommit = True
    db.cursor().execute("CHECKPOINT")
    db.close()


def vacuum(dsn: str, table: str) -> None:
    import psycopg2

    db = psycopg2.connect(dsn)
    db.autocommit = True
    db.cursor().execute(f"VACUUM ANALYZE {table}")
    db.close()


# --- the Django side ------------------------------------------------------------------------------


class Bench:
    """Timed writes into the scratch database, each after a CHECKPOINT, in one transaction."""

    def __init__(self) -> None:
        from django.db import connection

        self.db = connection

    def sql(self, statement: str) -> None:
        with self.db.cursor() as cursor:
            cursor.execute(statement)

    def timed(self, write: Callable[[], object]) -> float:
        from django.db import transaction

        self.sql("CHECKPOINT")
        started = time.perf_counter()
        with transaction.atomic():
            write()
        return time.perf_counter() - started

    def plain_copy(self, chunks: list[str]) -> float:
        from etl.load import prefix_lines, system_prefix

        columns = ", ".join(
            ["organization_id", "connection_id", "platform", "sync_run_id", "synced_at", *COLUMNS]
        )
        prefix = system_prefix(system_values(run=1))
        ready = [prefix_lines(chunk, prefix) for chunk in chunks]
        self.sql("DROP TABLE IF EXISTS bench_copy")
        self.sql("CREATE TABLE bench_copy (LIKE warehouse_ad_performance_daily INCLUDING ALL)")

        def copy() -> None:
            with self.db.cursor() as cursor:
                for data in ready:
                    with cursor.copy(f"COPY bench_copy ({columns}) FROM STDIN WITH (FORMAT csv)") as stream:
                        stream.write(data)

        seconds = self.timed(copy)
        self.sql("DROP TABLE bench_copy")
        return seconds

    def loader(self, chunks: list[str], restated: list[str]) -> dict[str, float]:
        from etl.load import LoadResult, load_rows
        from etl.schema import AD_PERFORMANCE_DAILY

        def load(data: list[str], run: int, expect: tuple[int, int]) -> Callable[[], None]:
            def write() -> None:
                system = system_values(run)
                result: LoadResult = load_rows(
                    dataset=AD_PERFORMANCE_DAILY, chunks=data, system=system, window=None
                )
                assert (result.inserted, result.updated) == expect, result

            return write

        rows = sum(chunk.count("\n") for chunk in chunks)
        self.sql("TRUNCATE warehouse_ad_performance_daily")
        empty = self.timed(load(chunks, 1, (rows, 0)))
        self.sql("VACUUM ANALYZE warehouse_ad_performance_daily")
        unchanged = self.timed(load(chunks, 2, (0, 0)))
        changed = self.timed(load(restated, 3, (0, rows)))
        self.sql("TRUNCATE warehouse_ad_performance_daily")
        return {"empty": empty, "reload unchanged": unchanged, "reload changed": changed}

    def bulk_create(self, chunks: list[str], restated: list[str]) -> dict[str, float]:
        from etl.models import AdPerformanceDaily

        fields = [c for c in COLUMNS if c not in NATURAL_KEY] + ["sync_run_id", "synced_at"]

        def write(data: list[str]) -> Callable[[], None]:
            objects = list(model_rows(data))

            def run() -> None:
                AdPerformanceDaily.objects.bulk_create(
                    objects,
                    update_conflicts=True,
                    unique_fields=NATURAL_KEY,
                    update_fields=fields,
                    batch_size=5000,
                )

            return run

        self.sql("TRUNCATE warehouse_ad_performance_daily")
        empty = self.timed(write(chunks))
        self.sql("VACUUM ANALYZE warehouse_ad_performance_daily")
        reload = self.timed(write(restated))
        self.sql("TRUNCATE warehouse_ad_performance_daily")
        return {"empty": empty, "reload changed": reload}


def model_rows(chunks: list[str]) -> Any:
    from decimal import Decimal

    from etl.models import AdPerformanceDaily

    synced_at = now()
    for chunk in chunks:
        for row in csv.reader(io.StringIO(chunk)):
            values = dict(zip(COLUMNS, row, strict=True))
            yield AdPerformanceDaily(
                organization_id=ORGANIZATION_ID,
                connection_id=CONNECTION_ID,
                platform=PLATFORM,
                sync_run_id=1,
                synced_at=synced_at,
                **{
                    **values,
                    "date": date.fromisoformat(values["date"]),
                    "impressions": int(values["impressions"]),
                    "clicks": int(values["clicks"]),
                    "spend": Decimal(values["spend"]),
                    "conversions": Decimal(values["conversions"]),
                    "conversion_value": Decimal(values["conversion_value"]),
                    "view_through_conversions": int(values["view_through_conversions"]),
                },
            )


def system_values(run: int) -> Any:
    from etl.load import SystemValues

    return SystemValues(ORGANIZATION_ID, CONNECTION_ID, PLATFORM, run, now())


def now() -> Any:
    from django.utils import timezone

    return timezone.now()


# --- the report -----------------------------------------------------------------------------------


def measure(size: int, bench: Bench, dsn: str, *, bulk_rows: int, with_dlt: bool) -> dict[str, Any]:
    chunks, restated = synthetic_csv(size), synthetic_csv(size, restated=True)
    figures: dict[str, Any] = {"rows": size}

    def record(name: str, rows: int, seconds: dict[str, float]) -> None:
        figures[name] = {
            scenario: {"rows": rows, "seconds": round(s, 3), "rows_per_s": round(rows / s)}
            for scenario, s in seconds.items()
        }

    record("plain COPY", size, {"empty": bench.plain_copy(chunks)})
    record("our loader", size, bench.loader(chunks, restated))
    bulk_size = min(size, bulk_rows)
    record(
        "Django bulk_create",
        bulk_size,
        bench.bulk_create(chunks_of(chunks, bulk_size), chunks_of(restated, bulk_size)),
    )
    if with_dlt:
        with tempfile.TemporaryDirectory() as folder:
            fresh_csv, restated_csv = Path(folder, "fresh.csv"), Path(folder, "restated.csv")
            fresh_csv.write_text("".join(chunks))
            restated_csv.write_text("".join(restated))
            seconds = run_dlt(dsn, fresh_csv, restated_csv, size)
        record(
            "dlt merge (DataFrame)", size, {"empty": seconds["empty"], "reload changed": seconds["reload"]}
        )
    return figures


def chunks_of(chunks: list[str], rows: int) -> list[str]:
    lines = "".join(chunks).splitlines(keepends=True)[:rows]
    return ["".join(lines[i : i + CHUNK_ROWS]) for i in range(0, len(lines), CHUNK_ROWS)]


def print_table(figures: dict[str, Any]) -> None:
    size = figures["rows"]
    copy_rate = figures["plain COPY"]["empty"]["rows_per_s"]
    ours = figures["our loader"]
    print(f"\n{size:,} rows of ad performance (rows/s; x = ratio to plain COPY into an empty table)")
    print(f"{'contender':<28}{'empty table':>22}{'re-load unchanged':>22}{'re-load, every row changed':>30}")
    for name in ("plain COPY", "our loader", "Django bulk_create", "dlt merge (DataFrame)"):
        if name not in figures:
            continue
        cells = []
        for scenario, width in (("empty", 22), ("reload unchanged", 22), ("reload changed", 30)):
            figure = figures[name].get(scenario)
            cell = f"{figure['rows_per_s']:>9,} ({figure['rows_per_s'] / copy_rate:.2f}x)" if figure else "-"
            cells.append(f"{cell:>{width}}")
        label = name
        measured = figures[name]["empty"]["rows"]
        if measured != size:
            label += f" [{measured:,} rows]"
        print(f"{label:<28}{''.join(cells)}")
    for rival in ("Django bulk_create", "dlt merge (DataFrame)"):
        if rival not in figures:
            continue
        empty = ours["empty"]["rows_per_s"] / figures[rival]["empty"]["rows_per_s"]
        changed = ours["reload changed"]["rows_per_s"] / figures[rival]["reload changed"]["rows_per_s"]
        print(
            f"our loader vs {rival}: {empty:.1f}x into an empty table, {changed:.1f}x re-loading changed rows"
        )
    cost = ours["reload unchanged"]["seconds"] / ours["empty"]["seconds"]
    print(f"re-loading unchanged rows costs {cost:.2f}x a fresh load")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--dlt-worker":
        dsn, fresh_csv, restated_csv, rows = sys.argv[2:6]
        dlt_worker(dsn, fresh_csv, restated_csv, int(rows))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument(
        "--bulk-create-rows", type=int, default=100_000, help="cap on bulk_create's rows (it is slow)"
    )
    parser.add_argument("--no-dlt", action="store_true", help="skip dlt (no package registry at hand)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.rows.split(",")]

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sales_dashboard.settings.test")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL (DATABASE_URL).")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if not args.no_dlt:
        dlt_python()
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = SCRATCH_DB
    old = setup_databases(verbosity=0, interactive=False)
    started = time.perf_counter()
    try:
        db = connection.settings_dict
        password = quote(db["PASSWORD"] or "unused", safe="")  # dlt insists on one; trust ignores it
        dsn = f"postgresql://{quote(db['USER'], safe='')}:{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        results = []
        for size in sizes:
            figures = measure(size, Bench(), dsn, bulk_rows=args.bulk_create_rows, with_dlt=not args.no_dlt)
            print_table(figures)
            results.append(figures)
    finally:
        connection.close()
        teardown_databases(old, verbosity=0)
    (OUT_DIR / "load.json").write_text(json.dumps({"sizes": results}, indent=2) + "\n")
    print(
        f"\nmeasured in {time.perf_counter() - started:.0f} s; figures in {(OUT_DIR / 'load.json').relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()

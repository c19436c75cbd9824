"""Loader throughput against the practical limit (a plain COPY), on PostgreSQL.

Creates a scratch database (as the test runner does), loads N synthetic ad-performance rows three
ways and prints rows per second and ratios:

- plain COPY into an empty copy of the warehouse table (same indexes): the limit;
- our loader into an empty table (COPY into staging, one merge);
- our loader again with the same rows (the restatement case: every row a conflict, none changed).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sales_dashboard.settings.test")


def synthetic_csv(rows: int, chunk_rows: int) -> list[str]:
    rng = random.Random(7)
    start = date(2026, 1, 1)
    chunks, buffer = [], io.StringIO()
    for i in range(rows):
        campaign, day = divmod(i, 30)
        impressions = rng.randint(0, 50000)
        clicks = rng.randint(0, max(1, impressions // 20))
        buffer.write(
            f"508000001,Bench account,{400000000 + campaign},Campaign {campaign},ACTIVE,SEARCH,"
            f"{start + timedelta(days=day)},UTC,USD,{impressions},{clicks},{rng.randint(0, 10**7) / 100:.2f},"
            f"{rng.randint(0, 50)},{rng.randint(0, 10**6) / 100:.2f},{rng.randint(0, 9)}\n"
        )
        if (i + 1) % chunk_rows == 0:
            chunks.append(buffer.getvalue())
            buffer = io.StringIO()
    if buffer.tell():
        chunks.append(buffer.getvalue())
    return chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, transaction
    from django.test.utils import setup_databases, teardown_databases
    from django.utils import timezone

    from connectors.models import Connection, Organization
    from etl.load import SystemValues, load_rows
    from etl.schema import AD_PERFORMANCE_DAILY

    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL (DATABASE_URL).")
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = "bench_sales_dashboard"
    old = setup_databases(verbosity=0, interactive=False)
    try:
        chunks = synthetic_csv(args.rows, 50_000)
        org = Organization.objects.create(name="Bench", slug="bench")
        conn = Connection.objects.create(organization=org, platform="linkedin_ads", account_id="508000001")
        system = SystemValues(org.pk, conn.pk, "linkedin_ads", 1, timezone.now())
        cols = ", ".join(AD_PERFORMANCE_DAILY.column_names)

        prefix = f"{org.pk},{conn.pk},linkedin_ads,1,{system.synced_at.isoformat()},"
        full_chunks = ["".join(prefix + line for line in chunk.splitlines(True)) for chunk in chunks]
        all_cols = f"organization_id, connection_id, platform, sync_run_id, synced_at, {cols}"
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_copy (LIKE warehouse_ad_performance_daily INCLUDING ALL)")
            started = time.perf_counter()
            with transaction.atomic():
                for chunk in full_chunks:
                    with cursor.copy(f"COPY bench_copy ({all_cols}) FROM STDIN WITH (FORMAT csv)") as copy:
                        copy.write(chunk)
            plain = time.perf_counter() - started

        def timed_load() -> float:
            started = time.perf_counter()
            with transaction.atomic():
                load_rows(dataset=AD_PERFORMANCE_DAILY, chunks=chunks, system=system, window=None)
            return time.perf_counter() - started

        fresh = timed_load()
        reload = timed_load()
        print(f"rows: {args.rows:,}")
        print(f"plain COPY into an empty table : {args.rows / plain:>10,.0f} rows/s")
        print(f"loader, empty table            : {args.rows / fresh:>10,.0f} rows/s  ({plain / fresh:.2f}x plain COPY)")
        print(f"loader, full re-load unchanged : {args.rows / reload:>10,.0f} rows/s  ({plain / reload:.2f}x plain COPY)")
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()

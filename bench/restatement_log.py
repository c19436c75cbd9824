"""What the restatement log costs the load: re-loads with and without it, on PostgreSQL.

Creates a scratch PostgreSQL database (as the test runner does) and, for each size in ``--rows``,
loads synthetic ad-performance rows (bench/load.py's) into the warehouse table, then times two
re-loads of the whole table through ``etl.load.load_rows``:

- unchanged: the same rows again (the log has nothing to write);
- conversions changed: every row's conversions moved, as a platform's late conversions do (one
  log entry per row, batched in one log row per day);
- every row changed: every figure of every row moved (impressions, clicks, spend, conversions,
  conversion value, view-through conversions), the worst case a restatement can bring: six log
  entries per row, in six log rows per day;

each with the log (the loader as it runs) and without it (the loader's statements alone, the log's
shape switched off), alternating, best of ``--repeat``. Then, with the log those re-loads left (seven
entries per row), it times Sync health's summary of it: how much re-reads moved each metric and how
late (``restatement_movement``) and each connection's latest significant change
(``latest_significant_lag``), read batch by batch, beside the same figures read one entry at a time
as the first version did. Prints rows per second and the ratios, and writes the figures to
var/bench/restatement_log.json (bench/summary.py reads them).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "var" / "bench"
SCRATCH_DB = "bench_restatement_log"
FIGURE_COLUMNS = (9, 10, 11, 12, 13, 14)  # impressions .. view_through_conversions in the CSV
CONVERSIONS_COLUMN = 12
CASES = ("unchanged", "conversions", "changed")
# The figures logged: each batch row holds one entry per changed record.
ENTRIES = "SELECT coalesce(sum(entries), 0) FROM etl_restatement_batch"
BATCHES = "SELECT count(*) FROM etl_restatement_batch"


def _load_bench() -> Any:
    """bench/load.py as a module, for its synthetic rows (the benchmarks are scripts)."""
    path = Path(__file__).with_name("load.py")
    spec = importlib.util.spec_from_file_location("load_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


load_bench = _load_bench()


def every_figure_changed(chunks: list[str], columns: tuple[int, ...] = FIGURE_COLUMNS) -> list[str]:
    """The same rows (same keys) with each of their figures in ``columns`` moved up by one unit."""
    changed = []
    for chunk in chunks:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for row in csv.reader(io.StringIO(chunk)):
            for i in columns:
                row[i] = str(int(row[i]) + 1) if "." not in row[i] else f"{float(row[i]) + 1:.2f}"
            writer.writerow(row)
        changed.append(out.getvalue())
    return changed


@contextmanager
def without_the_log() -> Iterator[None]:
    """The loader with its log switched off: every dataset looks unlogged to it."""
    import etl.load

    logged_shape = etl.load.logged_shape
    etl.load.logged_shape = lambda dataset, only=None: None
    try:
        yield
    finally:
        etl.load.logged_shape = logged_shape


def run(sql: str) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone() if cursor.description else None


def timed_load(chunks: list[str], run_id: int) -> tuple[float, Any]:
    from django.db import transaction

    from etl.load import load_rows
    from etl.schema import AD_PERFORMANCE_DAILY

    run("CHECKPOINT")
    started = time.perf_counter()
    with transaction.atomic():
        result = load_rows(
            dataset=AD_PERFORMANCE_DAILY, chunks=chunks, system=load_bench.system_values(run_id), window=None
        )
    return time.perf_counter() - started, result


def one_round(
    chunks: list[str], conversions: list[str], changed: list[str], rows: int, *, with_log: bool
) -> dict[str, Any]:
    """From a freshly loaded table: an unchanged re-load, one that changed every row's conversions,
    then one that changed every figure."""
    run("TRUNCATE warehouse_ad_performance_daily, etl_restatement_batch")
    timed_load(chunks, 1)
    run("VACUUM ANALYZE warehouse_ad_performance_daily")
    with contextlib.nullcontext() if with_log else without_the_log():
        unchanged, result = timed_load(chunks, 2)
        logged_unchanged = run(ENTRIES)[0]
        late, late_result = timed_load(conversions, 3)
        logged_late, batches_late = run(ENTRIES)[0], run(BATCHES)[0]
        every, changed_result = timed_load(changed, 4)
    assert (result.updated, result.inserted) == (0, 0), result
    for restated in (late_result, changed_result):
        assert (restated.updated, restated.inserted) == (rows, 0), restated
    logged, batches = run(ENTRIES)[0], run(BATCHES)[0]
    assert logged_unchanged == 0, "an unchanged re-load logged something"
    return {
        "unchanged": unchanged,
        "conversions": late,
        "changed": every,
        "logged conversions": logged_late,
        "logged": logged - logged_late,
        "batches conversions": batches_late,
        "batches": batches - batches_late,
    }


def measure(rows: int, repeat: int) -> dict[str, Any]:
    chunks = load_bench.synthetic_csv(rows)
    conversions = every_figure_changed(chunks, (CONVERSIONS_COLUMN,))
    changed = every_figure_changed(conversions)
    best: dict[str, dict[str, float]] = {"with log": {}, "without log": {}}
    logged: dict[str, int] = {}
    batches: dict[str, int] = {}
    for _ in range(repeat):
        for label, with_log in (("without log", False), ("with log", True)):
            figures = one_round(chunks, conversions, changed, rows, with_log=with_log)
            for case in CASES:
                best[label][case] = min(best[label].get(case, float("inf")), figures[case])
            if with_log:
                logged = {"conversions": figures["logged conversions"], "changed": figures["logged"]}
                batches = {"conversions": figures["batches conversions"], "changed": figures["batches"]}
    result: dict[str, Any] = {
        "rows": rows,
        "log_entries_conversions_changed": logged["conversions"],
        "log_entries_every_row_changed": logged["changed"],
        "log_batches_conversions_changed": batches["conversions"],
        "log_batches_every_row_changed": batches["changed"],
    }
    result["summary"] = time_summary(repeat)
    for label, cases in best.items():
        result[label] = {
            case: {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}
            for case, seconds in cases.items()
        }
    return result


def per_entry_summary(batches: Any) -> tuple[int, int]:
    """The movement and the latest significant lag read one entry at a time (the first version)."""
    from dashboard.selectors.restatements import is_significant, utc_date
    from etl.restatement_log import restatement_entries

    counts: dict[tuple[str, str], int] = {}
    lag: dict[int, int] = {}
    for entry in restatement_entries(batches):
        key = (entry.platform, entry.metric)
        counts[key] = counts.get(key, 0) + 1
        if is_significant(entry):
            late = (utc_date(entry.changed_at) - entry.day).days
            lag[entry.connection_id] = max(lag.get(entry.connection_id, 0), late)
    return sum(counts.values()), len(lag)


def time_summary(repeat: int) -> dict[str, Any]:
    """Sync health's summary of the log as it stands: batch by batch, and one entry at a time."""
    from dashboard.selectors.restatements import latest_significant_lag, restatement_movement
    from etl.models import RestatementBatch
    from tenancy.models import Organization

    organization = Organization(pk=load_bench.ORGANIZATION_ID)
    batches = RestatementBatch.objects.filter(organization_id=organization.pk)
    best = {"seconds_by_batch": float("inf"), "seconds_by_entry": float("inf")}
    for _ in range(repeat):
        started = time.perf_counter()
        movement = restatement_movement(organization=organization, lookback_days=3650)
        latest_significant_lag(batches)
        best["seconds_by_batch"] = min(best["seconds_by_batch"], time.perf_counter() - started)
        started = time.perf_counter()
        changes, _ = per_entry_summary(batches)
        best["seconds_by_entry"] = min(best["seconds_by_entry"], time.perf_counter() - started)
    assert sum(p.changes for p in movement) == changes, "the two readings disagree"
    return {"entries": changes, "batches": batches.count(), **{k: round(v, 3) for k, v in best.items()}}


def cost(figures: dict[str, Any], case: str) -> float:
    """Time with the log / time without it."""
    return float(figures["with log"][case]["seconds"] / figures["without log"][case]["seconds"])


def print_table(figures: dict[str, Any]) -> None:
    rows = figures["rows"]
    print(f"\n{rows:,} rows of ad performance re-loaded (rows/s, best of the rounds)")
    print(f"{'':<16}{'unchanged':>16}{'conversions changed':>24}{'every figure changed':>24}")
    for label in ("without log", "with log"):
        cells = [f"{figures[label][case]['rows_per_s']:>16,}" for case in CASES]
        print(f"{label:<16}{cells[0]}{cells[1]:>24}{cells[2]:>24}")
    print(
        f"the log costs {cost(figures, 'unchanged'):.2f}x the time of an unchanged re-load, "
        f"{cost(figures, 'conversions'):.2f}x that of one that changed every row's conversions "
        f"({figures['log_entries_conversions_changed']:,} entries in {figures['log_batches_conversions_changed']:,} "
        f"batches) and {cost(figures, 'changed'):.2f}x that of one that changed every figure "
        f"({figures['log_entries_every_row_changed']:,} entries in {figures['log_batches_every_row_changed']:,} batches)"
    )
    summary = figures["summary"]
    print(
        f"Sync health's summary of {summary['entries']:,} logged figures in {summary['batches']:,} batches: "
        f"{summary['seconds_by_batch']:.3f} s read batch by batch, {summary['seconds_by_entry']:.3f} s one "
        f"entry at a time ({summary['seconds_by_entry'] / max(summary['seconds_by_batch'], 0.001):.1f}x faster)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per size (the best is kept)")
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
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = SCRATCH_DB
    old = setup_databases(verbosity=0, interactive=False)
    started = time.perf_counter()
    results = []
    try:
        for size in sizes:
            figures = measure(size, args.repeat)
            print_table(figures)
            results.append(figures)
    finally:
        connection.close()
        teardown_databases(old, verbosity=0)
    (OUT_DIR / "restatement_log.json").write_text(json.dumps({"sizes": results}, indent=2) + "\n")
    print(
        f"\nmeasured in {time.perf_counter() - started:.0f} s; "
        f"figures in {(OUT_DIR / 'restatement_log.json').relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()

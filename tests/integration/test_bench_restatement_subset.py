"""A fast subset of the restatement log's benchmark (bench/restatement_log.py), so that `make bench`
cannot rot outside `make test`: its rounds with and without the log, at a tiny scale, on PostgreSQL."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from etl.models import AdPerformanceDaily, RestatementBatch

pytestmark = pytest.mark.django_db(transaction=True)


def load_benchmark() -> Any:
    path = Path(__file__).resolve().parents[2] / "bench" / "restatement_log.py"
    spec = importlib.util.spec_from_file_location("restatement_log_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_restatement_log_benchmark_measures_both_re_loads_with_and_without_the_log() -> None:
    assert connection.vendor == "postgresql", "the benchmark runs on PostgreSQL (DATABASE_URL)"
    bench = load_benchmark()
    figures = bench.measure(600, 1)
    assert figures["log_entries_conversions_changed"] == 600  # one figure of every row
    assert figures["log_entries_every_row_changed"] == 600 * 6  # six figures of every row
    for label in ("with log", "without log"):
        assert set(figures[label]) == {"unchanged", "conversions", "changed"}
        assert all(case["rows_per_s"] > 0 for case in figures[label].values())
    assert bench.cost(figures, "changed") > 0
    assert AdPerformanceDaily.objects.count() == 600
    assert RestatementBatch.objects.aggregate(n=Sum("entries"))["n"] == 600 * 7
    assert RestatementBatch.objects.count() < 600  # batched: one row per run, day and metric
    summary = figures["summary"]  # Sync health's summary of that log, both ways, agreeing
    assert summary["entries"] == 600 * 7 and summary["batches"] == RestatementBatch.objects.count()
    assert summary["seconds_by_batch"] > 0 and summary["seconds_by_entry"] > 0

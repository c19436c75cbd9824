"""A fast subset of the dashboard benchmark (bench/dashboard_latency.py), so that `make bench` cannot
rot outside `make test`: its warehouse generation, its run history and every page it measures, at a
tiny scale, on PostgreSQL."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from etl.models import AdPerformanceDaily, SyncRun

pytestmark = pytest.mark.django_db(transaction=True)


def load_benchmark() -> Any:
    """bench/dashboard_latency.py as a module (the benchmarks are scripts, not a package)."""
    path = Path(__file__).resolve().parents[2] / "bench" / "dashboard_latency.py"
    spec = importlib.util.spec_from_file_location("dashboard_latency_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


bench = load_benchmark()


def test_the_dashboard_benchmark_builds_its_warehouse_and_measures_every_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench, "ORGANIZATIONS", 3)
    today = timezone.now().date()
    organization, user = bench.create_dimensions(today)
    with connection.cursor() as cursor:
        cursor.execute(bench.RUNS_SQL, {"today": today, "runs": 2})
        bench.load_stage(cursor, today=today, previous_rows=0, rows=3_000)
    assert SyncRun.objects.count() == 3 * len(bench.PLATFORMS) * 2
    assert AdPerformanceDaily.objects.count() >= 2_000
    client = Client()
    client.force_login(user)
    warm_seconds: list[float] = []
    pages: list[Any] = [
        bench.measure_page(client, organization.pk, name, url, 1, warm_seconds)
        for name, url in bench.page_urls(organization)
    ]
    assert len(pages) >= 6 and all(page.queries > 0 and page.cold_p95_ms > 0 for page in pages)
    assert warm_seconds

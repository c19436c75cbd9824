"""A fast subset of the fault suite (bench/chaos.py) inside ``make test``.

The suite runs as its own process, as ``make chaos`` runs it, on a scratch database and a Redis
database of its own (``CHAOS_SUBSET_DB_NAME``, ``CHAOS_SUBSET_BROKER_URL``), so it cannot collide
with a ``make chaos`` running at the same time. Each chosen scenario must print the verdict ``ok``
and the suite must exit 0: a scenario that cannot reach its fault fails, it is not skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.worker, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
SUBSET = (
    "embedded-kill-extract-linkedin_ads",  # the embedded command killed mid-extract, then run again
    "sigkill-extract",  # a pool process killed while the sandbox holds its data request
    "sigkill-load",  # a pool process killed at the load hook, inside the COPY's transaction
    "double-trigger",  # two triggers at once: one run
    "stale-takeover-race",  # two triggers at once on a stale run: exactly one new run
)


def test_the_fast_subset_of_the_fault_suite_passes() -> None:
    env = {
        **os.environ,
        "CHAOS_DB_NAME": os.environ.get("CHAOS_SUBSET_DB_NAME", "chaos_subset_sales_dashboard"),
        "CHAOS_BROKER_URL": os.environ.get("CHAOS_SUBSET_BROKER_URL", "redis://127.0.0.1:6379/15"),
    }
    only = [arg for name in SUBSET for arg in ("--only", name)]

    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "chaos.py"), *only],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )

    report = f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr[-4000:]}"
    assert done.returncode == 0, report
    for name in SUBSET:
        assert re.search(rf"^{re.escape(name)} .* ok$", done.stdout, re.MULTILINE), f"{name} not ok\n{report}"

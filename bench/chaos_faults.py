"""The worker scenarios' actions and checks: faults planned in the sandbox, processes killed at a
known point, and what must have happened for a scenario to count.

Nothing here waits on a guess. An action in the middle of an extract waits until the sandbox
holds the data request (a ``hold`` fault); an action in the middle of a load waits for the marker
the load hook writes from inside the load's transaction (``chaos_hooks``). A fault that is never
reached makes the scenario fail, by a timeout or by one of the checks below.
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chaos_measure import PLATFORMS
from chaos_run import Action, Chaos, Check, all_runs_finished
from harness import wait_until

HOLD_CAP_SECONDS = 120  # the longest the sandbox keeps a request; the scenario releases it long before
REACH_TIMEOUT = 90.0  # seconds for a scenario to reach its fault


# --------------------------------------------------------------------------- faults in the sandbox


def plan(kind: str, **params: Any) -> Action:
    return lambda chaos: chaos.app.faults.add(kind, **params)


def server_errors(chaos: Chaos) -> None:
    chaos.app.faults.add("server_error", times=3, path="/rest/adAnalytics", status=503)
    chaos.app.faults.add("server_error", times=1, path="/rest/adAnalytics", status=500)


def mailchimp_throttling(chaos: Chaos) -> None:
    """Mailchimp's two throttles: the 429 problem document, then a bare 403 without a body."""
    path = PLATFORMS["mailchimp"].data_path
    chaos.app.faults.add("rate_limit", times=3, path=path)
    chaos.app.faults.add("bare_throttle", times=1, path=path, status=403)


def demandbase_throttling(chaos: Chaos) -> None:
    """The concurrent-query throttle on the Intent API and on the export job's creation. Both are
    retried inline; the refused job POST created no job, so the connector posts it again."""
    chaos.app.faults.add("throttle", times=4, path="/data/intent/")
    chaos.app.faults.add("throttle", times=1, path="/data/export/v1/job")


def hold_data_request(chaos: Chaos) -> None:
    """Keep the platform's next data request unanswered until the scenario has acted."""
    path = PLATFORMS[chaos.scenario.platform].data_path
    chaos.app.faults.add("hold", times=1, path=path, seconds=HOLD_CAP_SECONDS)


def wait_until_held(chaos: Chaos) -> None:
    if not chaos.app.holds.wait_until_held(timeout=REACH_TIMEOUT):
        raise TimeoutError(f"the sandbox never held a data request within {REACH_TIMEOUT:.0f} s")
    chaos.facts["data request held"] = PLATFORMS[chaos.scenario.platform].data_path


def owner_process(chaos: Chaos) -> int:
    """The pool process that owns the connection's run now (the run's lease names it)."""
    from etl.models import SyncRun

    def owner() -> int | None:
        run = SyncRun.objects.filter(connection_id=chaos.connection_id, status__in=SyncRun.IN_FLIGHT).first()
        return run.owner_pid if run is not None else None

    pid = int(wait_until(owner, timeout=30, what="the run's owner_pid"))
    if pid not in chaos.worker.pool_pids():
        raise RuntimeError(f"the run's owner_pid {pid} is not a pool process of the worker")
    return pid


# --------------------------------------------------------------------------- acting mid-extract


def kill_while_held(chaos: Chaos) -> None:
    """SIGKILL the pool process that owns the run while its data request is held, then let the
    request go."""
    wait_until_held(chaos)
    pid = owner_process(chaos)
    os.kill(pid, signal.SIGKILL)
    chaos.facts["killed pool processes"] = [pid]
    chaos.app.release_held()


def restart_redis_while_held(chaos: Chaos) -> None:
    """Restart the scenario's own Redis while the extract waits for its held data request."""
    assert chaos.redis is not None, "redis-restart needs a Redis of its own"
    wait_until_held(chaos)
    chaos.redis.restart()
    chaos.app.release_held()


# --------------------------------------------------------------------------- acting mid-load


def wait_for_load_marker(chaos: Chaos) -> dict[str, Any]:
    marker: dict[str, Any] = wait_until(
        chaos.hooks.read_marker,
        timeout=REACH_TIMEOUT,
        what="the load hook's marker (the load holding its locks)",
    )
    chaos.facts["load held"] = (
        f"{marker['path']} of {marker['dataset']} in process {marker['pid']}, backend {marker['backend_pid']}"
    )
    return marker


def kill_at_load_hook(chaos: Chaos) -> None:
    """SIGKILL the pool process while its load holds its locks (inside the transaction)."""
    marker = wait_for_load_marker(chaos)
    os.kill(int(marker["pid"]), signal.SIGKILL)
    chaos.facts["killed pool processes"] = [marker["pid"]]
    chaos.hooks.release()


def terminate_backend_at_load_hook(chaos: Chaos) -> None:
    """End the load's PostgreSQL backend while the load holds its locks, then let the load carry
    on into the dead connection."""
    import psycopg

    marker = wait_for_load_marker(chaos)
    with psycopg.connect(chaos.db_dsn, autocommit=True) as admin:
        row = admin.execute("SELECT pg_terminate_backend(%s)", [marker["backend_pid"]]).fetchone()
    chaos.facts["backend terminated"] = bool(row and row[0])
    chaos.hooks.release()


def first_clean_sync(chaos: Chaos) -> None:
    """A connection's first sync, run to the end, so the next one loads through the merge path."""
    chaos.trigger()
    wait_until(lambda: all_runs_finished(chaos.connection_id, 1), timeout=180, what="the first sync")
    wait_until(chaos.worker.idle, timeout=60, what="the worker to finish the first sync")
    first = chaos.runs()[0]
    if first.status != "succeeded":
        raise RuntimeError(f"the first sync ended {first.status}: {first.error_message}")
    chaos.facts["first sync"] = f"run {first.pk} {first.status}, {first.rows_loaded} rows"


# --------------------------------------------------------------------------- what must have happened


def hold_reached(chaos: Chaos) -> str | None:
    return None if chaos.app.holds.reached else "the sandbox never held a request (the fault was not reached)"


def totals_flagged(chaos: Chaos) -> str | None:
    """The last run was marked "loaded, totals differ" by reconciliation (a silent gap caught)."""
    last = chaos.runs()[-1]
    if last.totals_differ:
        return None
    return f"reconciliation did not flag the run (reconciliation {last.reconciliation_status or 'not done'})"


def pool_killed(chaos: Chaos) -> str | None:
    return None if chaos.facts.get("killed pool processes") else "no pool process was killed"


def load_hook_reached(path: str) -> Check:
    def check(chaos: Chaos) -> str | None:
        marker = chaos.hooks.read_marker()
        if marker is None:
            return f"the load hook was never reached (no {path} load held its locks)"
        if marker["path"] != path:
            return f"the load hook was reached on the {marker['path']} path, expected {path}"
        return None

    check.__name__ = f"load_hook_reached_{path}"
    return check


def backend_terminated(chaos: Chaos) -> str | None:
    if chaos.facts.get("backend terminated"):
        return None
    return "pg_terminate_backend did not end the load's backend"


def request_repeated(name: str, at_least: int = 2) -> Check:
    def check(chaos: Chaos) -> str | None:
        made = chaos.app.requests.get(name, 0)
        return None if made >= at_least else f"{name} called {made} time(s), expected at least {at_least}"

    check.__name__ = f"request_repeated_{name}"
    return check


def step_retried(task: str) -> Check:
    """The worker log shows Celery retrying the step (after a database error, a rate limit)."""

    def check(chaos: Chaos) -> str | None:
        if re.search(rf"{re.escape(task)}\[[^]]+\] retry", chaos.worker.log()):
            return None
        return f"{task} was never retried by Celery"

    check.__name__ = f"step_retried_{task}"
    return check


def every_trigger_consumed(chaos: Chaos) -> str | None:
    consumed = chaos.triggers_consumed()
    if consumed == len(chaos.trigger_ids):
        return None
    return f"{consumed} of {len(chaos.trigger_ids)} triggers ran in the worker"


def redis_restarted(chaos: Chaos) -> str | None:
    return (
        None if chaos.redis is not None and chaos.redis.restarts else "the scenario's Redis was not restarted"
    )


def first_run_abandoned(chaos: Chaos) -> str | None:
    """The stale run was closed by the next trigger as failed, ``Abandoned``, with a reason."""
    runs = chaos.runs()
    if len(runs) < 2:
        return "no new run took over"
    first = runs[0]
    if first.status == "failed" and first.error_class == "Abandoned" and first.error_message:
        return None
    ended = f"{first.status}/{first.step} ({first.error_class or 'no error'})"
    return f"the stale run ended {ended}, expected failed as Abandoned"


def killed_run_loaded_nothing(chaos: Chaos) -> str | None:
    """A run closed as abandoned stays closed: its old process loads nothing, succeeds nothing."""
    from etl.models import AdPerformanceDaily

    abandoned = first_run_abandoned(chaos)
    if abandoned:
        return abandoned
    old = chaos.runs()[0]
    if any("loaded" in stats for stats in old.rows.values() if isinstance(stats, dict)):
        return "the taken-over run recorded a load"
    written = AdPerformanceDaily.objects.filter(connection_id=chaos.connection_id, sync_run_id=old.pk).count()
    return f"{written} warehouse row(s) were written by the taken-over run" if written else None


# --------------------------------------------------------------------------- a daylight-saving change


DST_ACCOUNT = "5550003001"  # Fabrikam UK, Europe/London
DST_ZONE = "Europe/London"


def latest_clock_change(zone: str, today: date) -> date:
    """The local day of the zone's latest UTC-offset change whose next day is already over."""
    tz = ZoneInfo(zone)

    def offset(day: date) -> timedelta | None:
        return datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()

    day = today - timedelta(days=2)
    for _ in range(800):
        if offset(day) != offset(day + timedelta(days=1)):
            return day
        day -= timedelta(days=1)
    raise RuntimeError(f"{zone} changed its clocks in none of the last 800 days")


def dst_days(today: date | None = None) -> list[date]:
    """The day before the zone's latest clock change, the day of it and the day after."""
    change = latest_clock_change(DST_ZONE, today or utc_today())
    return [change - timedelta(days=1), change, change + timedelta(days=1)]


def utc_today() -> date:
    from django.utils import timezone

    return timezone.now().date()


def retention_spanning_dst() -> dict[str, str]:
    """``RETENTION_DAYS`` so that the first sync's backfill starts before the day before the
    change (one day spare, should the date turn while the scenario runs)."""
    first = dst_days()[0]
    return {"RETENTION_DAYS": str((utc_today() - first).days + 2)}


def dst_one_row_per_campaign_day(chaos: Chaos) -> str | None:
    """Around the change, each campaign the sandbox serves has exactly one row a day, and every row
    carries the account's zone."""
    from etl.models import AdPerformanceDaily
    from sandbox.google_ads.catalogue import expected_daily_rows

    days = dst_days()
    run = chaos.runs()[-1]
    if not (run.window_start <= days[0] and days[-1] <= run.window_end):
        return f"the window {run.window_start}..{run.window_end} does not span {days[0]}..{days[-1]}"
    rows = AdPerformanceDaily.objects.filter(connection_id=chaos.connection_id)
    zones = set(rows.values_list("account_time_zone", flat=True))
    reasons = (
        [f"rows carry the zones {sorted(map(str, zones))}, expected {DST_ZONE}"]
        if zones != {DST_ZONE}
        else []
    )
    per_day = []
    for day in days:
        served = Counter(r["campaign_id"] for r in expected_daily_rows(DST_ACCOUNT, day, day))
        loaded = Counter(rows.filter(date=day).values_list("campaign_id", flat=True))
        per_day.append(f"{day}: {sum(loaded.values())} row(s) for {len(served)} campaign(s)")
        if not served:
            reasons.append(f"the sandbox serves no campaign on {day}")
        elif loaded != served:
            reasons.append(f"{day}: loaded {dict(loaded)}, expected one row for each of {sorted(served)}")
    chaos.facts["rows per day around the change"] = "; ".join(per_day)
    return "; ".join(reasons) or None

"""Kill-and-rerun scenarios on the embedded default: no worker, no broker, SQLite.

In the embedded default ``manage.py start_background_syncs`` runs every step of a sync in its own
process. Each scenario migrates a SQLite file, registers the sandbox account with ``add_connection``,
starts the command, and SIGKILLs it at a known point:

- mid-extract: while the sandbox holds the platform's main data request (a ``hold`` fault);
- mid-load: through ``chaos_manage`` (``manage.py`` with the load hook connected), once the load has
  written its rows and holds SQLite's write lock, inside its transaction.

Then the same command runs again at once. It must exit 0; the SQLite file must hold exactly the
rows the sandbox serves for the run's window, none twice; and the killed run must be closed as
failed with a reason a person can read, because its owner process is gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos_faults import HOLD_CAP_SECONDS, REACH_TIMEOUT
from chaos_hooks import HookFiles
from chaos_measure import PLATFORMS, Outcome, Tally, rows_failures, tally
from chaos_run import start_sandbox
from harness import wait_until

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ALIAS = "embedded"
COMMAND_TIMEOUT = 600


@dataclass
class EmbeddedScenario:
    name: str
    what: str
    platform: str
    kill_at: str  # "extract" or "load"

    def run(self, work_dir: Path) -> Outcome:
        return run_embedded_scenario(self, work_dir)


def embedded_kill_scenarios() -> list[EmbeddedScenario]:
    extract = [
        EmbeddedScenario(
            f"embedded-kill-extract-{platform}",
            f"embedded command SIGKILLed while the sandbox holds {spec.data_path}, then run again",
            platform,
            "extract",
        )
        for platform, spec in PLATFORMS.items()
    ]
    load = EmbeddedScenario(
        "embedded-kill-load-linkedin_ads",
        "embedded command SIGKILLed at the load hook (rows written, SQLite write lock held), then run again",
        "linkedin_ads",
        "load",
    )
    return [*extract, load]


# --------------------------------------------------------------------------- the embedded command


def embedded_env(sandbox_env: dict[str, str], home: Path, database: Path) -> dict[str, str]:
    """The embedded default: SQLite, no broker (tasks in-process), no Redis (a local cache)."""
    from django.conf import settings

    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    return {
        **{k: v for k, v in os.environ.items() if k in keep},
        **sandbox_env,
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.base",
        "DATABASE_URL": f"sqlite:///{database}",
        "VAR_DIR": str(home / "var"),
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "DJANGO_SECRET_KEY": "chaos-suite-secret-key-not-for-production",
        "HTTP_BACKOFF_BASE_SECONDS": "0.05",
        "HTTP_BACKOFF_MAX_SECONDS": "0.2",
    }


def manage(*args: str, hooked: bool = False) -> list[str]:
    script = BENCH / "chaos_manage.py" if hooked else ROOT / "manage.py"
    return [sys.executable, str(script), *args]


def run_command(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def command_said(done: subprocess.CompletedProcess[str]) -> str:
    """The command's last word: its summary's last line, or its error (the progress bar is on stderr)."""
    return last_line(done.stderr if done.returncode else done.stdout)


def migrated_template(work_dir: Path) -> Path:
    """A migrated SQLite file, made once per suite run and copied for each scenario."""
    template = work_dir / "embedded-template.sqlite3"
    if not template.exists():
        env = embedded_env({}, work_dir / "embedded-template", template)
        done = run_command(manage("migrate", "--no-input", "-v", "0"), env)
        if done.returncode != 0:
            raise RuntimeError(f"migrate failed: {done.stdout}{done.stderr}")
    return template


def add_connection(platform: str, env: dict[str, str]) -> int:
    """Register the sandbox account the way an operator does, without trying the credentials."""
    spec = PLATFORMS[platform]
    args = ["add_connection", "--org", "chaos", "--platform", platform, "--account-id", spec.account_id]
    args += [f"--credential={key}={value}" for key, value in spec.credentials().items()]
    args += [f"--option={key}={value}" for key, value in spec.options.items()]
    done = run_command(manage(*args, "--no-check"), env)
    if done.returncode != 0:
        raise RuntimeError(f"add_connection failed: {done.stdout}{done.stderr}")
    return int(last_line(done.stdout))


# --------------------------------------------------------------------------- one scenario


def run_embedded_scenario(scenario: EmbeddedScenario, work_dir: Path) -> Outcome:
    started = time.monotonic()
    home = work_dir / scenario.name
    home.mkdir(parents=True, exist_ok=True)
    database = home / "embedded.sqlite3"
    log = home / "killed-command.log"
    server = start_sandbox(scenario.platform)
    try:
        shutil.copyfile(migrated_template(work_dir), database)
        env = embedded_env(server.env(), home, database)
        connection_id = add_connection(scenario.platform, env)
        facts = {"killed": kill_first_sync(scenario, server.app, env, home, log)}
        rerun = run_command(manage("start_background_syncs", "--platform", scenario.platform), env)
        facts["rerun"] = f"exit {rerun.returncode}: {command_said(rerun)}"
        with embedded_database(database) as using:
            return measure(
                scenario, server.app, connection_id, rerun, facts, using, time.monotonic() - started
            )
    except Exception as exc:
        return Outcome.error(
            exc, time.monotonic() - started, log.read_text(errors="replace") if log.exists() else ""
        )
    finally:
        server.stop()


@dataclass(frozen=True)
class KillPoint:
    """How the command is started so that it reaches its fault, and how to tell it has."""

    command: list[str]
    env: dict[str, str]
    reached: Callable[[], object]
    where: str


def kill_point(scenario: EmbeddedScenario, app: Any, env: dict[str, str], hooks: HookFiles) -> KillPoint:
    if scenario.kill_at == "extract":
        path = PLATFORMS[scenario.platform].data_path
        app.faults.add("hold", times=1, path=path, seconds=HOLD_CAP_SECONDS)
        return KillPoint(
            manage("start_background_syncs", "--platform", scenario.platform),
            env,
            lambda: app.holds.reached,
            f"the sandbox to hold {path}",
        )
    return KillPoint(
        manage("start_background_syncs", "--platform", scenario.platform, hooked=True),
        {**env, **hooks.env("upsert")},
        hooks.read_marker,
        "the load hook's marker (the load holding SQLite's write lock)",
    )


def kill_first_sync(scenario: EmbeddedScenario, app: Any, env: dict[str, str], home: Path, log: Path) -> str:
    """Start the command, wait until it reaches the fault, SIGKILL it; returns what was killed."""
    hooks = HookFiles(home / "hooks")
    point = kill_point(scenario, app, env, hooks)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            point.command,
            cwd=ROOT,
            env=point.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: point.reached() or proc.poll() is not None, timeout=REACH_TIMEOUT, what=point.where
        )
        if proc.poll() is not None:
            raise RuntimeError(
                f"the command exited {proc.returncode} before reaching the fault ({point.where})"
            )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return f"command pid {proc.pid} at {scenario.kill_at} (exit {proc.returncode})"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        app.release_held()
        hooks.release()


@contextmanager
def embedded_database(path: Path) -> Iterator[str]:
    """The SQLite file as a second database of this process, for the same ORM queries."""
    from django.db import connections

    configured = connections.configure_settings(
        {
            "default": connections.settings["default"],
            ALIAS: {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)},
        }
    )
    connections.settings[ALIAS] = configured[ALIAS]
    try:
        yield ALIAS
    finally:
        connections[ALIAS].close()
        del connections[ALIAS]
        del connections.settings[ALIAS]


def measure(
    scenario: EmbeddedScenario,
    app: Any,
    connection_id: int,
    rerun: subprocess.CompletedProcess[str],
    facts: dict[str, str],
    using: str,
    seconds: float,
) -> Outcome:
    from connectors.models import Connection
    from etl.models import SyncRun

    runs = list(SyncRun.objects.using(using).filter(connection_id=connection_id).order_by("pk"))
    last = runs[-1]
    figures = tally(scenario.platform, app, connection_id, (last.window_start, last.window_end), using=using)
    state = Connection.objects.using(using).get(pk=connection_id).status
    outcome = Outcome.of(figures, runs, state, seconds)
    run_lines = [
        f"run {r.pk}: {r.status}/{r.step}, window {r.window_start}..{r.window_end}"
        + (f", {r.error_class}: {r.error_message[:160]}" if r.error_class else "")
        for r in runs
    ]
    outcome.detail = "; ".join([*run_lines, *(f"{name}: {value}" for name, value in facts.items())])
    outcome.failures = judge(app, figures, runs, rerun)
    return outcome


def judge(app: Any, figures: Tally, runs: list[Any], rerun: subprocess.CompletedProcess[str]) -> list[str]:
    """The rerun exits 0, the killed run is closed with a reason, the warehouse is exactly right."""
    failures = []
    if rerun.returncode != 0:
        failures.append(f"the rerun exited {rerun.returncode}: {command_said(rerun)}")
    killed, last = runs[0], runs[-1]
    if killed.status != "failed" or not killed.error_message:
        failures.append(
            f"the killed run is {killed.status}/{killed.step}"
            + (f" ({killed.error_message[:80]})" if killed.error_message else "")
            + ", expected closed as failed with a reason"
        )
    if len(runs) != 2:
        failures.append(f"{len(runs)} run(s), expected 2 (the killed one and the rerun's)")
    if f"{last.status}/{last.step}" != "succeeded/done":
        failures.append(f"the rerun's run ended {last.status}/{last.step}")
    if figures.served == 0:
        failures.append("the sandbox serves no row for the window, so nothing was compared")
    failures.extend(rows_failures(figures))
    if app.faults.pending():
        failures.append(f"faults not fired: {app.faults.pending()}")
    return failures

"""Everything on one machine, without Redis: a Celery worker, the one beat and the dashboard.

The worker and beat talk through kombu's filesystem transport (``CELERY_BROKER_URL=filesystem://``,
its folders under ``VAR_DIR/broker``) unless a broker is configured, so the scheduled syncs, the
02:00 cleanup and the hourly token refresh really happen; the dashboard's Sync now goes to the same
worker. The database is whatever ``DATABASE_URL`` names (the SQLite file by default).

Ctrl-C or SIGTERM stops all three (the worker finishes the step it is running, within
``STOP_WAIT_SECONDS``) and nothing is left behind. A child that stops on its own is reported and the
others keep running (Sync health then shows the scheduler or the worker as gone); the exit status
is 1 when that happened, 0 otherwise. ``make demo`` and ``make serve`` run this command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.services import periodic_tasks_install

STOP_WAIT_SECONDS = 30.0
EMBEDDED_BROKER_URL = "filesystem://"
MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """Linux: the child gets SIGTERM if this command dies without stopping it (SIGKILL, a crash)."""
    os.setsid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Command(BaseCommand):
    help = (
        "Run a Celery worker, the beat scheduler and the dashboard on this machine, without Redis "
        "(the embedded broker under var/broker/). Ctrl-C stops them all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="The dashboard's address (127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="The dashboard's port (8000).")
        parser.add_argument(
            "--no-web", action="store_true", help="Only the worker and beat (the web is served elsewhere)."
        )
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes (2).")
        parser.add_argument(
            "--schedule-every",
            type=int,
            metavar="SECONDS",
            help="A short test schedule while it runs: every beat entry every SECONDS seconds; the "
            "declared times are installed again when it stops.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        every = options["schedule_every"]
        if every is not None and every < 1:
            raise CommandError("--schedule-every needs a number of seconds of at least 1")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency needs at least 1")
        env = dict(os.environ)
        broker = env.get("CELERY_BROKER_URL") or EMBEDDED_BROKER_URL
        env["CELERY_BROKER_URL"] = broker
        var_dir = Path(settings.VAR_DIR)
        var_dir.mkdir(parents=True, exist_ok=True)

        if every:
            periodic_tasks_install(every_seconds=every)
            self.stdout.write(f"Test schedule: every beat entry every {every} s until this stops.")
        celery = [sys.executable, "-m", "celery", "-A", "sales_dashboard"]
        commands: dict[str, list[str]] = {
            "worker": [
                *celery,
                "worker",
                "--loglevel=INFO",
                f"--concurrency={options['concurrency']}",
                "--hostname=embedded@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            # The pid file keeps a second beat on this machine from starting (it would double
            # every schedule).
            "beat": [*celery, "beat", "--loglevel=INFO", f"--pidfile={var_dir / 'celerybeat.pid'}"],
        }
        if not options["no_web"]:
            address = f"{options['host']}:{options['port']}"
            commands["web"] = [sys.executable, str(MANAGE_PY), "runserver", "--noreload", address]

        runner = Children(env, self.stderr.write)
        stop_requested = False

        def request_stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stop_requested
            stop_requested = True

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for name, command in commands.items():
                runner.start(name, command)
            where = "embedded broker in var/broker/" if broker == EMBEDDED_BROKER_URL else "configured broker"
            self.stdout.write(
                f"Worker, beat{'' if options['no_web'] else ' and the dashboard'} running "
                f"({where}); Ctrl-C stops them all."
            )
            while not stop_requested:
                runner.watch()
                if "web" in commands and not runner.running("web"):
                    break  # the dashboard is what the user came for: without it, stop
                time.sleep(0.5)
        finally:
            runner.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if every:
                periodic_tasks_install()
                self.stdout.write("The declared schedule is installed again.")
        if runner.failed:
            raise CommandError(f"Stopped on its own: {', '.join(runner.failed)} (see the log above).")
        self.stdout.write("Stopped.")


class Children:
    """The child processes, each in a session of its own so a stop reaches its whole tree."""

    def __init__(self, env: dict[str, str], report: Any) -> None:
        self.env = env
        self.report = report
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.failed: list[str] = []

    def start(self, name: str, command: list[str]) -> None:
        self.procs[name] = subprocess.Popen(command, env=self.env, preexec_fn=_die_with_parent)

    def running(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def watch(self) -> None:
        """Report a child that stopped on its own, once."""
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is not None and name not in self.failed:
                self.failed.append(name)
                self.report(f"The {name} stopped on its own (exit status {code}); the others keep running.")

    def stop_all(self) -> None:
        # SIGTERM to each main process only: the worker stops taking work and lets its pool finish
        # the running steps (a warm shutdown); a pool process signalled directly would die mid-step.
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # A worker's pool processes are in its session: none may outlive it.
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

"""Serve every platform's sandbox API on loopback and print how to point the app at them.

The sandbox (``sandbox/``, the fakes of the platform APIs) is a test and demo tool of the source
checkout: the installed package does not ship it, and this command says so when it is missing.

Each platform has a fixed port (8701 and up, in the sandbox's ``PORT_ORDER``), so the URLs stay
the same from one demo to the next. A fixed port that something else already uses is replaced by a
free one, and the command says which; ``--port-base`` (``make demo SANDBOX_PORT_BASE=...``) asks for
other ports, and those are used exactly or not at all. Whatever was chosen is written to
``var/sandbox.env``, which ``make demo`` and ``make sync`` read.

``--detach`` runs the sandbox in the background and keeps its pid in ``var/sandbox.pid``; a pid file
whose sandbox is no longer running (killed, or the machine restarted) is removed, not trusted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.registry import get_connector_class, platforms

if TYPE_CHECKING:
    from types import ModuleType

STOP_WAIT_SECONDS = 10.0
NOT_INSTALLED = (
    "The sandbox is not installed: it is a test and demo tool that comes with a source checkout of "
    "the project (the sandbox/ folder beside manage.py), not with the installed package. Run this "
    "command from a source checkout (`make demo` does)."
)


def sandbox_serve() -> ModuleType:
    """``sandbox.serve``, or a clear error where the sandbox is not installed."""
    try:
        from sandbox import serve
    except ModuleNotFoundError as exc:
        if exc.name != "sandbox":
            raise
        raise CommandError(NOT_INSTALLED) from None
    return serve


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _sandbox_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` when that process is running and is a sandbox, else None.

    The pid of a sandbox that died may have been given to another process since: where the
    system shows a process's command line (``/proc``), it must be this command's.
    """
    try:
        pid = int(pid_file.read_text().strip() or 0)
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        return pid if b"run_sandbox" in cmdline.read_bytes() else None
    except FileNotFoundError:
        return pid  # no /proc here: a live pid is all there is to go on
    except OSError:
        return None


def _stale_pid(pid_file: Path) -> str:
    """The pid recorded in ``pid_file``, as text, for the message that says it was stale."""
    try:
        return pid_file.read_text().strip() or "?"
    except OSError:
        return "?"


def _write_atomically(path: Path, text: str) -> None:
    """Readers (``make demo`` sources the env file as soon as it exists) never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


class Command(BaseCommand):
    help = "Serve the sandbox APIs of every platform on loopback (for the demo and for trying the app)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--port-base",
            type=int,
            default=None,
            help=(
                "First port, one port per platform, used exactly (default: the sandbox's fixed ports, 8701 "
                "and up, where a port already in use is replaced by a free one)."
            ),
        )
        parser.add_argument(
            "--env-file",
            default=str(Path(settings.VAR_DIR) / "sandbox.env"),
            help="Where to write the environment that points the app at the sandbox.",
        )
        parser.add_argument("--detach", action="store_true", help="Run in the background (pid in var/).")
        parser.add_argument("--stop", action="store_true", help="Stop a background sandbox.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["host"] not in {"127.0.0.1", "localhost", "::1"}:
            raise CommandError("The sandbox only listens on loopback.")
        pid_file = Path(settings.VAR_DIR) / "sandbox.pid"
        if options["stop"]:
            self._stop(pid_file)
            return
        if options["detach"]:
            self._detach(pid_file, options)
            return
        serve = sandbox_serve()
        explicit = options["port_base"] is not None
        base = options["port_base"] if explicit else serve.DEFAULT_PORT_BASE
        ports = serve.sandbox_ports(platforms(), base)
        try:
            servers = serve.serve_sandboxes(
                platforms(), host=options["host"], ports=ports, free_port_when_taken=not explicit
            )
        except OSError as exc:
            raise CommandError(
                f"Could not listen on the sandbox ports {base}-{base + len(ports) - 1} ({exc}); "
                "is another sandbox running? Choose other ports with --port-base "
                "(make demo SANDBOX_PORT_BASE=...), or leave it out to use free ports."
            ) from None
        lines = []
        for platform, server in servers.items():
            name = get_connector_class(platform).display_name
            wanted = ports.get(platform)
            moved = ""
            if wanted and server.port != wanted:
                moved = f"  (port {wanted} is in use; a free port instead)"
            self.stdout.write(f"{name:<14} {server.url}{moved}")
            lines += [f"{key}={value}" for key, value in {**server.env(), **server.app.demo_env()}.items()]
        env_file = Path(options["env_file"])
        self.stdout.write(f"\nEnvironment for the app written to {env_file}:\n" + "\n".join(lines))
        self.stdout.write("\nServing until interrupted (Ctrl-C).")
        self.stdout.flush()
        # Written last: a detached start waits for this file, then reports what was printed above.
        _write_atomically(env_file, "\n".join(lines) + "\n")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for server in servers.values():
                server.stop()

    def _detach(self, pid_file: Path, options: dict[str, Any]) -> None:
        sandbox_serve()  # missing: say so here, not from the background
        env_file = Path(options["env_file"])
        running = _sandbox_pid(pid_file)
        if running is not None and env_file.is_file():
            self.stdout.write(f"Sandbox already running (pid {running}); env in {env_file}")
            return
        if running is not None:  # alive, but its environment is gone: start afresh
            self._terminate(running)
            self.stdout.write(f"Stopped the sandbox (pid {running}) whose {env_file} was missing.")
        elif pid_file.is_file():
            self.stdout.write(
                f"Removed {pid_file}: its sandbox (pid {_stale_pid(pid_file)}) is no longer running."
            )
        pid_file.unlink(missing_ok=True)
        env_file.unlink(missing_ok=True)
        log_path = Path(settings.VAR_DIR) / "sandbox.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
        started_at = log.tell()
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "run_sandbox",
            "--host",
            options["host"],
            "--env-file",
            str(env_file),
        ]
        if options["port_base"] is not None:
            command += ["--port-base", str(options["port_base"])]
        child = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        log.close()
        pid_file.write_text(str(child.pid))
        deadline = time.monotonic() + 30
        while not env_file.is_file():
            if child.poll() is not None or time.monotonic() > deadline:
                if child.poll() is None:
                    self._terminate(child.pid)
                pid_file.unlink(missing_ok=True)
                said = self._child_output(log_path, started_at).strip().splitlines()
                why = f": {said[-1].removeprefix('CommandError: ')}" if said else ""
                raise CommandError(f"The sandbox did not start{why} (see {log_path})")
            time.sleep(0.1)
        # What the child printed before writing the env file: each platform's URL, and any port
        # that was in use and replaced.
        report = self._child_output(log_path, started_at).split("\nEnvironment for the app")[0].strip()
        if report:
            self.stdout.write(report)
        self.stdout.write(f"Sandbox running in the background (pid {child.pid}); env in {env_file}")

    @staticmethod
    def _child_output(log_path: Path, offset: int) -> str:
        with open(log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    @staticmethod
    def _terminate(pid: int) -> None:
        """SIGTERM, then wait for the sandbox to close its ports (SIGKILL if it does not)."""
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                # Reap it when it is our own child (a detach that failed); otherwise poll.
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:
                if not _alive(pid):
                    return
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)

    def _stop(self, pid_file: Path) -> None:
        if not pid_file.is_file():
            self.stdout.write("No background sandbox.")
            return
        pid = _sandbox_pid(pid_file)
        if pid is None:
            self.stdout.write(
                f"No background sandbox: removed {pid_file}, whose sandbox (pid {_stale_pid(pid_file)}) "
                "was no longer running."
            )
            pid_file.unlink(missing_ok=True)
            return
        self._terminate(pid)
        pid_file.unlink(missing_ok=True)
        self.stdout.write(f"Sandbox (pid {pid}) stopped.")

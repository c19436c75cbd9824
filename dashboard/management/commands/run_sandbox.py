"""Serve every platform's sandbox API on loopback and print how to point the app at them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.registry import PLATFORM_NAMES, platforms
from connectors.sandbox import serve_sandboxes


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


class Command(BaseCommand):
    help = "Serve the sandbox APIs of every platform on loopback (for the demo and for trying the app)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port-base", type=int, default=8701, help="First port; one port per platform.")
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
        ports = {p: options["port_base"] + i for i, p in enumerate(PLATFORM_NAMES)}
        try:
            servers = serve_sandboxes(platforms(), host=options["host"], ports=ports)
        except OSError as exc:
            raise CommandError(
                f"Could not listen on the sandbox ports ({exc}); is another sandbox running?"
            ) from None
        lines = []
        for platform, server in servers.items():
            self.stdout.write(f"{PLATFORM_NAMES.get(platform, platform):<14} {server.url}")
            lines += [f"{key}={value}" for key, value in server.app.env(server.url).items()]
        env_file = Path(options["env_file"])
        env_file.parent.mkdir(parents=True, exist_ok=True)
        env_file.write_text("\n".join(lines) + "\n")
        self.stdout.write(f"\nEnvironment for the app written to {env_file}:\n" + "\n".join(lines))
        self.stdout.write("\nServing until interrupted (Ctrl-C).")
        self.stdout.flush()
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
        env_file = Path(options["env_file"])
        if pid_file.is_file() and _alive(int(pid_file.read_text().strip() or 0)) and env_file.is_file():
            self.stdout.write(
                f"Sandbox already running (pid {pid_file.read_text().strip()}); env in {env_file}"
            )
            return
        env_file.unlink(missing_ok=True)
        log = open(Path(settings.VAR_DIR) / "sandbox.log", "ab")  # noqa: SIM115 - handed to the child
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "run_sandbox",
            "--host",
            options["host"],
            "--port-base",
            str(options["port_base"]),
            "--env-file",
            str(env_file),
        ]
        child = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        pid_file.write_text(str(child.pid))
        deadline = time.monotonic() + 30
        while not env_file.is_file():
            if child.poll() is not None or time.monotonic() > deadline:
                raise CommandError(f"The sandbox did not start; see {log.name}")
            time.sleep(0.1)
        self.stdout.write(f"Sandbox running in the background (pid {child.pid}); env in {env_file}")

    def _stop(self, pid_file: Path) -> None:
        if not pid_file.is_file():
            self.stdout.write("No background sandbox.")
            return
        pid = int(pid_file.read_text().strip() or 0)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM)
        pid_file.unlink(missing_ok=True)
        self.stdout.write(f"Sandbox (pid {pid}) stopped.")

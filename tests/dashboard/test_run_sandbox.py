"""``manage.py run_sandbox --detach`` as ``make demo`` runs it: fixed ports that are taken are
replaced by free ones (and said so), and a pid file left by a dead sandbox is cleaned up."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from connectors.registry import platforms
from sandbox.serve import sandbox_ports
from tenancy.models import Organization

ROOT = Path(__file__).resolve().parents[2]
LINKEDIN_PORT = sandbox_ports(platforms())["linkedin_ads"]


def sandbox_command(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.base",
        "VAR_DIR": str(var_dir),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "run_sandbox", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    pid_file = tmp_path / "sandbox.pid"
    if pid_file.is_file():  # a failed test must not leave a sandbox running
        sandbox_command(tmp_path, "--stop")


@pytest.fixture
def linkedin_port_taken() -> Iterator[None]:
    """LinkedIn's fixed sandbox port in use by something else (if it is not already)."""
    with socket.socket() as busy:
        try:
            busy.bind(("127.0.0.1", LINKEDIN_PORT))
            busy.listen()
        except OSError:
            pass  # already taken on this machine: the case under test anyway
        yield


def test_a_taken_port_is_replaced_by_a_free_one_and_the_sandbox_works(
    var_dir: Path, linkedin_port_taken: None
) -> None:
    started = sandbox_command(var_dir, "--detach")
    assert started.returncode == 0, started.stderr
    moved = re.search(r"LinkedIn Ads +http://127\.0\.0\.1:(\d+) +\(port (\d+) is in use", started.stdout)
    assert moved, started.stdout
    assert int(moved.group(2)) == LINKEDIN_PORT and int(moved.group(1)) != LINKEDIN_PORT
    assert "Sandbox running in the background" in started.stdout

    env = read_env(var_dir / "sandbox.env")
    assert env["LINKEDIN_ADS_API_BASE_URL"] == f"http://127.0.0.1:{moved.group(1)}"
    # The sandbox answers there as LinkedIn would: no token, 401.
    answer = requests.get(env["LINKEDIN_ADS_API_BASE_URL"] + "/rest/adAccounts/508000001", timeout=10)
    assert answer.status_code == 401

    pid = int((var_dir / "sandbox.pid").read_text())
    stopped = sandbox_command(var_dir, "--stop")
    assert f"Sandbox (pid {pid}) stopped." in stopped.stdout
    assert not (var_dir / "sandbox.pid").exists()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the sandbox (pid {pid}) is still running after --stop")


def test_a_stale_pid_file_is_removed_not_trusted(var_dir: Path) -> None:
    pid_file = var_dir / "sandbox.pid"
    pid_file.write_text(str(dead_pid()))
    stopped = sandbox_command(var_dir, "--stop")
    assert stopped.returncode == 0 and "was no longer running" in stopped.stdout
    assert not pid_file.exists()

    # A stale pid file and the env file of the dead sandbox: a new sandbox starts, with a new env.
    stale = dead_pid()
    pid_file.write_text(str(stale))
    (var_dir / "sandbox.env").write_text("LINKEDIN_ADS_API_BASE_URL=http://127.0.0.1:9\n")
    started = sandbox_command(var_dir, "--detach")
    assert started.returncode == 0, started.stderr
    assert f"its sandbox (pid {stale}) is no longer running" in started.stdout
    new_pid = int(pid_file.read_text())
    assert new_pid != stale
    os.kill(new_pid, 0)  # running
    assert read_env(var_dir / "sandbox.env")["LINKEDIN_ADS_API_BASE_URL"] != "http://127.0.0.1:9"
    os.kill(new_pid, signal.SIGTERM)


def test_a_sandbox_that_cannot_start_leaves_no_pid_file(var_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # Ports asked for explicitly are used exactly or not at all.
        failed = sandbox_command(var_dir, "--detach", "--port-base", str(port))
    assert failed.returncode != 0
    assert "The sandbox did not start: Could not listen on the sandbox ports" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (var_dir / "sandbox.pid").exists() and not (var_dir / "sandbox.env").exists()


@pytest.mark.parametrize("command", ["run_sandbox", "demo_setup"])
def test_without_the_sandbox_installed_the_commands_say_so(
    command: str, monkeypatch: pytest.MonkeyPatch, db: None
) -> None:
    """An installed package has no sandbox (the wheel does not ship it): one clear line, no traceback."""
    for name in [name for name in sys.modules if name == "sandbox" or name.startswith("sandbox.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sandbox", None)  # as if it were not there
    with pytest.raises(CommandError, match="The sandbox is not installed: .* source checkout"):
        call_command(command, stdout=StringIO(), stderr=StringIO())
    assert not Organization.objects.exists()  # demo_setup stopped before creating anything

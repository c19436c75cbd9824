"""Bad input to the management commands, run as an operator runs them (``python manage.py ...`` in a
subprocess): a one-line ``CommandError: ...`` on stderr, a non-zero exit, never a traceback, and
nothing written.

No command takes dates, so there are no bad dates to give them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection as db

from connectors.models import Connection
from connectors.registry import platforms
from sandbox.core import SandboxServer
from sandbox.serve import create_sandbox, has_sandbox
from tenancy.models import Organization

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, never listened to, so no one else takes it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert db.vendor == "postgresql", "the commands run in a subprocess against the test database"
    conf = db.settings_dict
    database_url = f"postgres://{conf['USER']}@{conf['HOST']}:{conf['PORT'] or 5432}/{conf['NAME']}"
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VAR_DIR"}}
    full_env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.test",
        "DATABASE_URL": database_url,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("CommandError: ") and message in lines[0], lines[0]


ADD = ["add_connection", "--org", "acme", "--account-id", "508000001"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "nope", "--credential", "a=b"], "Unknown platform 'nope'; available: "),
        (["--platform", "linkedin_ads", "--credential", "refresh_token"], "--credential expects key=value"),
        (["--platform", "linkedin_ads", "--credential", "=x"], "--credential expects key=value"),
        (
            ["--platform", "linkedin_ads", "--credential", "refresh_token=x", "--option", "oops"],
            "--option expects key=value",
        ),
        (["--platform", "linkedin_ads", "--credential", "password=x"], "does not take credential(s)"),
        (["--platform", "linkedin_ads"], "Give at least one --credential"),
        (["--platform", "linkedin_ads", "--credential", "refresh_token=x", "--org", "Not a slug!"],
         "--org expects an organization slug"),  # fmt: skip
        (["--platform", "linkedin_ads", "--credential", "refresh_token=x", "--account-id", " "],
         "--account-id must not be empty"),  # fmt: skip
    ],
)
def test_add_connection_refuses_malformed_input(args: list[str], message: str) -> None:
    assert_one_line_error(manage(*ADD, "--no-check", *args), message)
    assert not Connection.objects.exists() and not Organization.objects.exists()


def test_add_connection_refuses_credentials_the_platform_rejects(linkedin_sandbox: SandboxServer) -> None:
    result = manage(
        *ADD, "--platform", "linkedin_ads", "--credential", "refresh_token=wrong", env=linkedin_sandbox.env()
    )
    assert_one_line_error(result, "The credentials did not work: ")
    assert "wrong" not in result.stderr  # the rejected secret is not echoed either
    assert not Connection.objects.exists() and not Organization.objects.exists()


def test_add_connection_when_the_platform_cannot_be_reached(
    linkedin_sandbox: SandboxServer, closed_port: int
) -> None:
    env = {**linkedin_sandbox.env(), "LINKEDIN_ADS_TOKEN_URL": f"http://127.0.0.1:{closed_port}/token"}
    result = manage(*ADD, "--platform", "linkedin_ads", "--credential", "refresh_token=x", env=env)
    assert_one_line_error(result, "could not be reached")
    assert not Connection.objects.exists() and not Organization.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "nope"], "Unknown platform 'nope'"),
        (["--org", "nope"], "Unknown organization 'nope'"),
    ],
)
def test_start_background_syncs_refuses_unknown_names(args: list[str], message: str) -> None:
    assert_one_line_error(manage("start_background_syncs", *args), message)


def test_demo_setup_without_the_sandbox_says_what_to_do(closed_port: int) -> None:
    env: dict[str, Any] = {}
    for platform in filter(has_sandbox, platforms()):
        app = create_sandbox(platform)
        env.update(app.env(f"http://127.0.0.1:{closed_port}"))
        app.close()
    assert_one_line_error(manage("demo_setup", env=env), "is the sandbox running")
    assert not Connection.objects.exists()


def test_run_sandbox_refuses_a_public_address_and_a_busy_port(tmp_path: Path) -> None:
    assert_one_line_error(manage("run_sandbox", "--host", "0.0.0.0"), "only listens on loopback")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = manage("run_sandbox", "--port-base", str(port), "--env-file", str(tmp_path / "sandbox.env"))
    assert_one_line_error(result, "Could not listen on the sandbox ports")
    assert not (tmp_path / "sandbox.env").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["add_connection"],
        ["start_background_syncs", "--timeout", "soon"],
        ["run_sandbox", "--port-base", "high"],
    ],
)
def test_argument_errors_end_with_the_error_and_no_traceback(args: list[str]) -> None:
    result = manage(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"manage.py {args[0]}: error: "), last

"""OAuth authorization codes stay out of every log.

The platform sends the browser back to ``/connections/oauth/callback/?code=...&state=...``; the
request line of that callback (and the Referer of anything the callback page loads) would put the
code in the access log. Both servers the project runs are started here for real, as deployed:
gunicorn with the Dockerfile's own command line (``--logger-class`` scrubs the access log) and
``runserver`` (the ``django.server`` logger goes through the same scrubbing filter).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.test import Client
from django.urls import reverse

from sales_dashboard.logging import StructuredFormatter

ROOT = Path(__file__).resolve().parents[2]
CODE = "AUTHCODEsecret0123456789"
STATE = "STATEvalue0123456789"
CALLBACK = f"/connections/oauth/callback/?code={CODE}&state={STATE}"
LOGGER_CLASS = "sales_dashboard.access_log.AccessLogger"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.base",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'logs.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
    }


def wait_until_serving(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {log.read_text()}")
        try:
            requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    pytest.fail(f"the server did not start: {log.read_text()}")


def visit_the_callback(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    assert requests.get(base + CALLBACK, allow_redirects=False, timeout=10).status_code == 302
    # What the callback page's stylesheet request would carry.
    requests.get(base + "/accounts/login/", headers={"Referer": base + CALLBACK}, timeout=10)


def logged(log: Path, expected: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = log.read_text()
        if text.count(expected) >= 1 and "/accounts/login/" in text.split(expected, 1)[1]:
            return text
        time.sleep(0.1)
    return log.read_text()


def run_server(args: list[str], port: int, tmp_path: Path) -> str:
    log = tmp_path / "server.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(args, cwd=ROOT, env=server_env(tmp_path), stdout=handle, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(port, process, log)
            visit_the_callback(port)
            return logged(log, "/connections/oauth/callback/")
        finally:
            process.terminate()
            process.wait(timeout=30)


def dockerfile_gunicorn_args() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^CMD (\[.*?\])\s*$", text.replace("\\\n", " "), re.MULTILINE | re.DOTALL)
    assert match, "the Dockerfile's CMD"
    args = json.loads(match.group(1))
    assert args[0] == "gunicorn"
    return args


def test_gunicorn_as_the_image_runs_it_logs_no_code(tmp_path: Path) -> None:
    args = dockerfile_gunicorn_args()
    port = free_port()
    args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    args[0] = str(Path(sys.executable).with_name("gunicorn"))
    output = run_server([*args, "--workers", "1"], port, tmp_path)
    assert '"GET /connections/oauth/callback/' in output, output  # the request is logged, without its query
    assert CODE not in output and STATE not in output, output


def test_runserver_logs_no_code(tmp_path: Path) -> None:
    port = free_port()
    args = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]
    output = run_server(args, port, tmp_path)
    assert "GET /connections/oauth/callback/" in output, output
    assert CODE not in output and STATE not in output, output


def test_every_deployed_gunicorn_scrubs_its_access_log() -> None:
    commands = {
        "Dockerfile": " ".join(dockerfile_gunicorn_args()),
        "systemd": (ROOT / "deploy/systemd/sales-dashboard-web.service").read_text().replace("\\\n", " "),
        "supervisor": (ROOT / "deploy/supervisor/sales-dashboard.conf").read_text(),
    }
    for where, text in commands.items():
        lines = [line for line in text.splitlines() if "gunicorn sales_dashboard.wsgi" in line]
        assert lines, where
        for line in lines:
            assert "--access-logfile" in line and f"--logger-class {LOGGER_CLASS}" in line, where


def test_scrub_access_line() -> None:
    from sales_dashboard.logging import scrub_access_line

    line = f'127.0.0.1 - - "GET {CALLBACK} HTTP/1.1" 302 0 "https://h{CALLBACK}" "UA"'
    scrubbed = scrub_access_line(line)
    assert CODE not in scrubbed and STATE not in scrubbed
    assert scrubbed.count("/connections/oauth/callback/?[scrubbed]") == 2
    assert scrub_access_line("GET /sync/?connection=3 HTTP/1.1") == "GET /sync/?connection=3 HTTP/1.1"


@pytest.mark.django_db
def test_a_refused_callback_logs_no_code() -> None:
    """Django's own warning for the 400 carries the request; the code in it is scrubbed too."""
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        from tenancy.models import Membership
        from tests.dashboard import PASSWORD, make_org, make_user

        make_user("reader", organization=make_org("Northwind"))
        Membership.objects.update(role=Membership.Role.ADMIN)
        client = Client()
        assert client.login(username="reader", password=PASSWORD)
        assert client.get(reverse("dashboard:oauth_callback"), {"code": CODE, "state": STATE}).status_code == 400
    finally:
        logger.removeHandler(handler)
    assert "Bad Request" in stream.getvalue() and CODE not in stream.getvalue()

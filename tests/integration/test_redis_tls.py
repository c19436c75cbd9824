"""Redis with a password and TLS (``rediss://``) for the cache, the broker and the result backend.

The test makes a certificate authority and a server certificate, starts its own ``redis-server``
that speaks only TLS and requires a password, and then configures the project the way production
does: environment variables read by the settings modules, in separate processes. It proves that
Redis refuses a missing or wrong password, that the Django cache stores and reads a value through
TLS, and that a real Celery worker takes a task from the TLS broker and hands its result back
through the TLS result backend.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings as django_settings

from tests.integration.conftest import ROOT, _database_url

pytestmark = pytest.mark.worker

PASSWORD = "s3cret-broker-password"
HOST = "127.0.0.1"


# --------------------------------------------------------------------------- certificates


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path


def make_certificates(folder: Path) -> Certificates:
    """A private certificate authority and a server certificate it signed for 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = _new_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sales Dashboard test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = _new_key()
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    certificates = Certificates(folder / "ca.pem", folder / "redis.pem", folder / "redis.key")
    _write_cert(ca_cert, certificates.ca)
    _write_cert(server_cert, certificates.server_cert)
    _write_key(server_key, certificates.server_key)
    return certificates


# --------------------------------------------------------------------------- the TLS Redis server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class TlsRedis:
    port: int
    certificates: Certificates
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, db: int, password: str | None = PASSWORD) -> str:
        auth = f":{password}@" if password is not None else ""
        return f"rediss://{auth}{HOST}:{self.port}/{db}"

    def client(self, db: int = 0, password: str | None = PASSWORD) -> redis.Redis:
        return redis.Redis.from_url(
            self.url(db, password),
            ssl_ca_certs=str(self.certificates.ca),
            ssl_cert_reqs="required",
            socket_timeout=5,
        )


def _wait_until_serving(server: TlsRedis) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if server.client().ping():
                return
        except redis.ConnectionError:
            time.sleep(0.1)
    server.process.kill()
    pytest.fail(f"redis-server did not start with TLS:\n{server.log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed")
    certificates = make_certificates(tmp_path)
    port = free_port()
    log = tmp_path / "redis.log"
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            HOST,
            "--tls-cert-file",
            str(certificates.server_cert),
            "--tls-key-file",
            str(certificates.server_key),
            "--tls-ca-cert-file",
            str(certificates.ca),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
            "--maxmemory-policy",
            "noeviction",
            "--logfile",
            str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server = TlsRedis(port, certificates, process, log)
    _wait_until_serving(server)
    yield server
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def production_env(server: TlsRedis, tmp_path: Path) -> dict[str, str]:
    """What an operator sets: the rediss:// URLs with the password, and the CA to trust."""
    return {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}},
        "DJANGO_SETTINGS_MODULE": "sales_dashboard.settings.base",
        "DATABASE_URL": _database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": server.url(0),
        "REDIS_URL": server.url(1),
        "REDIS_CA_CERT": str(server.certificates.ca),
        "FIELD_ENCRYPTION_KEY": django_settings.FIELD_ENCRYPTION_KEY,
        "DJANGO_SECRET_KEY": "tls-test-secret-key-not-for-production",
        "VAR_DIR": str(tmp_path / "var"),
    }


def run_python(code: str, env: dict[str, str], timeout: float = 90) -> str:
    """Run ``code`` in a fresh interpreter that sets Django up from ``env``; return its output."""
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    return done.stdout


# --------------------------------------------------------------------------- the tests


def test_the_server_refuses_a_missing_or_wrong_password_and_plain_connections(tls_redis: TlsRedis) -> None:
    with pytest.raises(redis.AuthenticationError):
        tls_redis.client(password=None).ping()
    with pytest.raises(redis.AuthenticationError):
        tls_redis.client(password="not-the-password").ping()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(f"redis://:{PASSWORD}@{HOST}:{tls_redis.port}/0", socket_timeout=3).ping()
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        redis.Redis.from_url(tls_redis.url(0), ssl_cert_reqs="required", socket_timeout=3).ping()
    assert tls_redis.client().ping()


def test_the_settings_build_a_cache_that_works_over_tls(tls_redis: TlsRedis, tmp_path: Path) -> None:
    output = run_python(
        "from django.conf import settings\n"
        "from django.core.cache import cache\n"
        "print(settings.CACHES['default']['OPTIONS'])\n"
        "cache.set('tls-check', {'spend': 12.5}, timeout=60)\n"
        "print(cache.get('tls-check'))\n",
        production_env(tls_redis, tmp_path),
    )
    assert "{'spend': 12.5}" in output
    assert str(tls_redis.certificates.ca) in output
    stored = tls_redis.client(db=1).keys("*tls-check")
    assert stored == [b"sales_dashboard:1:tls-check"]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_over_the_tls_broker_and_returns_the_result(
    tls_redis: TlsRedis, tmp_path: Path
) -> None:
    env = production_env(tls_redis, tmp_path)
    log_path = tmp_path / "worker.log"
    with open(log_path, "ab") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "sales_dashboard",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--pool=prefork",
                "--hostname=tls-worker@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        output = run_python(
            "from sales_dashboard.celery import app\n"
            "conf = app.conf\n"
            "print('broker', conf.broker_url.split('@')[-1], bool(conf.broker_use_ssl))\n"
            "print('backend', conf.result_backend.split('@')[-1], bool(conf.redis_backend_use_ssl))\n"
            "deadline = __import__('time').monotonic() + 60\n"
            "while not app.control.ping(timeout=0.5):\n"
            "    assert __import__('time').monotonic() < deadline, 'no worker answered a ping'\n"
            "result = app.send_task('dashboard.cleanup_old_data', queue='maintenance')\n"
            "print('result', result.id, sorted(result.get(timeout=60)))\n",
            env,
            timeout=150,
        )
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, 15)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)
            worker.wait()
    worker_log = log_path.read_text(errors="replace")
    assert f"broker {HOST}:{tls_redis.port}/0 True" in output, worker_log[-3000:]
    assert f"backend {HOST}:{tls_redis.port}/1 True" in output
    task_id = next(line.split()[1] for line in output.splitlines() if line.startswith("result "))
    assert "result" in output and "succeeded" in worker_log and task_id in worker_log
    assert f"rediss://:**@{HOST}:{tls_redis.port}/0" in worker_log  # the worker's banner: TLS broker
    assert tls_redis.client(db=1).exists(f"celery-task-meta-{task_id}")

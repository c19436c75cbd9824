"""The sandbox's ``hold`` fault: a request is kept unanswered until the test releases it (or a cap
passes), and the test can wait until a request is being held, so it acts exactly while a request
is in flight. Both transports: the HTTP fakes and the Google Ads gRPC fake."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import grpc
import pytest
import requests

from sandbox.core import FakeApi, SandboxRequest, SandboxResponse, SandboxServer, json_response, route
from sandbox.google_ads import create_app as create_google_ads
from sandbox.google_ads import grpc_service as wire

pytestmark = pytest.mark.embedded

TIMEOUT = 10


class Echo(FakeApi):
    platform = "echo"

    @route("GET", r"^/data$")
    def data(self, request: SandboxRequest) -> SandboxResponse:
        return json_response(200, {"ok": True})


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(Echo()) as served:
        yield served


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def get(server: SandboxServer, path: str = "/data") -> requests.Response:
    return requests.get(server.url + path, timeout=TIMEOUT)


def test_a_held_request_is_answered_only_once_released(
    server: SandboxServer, pool: ThreadPoolExecutor
) -> None:
    server.app.faults.add("hold", path="/data", seconds=30)
    answer = pool.submit(get, server)

    assert server.app.holds.wait_until_held(timeout=TIMEOUT)
    time.sleep(0.2)
    assert not answer.done() and server.app.holds.holding == 1

    assert server.app.release_held() == 1
    assert answer.result(timeout=TIMEOUT).status_code == 200
    assert server.app.holds.holding == 0 and server.app.holds.reached == 1
    assert get(server).status_code == 200  # the fault fired once and is gone
    assert server.app.faults.pending() == []


def test_a_hold_ends_by_itself_after_its_cap(server: SandboxServer) -> None:
    server.app.faults.add("hold", path="/data", seconds=0.3)
    started = time.monotonic()

    assert get(server).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_only_matching_requests_are_held(server: SandboxServer) -> None:
    server.app.faults.add("hold", path="/elsewhere", seconds=30)

    assert get(server).status_code == 200
    assert server.app.holds.reached == 0
    assert not server.app.holds.wait_until_held(timeout=0.1)


def test_stopping_the_server_releases_a_held_request(pool: ThreadPoolExecutor) -> None:
    server = SandboxServer(Echo())
    server.app.faults.add("hold", path="/data", seconds=60)
    answer: Future[Any] = pool.submit(get, server)
    assert server.app.holds.wait_until_held(timeout=TIMEOUT)

    server.stop()

    assert answer.result(timeout=TIMEOUT).status_code == 200
    assert server.app.holds.holding == 0


@pytest.mark.parametrize("seconds", ["soon", 0, -1, True])
def test_a_hold_needs_a_positive_number_of_seconds(server: SandboxServer, seconds: Any) -> None:
    refused = requests.post(
        f"{server.url}/_sandbox/faults", json={"kind": "hold", "seconds": seconds}, timeout=TIMEOUT
    )

    assert refused.status_code == 400
    assert "hold needs a positive numeric 'seconds'" in refused.text
    assert server.app.faults.pending() == []


def test_a_hold_is_planned_through_the_control_endpoint(server: SandboxServer) -> None:
    planned = requests.post(
        f"{server.url}/_sandbox/faults", json={"kind": "hold", "path": "/data", "seconds": 5}, timeout=TIMEOUT
    )

    assert planned.status_code == 201
    assert planned.json()["faults"] == [
        {"kind": "hold", "times": 1, "after": 0, "path": "/data", "seconds": 5}
    ]


def test_the_google_ads_grpc_fake_holds_a_call_too(pool: ThreadPoolExecutor) -> None:
    app = create_google_ads()
    channel = grpc.secure_channel(app.grpc_endpoint, grpc.ssl_channel_credentials(app.tls.ca_pem))
    try:
        accessible = channel.unary_unary(
            wire.LIST_ACCESSIBLE,
            request_serializer=wire._serialize,
            response_deserializer=wire.AccessibleResponse.FromString,
        )
        app.faults.add("hold", path=wire.LIST_ACCESSIBLE, seconds=30)
        call = pool.submit(accessible, wire.AccessibleRequest(), timeout=TIMEOUT)

        assert app.holds.wait_until_held(timeout=TIMEOUT)
        time.sleep(0.2)
        assert not call.done()

        app.release_held()
        failure = call.exception(timeout=TIMEOUT)
        # Released, the call goes on to its usual checks: no token here, so it is refused.
        assert isinstance(failure, grpc.RpcError) and failure.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        channel.close()
        app.close()

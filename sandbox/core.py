"""What every platform's fake is made of.

Each platform keeps its fake in ``sandbox/<platform>/`` with a ``create_app()`` that returns a
:class:`FakeApi`. This module supplies what they have in common: a small request/response model, a
WSGI base class with regex routing and ``/_sandbox/*`` control endpoints, a thread-safe fault plan, and
a loopback server that runs an app in a daemon thread.

Stdlib only. Tests and the demo use it; production code never imports it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox/"
BASE_FAULT_KINDS = frozenset({"delay", "hold", "truncated"})
DEFAULT_HOLD_SECONDS = 60.0

_ROUTES_ATTR = "_sandbox_routes"


# --------------------------------------------------------------------------- requests and responses


T = TypeVar("T")


def seeded_rng(*parts: object) -> random.Random:
    """A random generator seeded from its arguments, the same in every process (fakes' data)."""
    digest = hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def weighted_pick(rng: random.Random, weighted: tuple[tuple[T, float], ...]) -> T:
    """One value of ``(value, weight)`` pairs, drawn in proportion to the weights."""
    roll = rng.random() * sum(weight for _, weight in weighted)
    for value, weight in weighted:
        roll -= weight
        if roll < 0:
            return value
    return weighted[-1][0]


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header mapping."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = {name.lower(): value for name, value in items}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass
class SandboxRequest:
    """One HTTP request as a fake sees it.

    ``query_string`` is exactly what the client sent (still percent-encoded), because some platforms
    (LinkedIn's Rest.li) give meaning to which characters were encoded. ``query`` is the usual decoded
    view of the same string.
    """

    method: str
    path: str
    query_string: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First decoded value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def form(self) -> dict[str, str]:
        """The body as an ``application/x-www-form-urlencoded`` form (first value of each field)."""
        parsed = parse_qs(self.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {name: values[0] for name, values in parsed.items()}

    def json(self) -> Any:
        """The body decoded as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def json_or_none(self) -> Any:
        """The body decoded as JSON, or None when it is empty or not JSON."""
        try:
            return self.json()
        except ValueError:
            return None

    @classmethod
    def from_environ(cls, environ: WSGIEnvironment) -> SandboxRequest:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            path=str(environ.get("PATH_INFO", "/")) or "/",
            query_string=str(environ.get("QUERY_STRING", "")),
            headers=Headers(_environ_headers(environ)),
            body=body,
        )


def _environ_headers(environ: WSGIEnvironment) -> Iterator[tuple[str, str]]:
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-"), str(value)
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            yield key.replace("_", "-"), str(value)


@dataclass
class SandboxResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, obj: Any, headers: Mapping[str, str] | None = None) -> SandboxResponse:
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return SandboxResponse(status, json.dumps(obj).encode("utf-8"), all_headers)


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


# --------------------------------------------------------------------------- fault plan


@dataclass
class _PlannedFault:
    kind: str
    times: int
    after: int
    path: str | None
    params: dict[str, Any]

    def matches(self, kind: str, path: str) -> bool:
        return self.kind == kind and (self.path is None or path.startswith(self.path))

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "times": self.times, "after": self.after, "path": self.path, **self.params}


class HeldRequests:
    """Requests a ``hold`` fault keeps unanswered, until the test releases them or a cap passes.

    A fault suite acts *while* a request is in flight (kills the client, stops it, restarts its
    broker): it waits here until a request is being held instead of guessing how long an answer
    takes. ``release()`` lets every request held so far go on and be answered.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holding = 0
        self._reached = 0
        self._releases = 0

    @property
    def holding(self) -> int:
        """How many requests are being held now."""
        with self._changed:
            return self._holding

    @property
    def reached(self) -> int:
        """How many requests have been held so far (released or not)."""
        with self._changed:
            return self._reached

    def hold(self, seconds: float) -> bool:
        """Block the calling request until released (True) or ``seconds`` passed (False)."""
        with self._changed:
            release = self._releases
            self._holding += 1
            self._reached += 1
            self._changed.notify_all()
            try:
                return self._changed.wait_for(lambda: self._releases != release, timeout=seconds)
            finally:
                self._holding -= 1
                self._changed.notify_all()

    def wait_until_held(self, timeout: float, *, count: int = 1) -> bool:
        """Wait until ``count`` requests have been held in all; False when ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._reached >= count, timeout=timeout)

    def release(self) -> int:
        """Let every request held now be answered; returns how many there were."""
        with self._changed:
            held = self._holding
            self._releases += 1
            self._changed.notify_all()
            return held


class Faults:
    """A thread-safe list of faults waiting to fire.

    A fault matches a request when its kind is the one being asked about and, if it has a ``path``, the
    request path starts with it. The first ``after`` matching requests pass untouched; the next ``times``
    matching requests receive the fault, after which it is forgotten. When several faults of one kind
    match, they are looked at in the order they were added, and the first ready one fires.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._planned: list[_PlannedFault] = []

    def add(
        self, kind: str, *, times: int = 1, after: int = 0, path: str | None = None, **params: Any
    ) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        if after < 0:
            raise ValueError("after must not be negative")
        with self._lock:
            self._planned.append(_PlannedFault(kind, times, after, path, dict(params)))

    def take(
        self, kind: str, path: str, when: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any] | None:
        """Consume one matching fault and return its params, or ``None`` when nothing fires.

        ``when`` narrows the match to requests a fault's params fit (a page long enough to lose
        records); a request it refuses neither fires the fault nor counts towards its ``after``.
        """
        with self._lock:
            for fault in self._planned:
                if not fault.matches(kind, path) or (when is not None and not when(fault.params)):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                if fault.times == 0:
                    self._planned.remove(fault)
                return dict(fault.params)
        return None

    def clear(self) -> None:
        with self._lock:
            self._planned.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._planned]


# --------------------------------------------------------------------------- the WSGI base class

H = TypeVar("H", bound=Callable[..., SandboxResponse])


def route(method: str, pattern: str) -> Callable[[H], H]:
    """Mark a ``FakeApi`` method as the handler for ``method`` on paths matching ``pattern``.

    Named groups in the pattern arrive in ``request.path_params``. The decorator may be stacked.
    """

    def mark(handler: H) -> H:
        routes = [*getattr(handler, _ROUTES_ATTR, []), (method.upper(), pattern)]
        setattr(handler, _ROUTES_ATTR, routes)
        return handler

    return mark


@dataclass(frozen=True)
class _Route:
    name: str  # what its requests are counted as
    method: str
    regex: re.Pattern[str]
    handler: str  # the name of the method that answers


class FakeApi:
    """Base class of every platform fake: a WSGI app with routing, counters and a fault plan.

    Subclasses add handlers with :func:`route` (or :meth:`more_routes`, for routes whose paths a shared
    helper learns from its subclass), may override :meth:`preflight` (checks run before every
    non-control route), :meth:`error_response` (the platform's error shape), :meth:`reset_state` and
    :meth:`env`, and list their extra fault kinds in ``fault_kinds``.

    Every fake honours the base fault kinds: ``delay`` (sleep ``seconds`` before answering),
    ``hold`` (do not answer until :meth:`release_held`, at most ``seconds``; ``holds`` tells when a
    request is being held) and ``truncated`` (cut the body in half). A fake whose pages can lose
    records without a sign lists ``silent_gap`` too and passes each page through :meth:`silent_gap`.
    """

    platform: ClassVar[str] = "generic"
    fault_kinds: ClassVar[frozenset[str]] = BASE_FAULT_KINDS

    def __init__(self) -> None:
        self.faults = Faults()
        self.holds = HeldRequests()
        self.requests: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        self._counter_lock = threading.Lock()
        self._routes = self._collect_routes()
        # Seconds the fake's clock runs ahead of its clock source (``POST /_sandbox/clock``).
        self.clock_offset = 0.0

    # -- hooks for subclasses

    # A fake may run on its own clock (tests move time forward); the default is the real one.
    _clock: Callable[[], float] | None = None

    def now(self) -> float:
        return (self._clock() if self._clock is not None else time.time()) + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's clock forward (past a quota's reset, a token's expiry), never back."""
        self.clock_offset += max(0.0, seconds)

    def today(self) -> date:
        return datetime.fromtimestamp(self.now(), tz=UTC).date()

    def close(self) -> None:
        """Release what the fake holds besides its HTTP server (e.g. a second, gRPC server)."""

    def env(self, base_url: str) -> dict[str, str]:
        """Environment variables that point the application at this fake served on ``base_url``."""
        return {}

    def demo_env(self) -> dict[str, str]:
        """Settings the demo adds to :meth:`env` (``run_sandbox`` writes both; tests use ``env`` alone)."""
        return {}

    def preflight(self, request: SandboxRequest) -> SandboxResponse | None:
        """Checks run before each platform route; return a response to answer early."""
        return None

    def error_response(self, status: int, code: str, message: str) -> SandboxResponse:
        return json_response(status, {"status": status, "code": code, "message": message})

    def reset_state(self) -> None:
        """Forget platform state (tokens and the like). Called by :meth:`reset`."""

    def validate_fault(self, kind: str, params: Mapping[str, Any]) -> str | None:
        """Return a reason when a fault's params make no sense for this fake (checked on control POSTs)."""
        if kind == "delay" and not isinstance(params.get("seconds", 1.0), int | float):
            return "delay needs a numeric 'seconds'"
        if kind == "silent_gap":
            for name, least in (("drop", 1), ("index", 0)):
                number = params.get(name, least)
                if not isinstance(number, int) or isinstance(number, bool) or number < least:
                    return "silent_gap takes a positive integer 'drop' and a non-negative integer 'index'"
        if kind == "hold":
            seconds = params.get("seconds", DEFAULT_HOLD_SECONDS)
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
                return "hold needs a positive numeric 'seconds' (the longest a request is held)"
        return None

    def extra_state(self) -> dict[str, Any]:
        """Platform-specific entries for ``GET /_sandbox/state``."""
        return {}

    def more_routes(self) -> Iterable[tuple[str, str, str, str]]:
        """Routes besides the :func:`route`-marked ones: ``(name, method, pattern, handler method)``."""
        return ()

    # -- counters and state

    def count(self, name: str, amount: int = 1) -> None:
        with self._counter_lock:
            self.counters[name] += amount

    def hold_if_planned(self, path: str) -> None:
        """Apply a planned ``hold`` fault: keep this request unanswered until released (or its cap)."""
        hold = self.faults.take("hold", path)
        if hold is not None:
            self.holds.hold(float(hold.get("seconds", DEFAULT_HOLD_SECONDS)))

    def silent_gap(self, path: str, records: list[T]) -> list[T]:
        """Apply a planned ``silent_gap`` fault: the page loses ``drop`` records (default 3) from
        ``index`` (default 0) and is otherwise answered as usual, so nothing looks wrong. It strikes
        the first page long enough to keep at least one record; ``after`` skips such pages."""

        def fits(params: dict[str, Any]) -> bool:
            return len(records) > int(params.get("drop", 3))

        gap = self.faults.take("silent_gap", path, when=fits)
        if gap is None:
            return records
        drop, index = int(gap.get("drop", 3)), int(gap.get("index", 0)) % len(records)
        kept = records[:index] + records[index + drop :] if index + drop <= len(records) else records[drop:]
        self.count("silent_gap_dropped", len(records) - len(kept))
        return kept

    def release_held(self) -> int:
        """Answer every request a ``hold`` fault is keeping; returns how many there were."""
        return self.holds.release()

    def reset(self) -> None:
        self.release_held()
        self.faults.clear()
        with self._counter_lock:
            self.requests.clear()
            self.counters.clear()
        self.reset_state()

    def state(self) -> dict[str, Any]:
        with self._counter_lock:
            snapshot: dict[str, Any] = {
                "platform": self.platform,
                "requests": dict(self.requests),
                "counters": dict(self.counters),
            }
        snapshot["faults"] = self.faults.pending()
        snapshot.update(self.extra_state())
        return snapshot

    # -- dispatch

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = self.handle(SandboxRequest.from_environ(environ))
        headers = {**response.headers, "Content-Length": str(len(response.body))}
        start_response(_status_line(response.status), list(headers.items()))
        return [response.body]

    def handle(self, request: SandboxRequest) -> SandboxResponse:
        """Answer one request (usable without a server)."""
        try:
            return self._dispatch(request)
        except Exception:
            logger.exception("sandbox %s failed on %s %s", self.platform, request.method, request.path)
            return self.error_response(500, "SANDBOX_ERROR", "The sandbox failed to answer this request")

    def _dispatch(self, request: SandboxRequest) -> SandboxResponse:
        found = self._match(request)
        if isinstance(found, SandboxResponse):
            return found
        name, handler = found
        with self._counter_lock:
            self.requests[name] += 1
        if request.path.startswith(CONTROL_PREFIX):
            return handler(request)
        delay = self.faults.take("delay", request.path)
        if delay is not None:
            time.sleep(float(delay.get("seconds", 1.0)))
        self.hold_if_planned(request.path)
        response = self.preflight(request) or handler(request)
        if self.faults.take("truncated", request.path) is not None:
            response.body = response.body[: len(response.body) // 2]
        return response

    def _match(
        self, request: SandboxRequest
    ) -> tuple[str, Callable[[SandboxRequest], SandboxResponse]] | SandboxResponse:
        allowed: list[str] = []
        for candidate in self._routes:
            match = candidate.regex.match(request.path)
            if match is None:
                continue
            if candidate.method != request.method:
                allowed.append(candidate.method)
                continue
            request.path_params = {k: v for k, v in match.groupdict().items() if v is not None}
            return candidate.name, getattr(self, candidate.handler)
        with self._counter_lock:
            self.requests["<unmatched>"] += 1
        if allowed:
            response = self.error_response(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")
            response.headers["Allow"] = ", ".join(sorted(set(allowed)))
            return response
        return self.error_response(404, "NOT_FOUND", f"No resource at {request.path}")

    def _collect_routes(self) -> list[_Route]:
        handlers: dict[str, list[tuple[str, str]]] = {}
        for klass in reversed(type(self).__mro__):
            for name, attr in vars(klass).items():
                marks = getattr(attr, _ROUTES_ATTR, None)
                if marks:
                    handlers[name] = marks
        marked = [
            (name, method, pattern, name) for name, marks in handlers.items() for method, pattern in marks
        ]
        return [
            _Route(name, method, re.compile(pattern), handler)
            for name, method, pattern, handler in [*marked, *self.more_routes()]
        ]

    # -- control endpoints

    @route("POST", r"^/_sandbox/faults$")
    def control_add_fault(self, request: SandboxRequest) -> SandboxResponse:
        """Plan a fault from ``{"kind", "times", "after", "path", ...params}``."""
        spec = request.json_or_none()
        if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
            return self.error_response(400, "BAD_FAULT", "The body must be a JSON object with a 'kind'")
        kind = spec.pop("kind")
        times = spec.pop("times", 1)
        after = spec.pop("after", 0)
        path = spec.pop("path", None)
        if kind not in self.fault_kinds:
            known = ", ".join(sorted(self.fault_kinds))
            return self.error_response(400, "BAD_FAULT", f"Unknown fault kind {kind!r}; known: {known}")
        if not isinstance(path, str | None) or not isinstance(times, int) or not isinstance(after, int):
            return self.error_response(
                400, "BAD_FAULT", "'times' and 'after' must be integers, 'path' a string"
            )
        reason = self.validate_fault(kind, spec)
        if reason is None:
            try:
                self.faults.add(kind, times=times, after=after, path=path, **spec)
            except ValueError as exc:
                reason = str(exc)
        if reason is not None:
            return self.error_response(400, "BAD_FAULT", reason)
        return json_response(201, {"faults": self.faults.pending()})

    @route("POST", r"^/_sandbox/clock$")
    def control_clock(self, request: SandboxRequest) -> SandboxResponse:
        """Move the fake's clock forward by ``{"advance_seconds": N}``; answers the fake's time now."""
        spec = request.json_or_none()
        seconds = spec.get("advance_seconds") if isinstance(spec, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            return self.error_response(400, "BAD_CLOCK", "The body must be {\"advance_seconds\": N}, N >= 0")
        self.advance_clock(float(seconds))
        now = self.now()
        return json_response(200, {"now": now, "utc": datetime.fromtimestamp(now, tz=UTC).isoformat()})

    @route("POST", r"^/_sandbox/reset$")
    def control_reset(self, request: SandboxRequest) -> SandboxResponse:
        self.reset()
        return json_response(200, self.state())

    @route("GET", r"^/_sandbox/state$")
    def control_state(self, request: SandboxRequest) -> SandboxResponse:
        return json_response(200, self.state())


# --------------------------------------------------------------------------- serving on loopback


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:
        # Skip HTTPServer's reverse DNS lookup of the bind address; loopback needs none.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("sandbox connection error from %s", client_address, exc_info=True)


class SandboxServer:
    """Serve a :class:`FakeApi` on loopback from a daemon thread (port 0 picks a free port)."""

    def __init__(self, app: FakeApi, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._httpd = make_server(
            host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{app.platform}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        return self.app.env(self.url)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.app.release_held()  # a held request must not outlive its server
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self.app.close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

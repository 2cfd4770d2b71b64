"""The daemon's HTTP/JSON API on a Unix socket.

``POST /v1/ops/{name}`` with a JSON object of parameters runs ``tether.ops.run`` and
answers ``{"result": …}`` or ``{"error": {"type", "message", "hint"}}`` with a 4xx/5xx status.
With the ``X-Tether-Progress: 1`` header the answer is streamed as ND-JSON: ``{"progress": …}``
lines while the operation runs, then the final result or error line. ``GET /health`` answers
the daemon's health (503 when it is not ok); ``GET /v1/ops`` lists operations and their roles.

Who is calling comes from the kernel, not from the request: the peer's uid (``SO_PEERCRED``)
becomes a user name, and ``[access]`` in tether.toml gives its role. The socket is created mode
0600 (0660 and group-owned when ``[daemon] socket_group`` is set), so reaching it at all is the
first gate.
"""

from __future__ import annotations

import contextlib
import functools
import grp
import inspect
import logging
import os
import pwd
import socket
import socketserver
import stat
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tether import ops
from tether.config.project import Workspace
from tether.daemon import wire
from tether.daemon.dispatch import Dispatcher, Queued
from tether.engine.schedule import Schedule, next_fire
from tether.errors import PermissionDeniedError, StateError, TetherError
from tether.ops.syncs import run_manual_sync

log = logging.getLogger("tether.daemon.api")

OPS_PREFIX = "/v1/ops/"
STATUS_EVENTS = frozenset({"execution_started", "execution_finished"})
"""Sync progress events after which ``status`` reads differently (a page changes nothing)."""

# Bounds for whatever arrives on the socket (issue 14): a peer may be buggy or hostile, and the
# daemon must stay up, its memory bounded, and other clients served.
MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest request body: an ``apply`` plan of ~100k mapping changes is a few MB."""
BODY_BUDGET_BYTES = 64 * 1024 * 1024
"""Request bodies being read at once, over all connections; past it a request is told to retry."""
REQUEST_TIMEOUT_S = 10.0
"""From a request's first line to the end of its body: a client that stalls mid-request."""
IDLE_TIMEOUT_S = 600.0
"""An idle keep-alive connection is closed after this (clients re-open it)."""
MAX_CONNECTIONS = 64
"""Open connections; at the cap the longest-idle one is closed to make room."""


class Generation:
    """A counter bumped *after* every committed change that ``status`` shows.

    Writers bump it when their ``ctx.state.write`` block ends, when a sync reports an execution
    started or finished, and when the schedules are reloaded. An answer computed while the
    counter kept its value is still the answer (see ``Api._status``).
    """

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.value += 1


@dataclass(frozen=True)
class _Cached:
    generation: int
    until: datetime
    result: Any


class _NotifyingState:
    """The daemon's state access, bumping the generation after every write block."""

    def __init__(self, state: ops.StateAccess, generation: Generation) -> None:
        self.inner = state
        self.generation = generation

    def read(self) -> contextlib.AbstractContextManager[Any]:
        return self.inner.read()

    def query(self) -> contextlib.AbstractContextManager[Any]:
        return self.inner.query()

    def audit_sql(self, actor: str, query: str, error: Exception | None) -> None:
        self.inner.audit_sql(actor, query, error)  # audit_log is not in `status`: no bump

    @contextlib.contextmanager
    def write(self, operation: str) -> Iterator[Any]:
        try:
            with self.inner.write(operation) as con:
                yield con
        finally:
            self.generation.bump()


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int
    user: str


def peer_credentials(sock: socket.socket) -> Peer:
    """Who is on the other end of a Unix socket, from the kernel (SO_PEERCRED)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)  # no passwd entry (containers): [access] may list the uid
    return Peer(pid, uid, gid, user)


class Api:
    """Runs operations for peers: roles, the one-run-per-integration rule, reloads."""

    def __init__(
        self,
        workspace: Workspace,
        state: ops.StateAccess,
        dispatcher: Dispatcher | None,
        health: Callable[[], dict[str, Any]] | None = None,
        *,
        generation: Generation | None = None,
    ) -> None:
        self.workspace = workspace
        self.generation = generation or Generation()
        self.state: ops.StateAccess = _NotifyingState(state, self.generation)
        self.dispatcher = dispatcher
        self._status: _Cached | None = None
        self.services: dict[str, Any] = {"sync": self._sync_hook}
        if dispatcher is not None:
            self.services["scheduler"] = dispatcher
            self.services["on_apply"] = lambda serial: dispatcher.reload()
        if health is not None:
            self.services["daemon"] = health
        self.in_flight = 0
        self._lock = threading.Lock()

    def role(self, peer: Peer) -> str:
        return ops.role_of(peer.user, self.workspace)

    def context(
        self, peer: Peer, progress: Callable[[dict[str, Any]], None] | None = None
    ) -> ops.Context:
        ctx = ops.Context(
            self.workspace,
            self.state,
            actor=peer.user,
            role=self.role(peer),
            progress=self._notifying(progress),
            services=self.services,
        )
        if self.dispatcher is not None:
            ctx.cancel = self.dispatcher.cancel
        return ctx

    def call(
        self,
        peer: Peer,
        name: str,
        params: dict[str, Any],
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> Any:
        op = ops.get(name)
        ctx = self.context(peer, progress)
        if not ops.allowed(ctx.role, op.role):
            raise PermissionDeniedError(name, ctx.role, op.role)
        _check_params(op, params)
        with self._counting():
            if self.dispatcher is not None and op.run_policy != "direct":
                return self._as_run(ctx, name, params, queue=op.run_policy == "queued")
            if name == "status" and not params:
                return self._cached_status(ctx)
            result = ops.run(ctx, name, params)
        if self.dispatcher is not None and op.reloads:  # apply reloads through its own hook
            self.dispatcher.reload()
        return result

    def _notifying(
        self, progress: Callable[[dict[str, Any]], None] | None
    ) -> Callable[[dict[str, Any]], None]:
        """Pass sync progress on, bumping the generation when an execution starts or ends."""
        bump = self.generation.bump

        def notify(event: dict[str, Any]) -> None:
            if event.get("event") in STATUS_EVENTS:
                bump()
            if progress is not None:
                progress(event)

        return notify

    def _cached_status(self, ctx: ops.Context) -> Any:
        """``status``, computed again only after a change or when a schedule fires.

        Between two changes the answer depends on the clock only through ``next_sync`` and
        ``overdue``, which both move when a schedule fires; so a cached answer is kept until
        the earliest next fire time of an active integration. Monitors poll this.
        """
        generation = self.generation.value
        now = datetime.now(UTC)
        cached = self._status
        if cached is not None and cached.generation == generation and now < cached.until:
            return cached.result
        result = ops.run(ctx, "status", {})
        if self.generation.value == generation:
            self._status = _Cached(generation, _status_valid_until(result, now), result)
        return result

    @contextlib.contextmanager
    def _counting(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def _as_run(self, ctx: ops.Context, name: str, params: dict[str, Any], queue: bool) -> Any:
        """Run an operation as the integration's one run (queued behind a run in progress)."""
        assert self.dispatcher is not None
        integration = str(params.get("integration", ""))
        later = None
        if queue:

            def later(cancel: threading.Event) -> Any:
                return ops.run(self._background(ctx, cancel), name, params)

        queued, result = self.dispatcher.request(
            integration, name, ctx.actor, lambda: ops.run(ctx, name, params), later
        )
        if queued is None:
            return result
        return {
            "run_id": None,
            "queued": True,
            "items_retried": 0,
            "items_loaded": 0,
            "still_failed": None,
            "executions": [],
            **_queued_detail(integration, name, queued),
        }

    def _sync_hook(self, ctx: ops.Context, **params: Any) -> dict[str, Any]:
        """The daemon side of the ``sync`` operation: one run per integration, else queue."""
        if self.dispatcher is None:
            return run_manual_sync(ctx, **params)
        integration = str(params["integration"])

        def later(cancel: threading.Event) -> Any:
            return run_manual_sync(self._background(ctx, cancel), **params)

        queued, result = self.dispatcher.request(
            integration, "manual", ctx.actor, lambda: run_manual_sync(ctx, **params), later
        )
        if queued is None:
            answer: dict[str, Any] = result
            return answer
        return {
            "run_id": None,
            "queued": True,
            "executions": [],
            "remapped": {"items": 0, "loaded": 0},
            **_queued_detail(integration, "sync", queued),
        }

    def health(self, peer: Peer) -> dict[str, Any]:
        result: dict[str, Any] = ops.run(self.context(peer), "health", {})
        return result

    def _background(self, ctx: ops.Context, cancel: threading.Event) -> ops.Context:
        """A queued request runs after its caller has gone: no progress stream any more."""
        return ops.Context(
            ctx.workspace,
            ctx.state,
            ctx.actor,
            ctx.role,
            self._notifying(None),
            cancel,
            ctx.services,
        )


def _status_valid_until(result: dict[str, Any], now: datetime) -> datetime:
    """When the clock alone changes a ``status`` answer: the next fire time of any schedule.

    ``next_sync`` is the next fire time; ``overdue`` compares the last sync with the previous
    fire time (cron's own, on the integration's wall clock), which moves at cron's next time.
    """
    until = datetime.max.replace(tzinfo=UTC)
    schedules: set[Schedule] = set()
    for row in result["integrations"]:
        if not row["enabled"] or row["paused"]:
            continue
        schedules.add(Schedule(row["cron"], row["timezone"]))
        if row["next_sync"] is not None:
            until = min(until, datetime.fromisoformat(row["next_sync"]))
    for schedule in schedules:
        following = next_fire(schedule, now)
        if following is not None:
            until = min(until, following)
    return until


def _queued_detail(integration: str, what: str, queued: Queued) -> dict[str, Any]:
    running = queued.running
    since = running.started_at.isoformat() if running.started_at else None
    return {
        "integration": integration,
        "position": queued.position,
        "running": {"trigger": running.trigger, "started_at": since,
                    "requested_by": running.requested_by},
        "message": f"A {running.trigger} run of '{integration}' is in progress (since {since}); "
        f"this {what} is queued (position {queued.position}) and starts when it ends.",
    }  # fmt: skip


def _check_params(op: ops.Operation, params: dict[str, Any]) -> None:
    """Names and JSON types of the parameters, checked before the operation sees them."""
    hint = "The client and the daemon may be different versions of tether."
    try:
        inspect.signature(op.fn).bind(None, **params)
    except TypeError as exc:
        raise TetherError(f"Invalid parameters for operation '{op.name}': {exc}.", hint) from None
    import pydantic

    for name, value in params.items():
        adapter = _param_types(op.fn).get(name)
        if adapter is None:
            continue
        try:
            adapter.validate_python(value, strict=True)
        except pydantic.ValidationError as exc:
            expected = exc.errors()[0]["msg"]
            raise TetherError(
                f"Invalid parameter '{name}' for operation '{op.name}': {expected}.", hint
            ) from None


@functools.cache
def _param_types(fn: ops.OperationFn) -> dict[str, Any]:
    import typing

    import pydantic

    hints = typing.get_type_hints(fn)
    return {
        name: pydantic.TypeAdapter(hint)
        for name, hint in hints.items()
        if name not in ("ctx", "return")
    }


class _BadRequest(TetherError):
    """A request the daemon cannot read (HTTP status chosen here, not from the error tree)."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # never HTTP/0.9: every answer has a status line
    server_version = "tether-daemon"
    timeout = IDLE_TIMEOUT_S
    server: DaemonServer
    peer: Peer

    def setup(self) -> None:
        super().setup()
        self.peer = self.server.peer_of(self.request)

    def handle_one_request(self) -> None:
        """One request; between requests the connection is idle (and may be closed for room)."""
        self.server.connections.idle(self.request)
        self.connection.settimeout(IDLE_TIMEOUT_S)
        super().handle_one_request()

    def parse_request(self) -> bool:
        # The request line has arrived: from here the whole request has REQUEST_TIMEOUT_S.
        self.server.connections.busy(self.request)
        self.deadline = time.monotonic() + REQUEST_TIMEOUT_S
        self.connection.settimeout(REQUEST_TIMEOUT_S)
        try:
            return super().parse_request()
        except TimeoutError:
            self.close_connection = True
            self._send_error(_stalled())
            return False

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, too many headers…) as JSON errors."""
        self.close_connection = True
        if code == 501:  # http.server's word for a method it has no do_* for
            code, explain = 405, "The API is POST /v1/ops/{name}, GET /v1/ops and GET /health."
        text = message or self.responses.get(code, ("Bad request",))[0]
        doc = {"type": "TetherError", "message": f"Bad request: {text}.", "hint": explain}
        with contextlib.suppress(OSError):
            self._send(code, {"error": doc})

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the peer went away before its answer was flushed
            super().finish()

    def address_string(self) -> str:
        return f"uid={self.peer.uid}"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format % args)

    def do_GET(self) -> None:
        api = self.server.api
        started = time.perf_counter()
        if self.path == "/health":
            try:
                doc = api.health(self.peer)
            except Exception as exc:
                self._send_error(exc)
            else:
                self._send(200 if doc.get("ok") else 503, {"result": doc})
        elif self.path == "/v1/ops":
            listing = [
                {"name": o.name, "role": o.role, "summary": o.summary}
                for o in sorted(ops.operations().values(), key=lambda o: o.name)
            ]
            self._send(200, {"result": {"operations": listing, "role": api.role(self.peer)}})
        else:
            self._send_error(_not_found(self.path))
        self._access_log("GET", self.path, started)

    def do_POST(self) -> None:
        started = time.perf_counter()
        name = self.path[len(OPS_PREFIX) :] if self.path.startswith(OPS_PREFIX) else None
        try:
            params = self._params()
        except TetherError as exc:
            self.close_connection = True  # the rest of a refused body is never read
            self._send_error(exc)
            return
        if name is None:
            self._send_error(_not_found(self.path))
        elif self.headers.get(wire.PROGRESS_HEADER) == "1":
            self._stream(name, params)
        else:
            try:
                result = self.server.api.call(self.peer, name, params)
            except Exception as exc:
                self._send_error(exc, name)
            else:
                self._send(200, {"result": result})
        self._access_log("POST", self.path, started)

    def _params(self) -> dict[str, Any]:
        if self.headers.get("Transfer-Encoding"):
            raise _BadRequest(411, "Chunked request bodies are not accepted; send Content-Length.")
        text = self.headers.get("Content-Length") or "0"
        if not text.isdigit():
            raise _BadRequest(400, f"Content-Length {text[:40]!r} is not a number of bytes.")
        length = int(text)
        if length > MAX_BODY_BYTES:
            raise _BadRequest(
                413,
                f"The request body ({length} bytes) is over the daemon's limit of "
                f"{MAX_BODY_BYTES // (1024 * 1024)} MiB.",
            )
        raw = self._read_body(length) if length else b"{}"
        try:
            params = wire.loads(raw)
        except ValueError:
            params = None
        if not isinstance(params, dict):
            raise TetherError("The request body must be a JSON object of parameters.")
        return params

    def _read_body(self, length: int) -> bytes:
        """Exactly ``length`` bytes before the request's deadline, within the memory budget."""
        with self.server.body_budget.take(length):
            chunks: list[bytes] = []
            left = length
            while left:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise _stalled()
                self.connection.settimeout(remaining)
                try:
                    chunk = self.rfile.read1(min(left, 1024 * 1024))
                except TimeoutError:
                    raise _stalled() from None
                if not chunk:
                    raise _BadRequest(400, f"The request body ended {left} bytes short.")
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)

    def _stream(self, name: str, params: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        lock = threading.Lock()
        attached = [True]

        def line(doc: dict[str, Any]) -> None:
            with lock:
                if not attached[0]:
                    return
                try:
                    self.wfile.write(wire.dumps(doc) + b"\n")
                except OSError:
                    attached[0] = False  # the caller went away; the operation carries on

        try:
            result = self.server.api.call(
                self.peer, name, params, lambda event: line({"progress": event})
            )
        except Exception as exc:
            _log_failure(exc, name)
            line({"error": wire.error_to_json(exc), "status": wire.http_status(exc)})
        else:
            line({"result": result})

    def _send(self, status: int, doc: dict[str, Any]) -> None:
        body = wire.dumps(doc)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, exc: BaseException, name: str | None = None) -> None:
        _log_failure(exc, name)
        status = exc.status if isinstance(exc, _BadRequest) else wire.http_status(exc)
        doc = wire.error_to_json(exc)
        if isinstance(exc, _BadRequest):
            doc["type"] = "TetherError"  # the client's tree has no _BadRequest
            doc.pop("detail", None)
        self._send(status, {"error": doc})

    def _access_log(self, method: str, path: str, started: float) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "request",
                extra={"fields": {"method": method, "path": path, "user": self.peer.user,
                                  "ms": round((time.perf_counter() - started) * 1000, 2)}},
            )  # fmt: skip


def _stalled() -> _BadRequest:
    return _BadRequest(
        408, f"The request did not arrive within {REQUEST_TIMEOUT_S:g} s; the connection is closed."
    )


class _BodyBudget:
    """Bytes of request bodies being read at once: bounded, so many big bodies cannot add up."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def take(self, size: int) -> Iterator[None]:
        with self._lock:
            if self.used + size > self.limit:
                raise _BadRequest(503, "The daemon is reading other large requests; retry.")
            self.used += size
        try:
            yield
        finally:
            with self._lock:
                self.used -= size


class _Connections:
    """Open connections, and since when each has been idle (None: a request is in progress)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._idle_since: dict[socket.socket, float | None] = {}
        self._lock = threading.Lock()

    def admit(self, sock: socket.socket) -> bool:
        """Room for ``sock``: at the cap the longest-idle connection is closed; False if none."""
        with self._lock:
            if len(self._idle_since) >= self.limit:
                idle = [(t, s) for s, t in self._idle_since.items() if t is not None]
                if not idle:
                    return False
                _, oldest = min(idle, key=lambda pair: pair[0])
                del self._idle_since[oldest]
                with contextlib.suppress(OSError):
                    oldest.shutdown(socket.SHUT_RDWR)  # its thread reads EOF and ends
            self._idle_since[sock] = time.monotonic()
            return True

    def idle(self, sock: socket.socket) -> None:
        with self._lock:
            if sock in self._idle_since:
                self._idle_since[sock] = time.monotonic()

    def busy(self, sock: socket.socket) -> None:
        with self._lock:
            if sock in self._idle_since:
                self._idle_since[sock] = None

    def gone(self, sock: socket.socket) -> None:
        with self._lock:
            self._idle_since.pop(sock, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle_since)


def _not_found(path: str) -> TetherError:
    from tether.errors import NotFoundError

    return NotFoundError(f"No such endpoint: {path}.", hint="POST /v1/ops/{name}, GET /health.")


def _log_failure(exc: BaseException, name: str | None) -> None:
    if isinstance(exc, TetherError):
        log.info(
            "operation refused or failed",
            extra={"fields": {"operation": name, "error": type(exc).__name__,
                              "message": exc.message}},
        )  # fmt: skip
    else:
        log.error("operation crashed", exc_info=exc, extra={"fields": {"operation": name}})


class DaemonServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """One thread per connection (clients keep theirs alive); mode 0600 or 0660 + group."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # a burst of clients waits in the backlog, not refused (EAGAIN)

    def __init__(
        self,
        path: Path,
        api: Api,
        *,
        socket_group: str | None = None,
        peer_of: Callable[[socket.socket], Peer] = peer_credentials,
    ) -> None:
        self.path = path
        self.api = api
        self.peer_of = peer_of
        self.connections = _Connections(MAX_CONNECTIONS)
        self.body_budget = _BodyBudget(BODY_BUDGET_BYTES)
        gid = _group_id(socket_group) if socket_group else None
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_socket(path)
        old_umask = os.umask(0o177)  # never exists with wider permissions, not even briefly
        try:
            with wire.socket_address(path) as address:
                super().__init__(address, _Handler)
        finally:
            os.umask(old_umask)
        if gid is not None:
            os.chown(path, -1, gid)
            os.chmod(path, 0o660)
        else:
            os.chmod(path, 0o600)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.connections.admit(request):
            # Every connection is busy with a request: say so rather than queue without bound.
            with contextlib.suppress(OSError):
                body = wire.dumps({"error": {"type": "TetherError", "hint": "Retry shortly.",
                                             "message": "The daemon is serving too many "
                                             "requests at once."}})  # fmt: skip
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.connections.gone(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that failed outside an operation (a peer that vanished): log, carry on."""
        log.info("connection dropped", exc_info=True)

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="api", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise StateError(
            f"[daemon] socket_group = {name!r} is not a group on this machine.",
            hint="Create the group (groupadd) or fix tether.toml.",
        ) from None


def _remove_stale_socket(path: Path) -> None:
    """The caller holds the state lock, so a socket left here belongs to a dead daemon."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise StateError(
            f"{path} exists and is not a socket.",
            hint="Move it away or set [daemon] socket in tether.toml to another path.",
        )
    path.unlink()

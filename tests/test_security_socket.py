"""The daemon socket under malformed, hostile and stalled clients (issue 14).

A bounded loop with a seeded generator sends >= 10,000 malformed requests over raw sockets while
another thread keeps asking for ``status``: the daemon must answer every one of them with a
4xx error (never a 500 or a crash in its log), keep its memory flat, and never leave the
``status`` caller waiting.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import WorkspaceBuilder
from daemon_support import running_daemon, shop_workspace

from tether.config.project import load_project
from tether.daemon import server, wire
from tether.daemon.remote import DaemonClient
from tether.daemon.server import Peer
from tether.daemon.service import Daemon

FUZZ_REQUESTS = 10_000
VIEWER = Peer(pid=1, uid=4242, gid=4242, user="fuzzer")


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


class Raw:
    """One raw connection to the socket: bytes out, one HTTP answer's status and body back."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(15)
        with wire.socket_address(path) as address:
            self.sock.connect(address)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> tuple[int, bytes, bool]:
        """Status, body, and whether the daemon closes the connection after it."""
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body, headers.get("connection", "").lower() == "close"

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the daemon")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def post(op: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST /v1/ops/{op} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


OPS = ["status", "sql", "items", "integration", "executions", "errors", "item", "plan",
       "apply", "reset", "pause", "sync", "no_such_op", "../../etc/passwd", "status/../sql"]  # fmt: skip


TEXT_WRONG = [1.5, [], {}, 7, True, 2**70, {"a": [1]}]
NUMBER_WRONG = ["1", 1.5, [], {}, True, "x" * 50]
WRONG_TYPES = [("query", TEXT_WRONG), ("id", TEXT_WRONG), ("integration", TEXT_WRONG),
               ("limit", NUMBER_WRONG), ("execution_id", NUMBER_WRONG), ("plan", ["x", 1, []])]  # fmt: skip


def malformed(rng: random.Random) -> tuple[bytes, bool]:
    """One malformed request, and whether its framing is valid (the connection may be reused)."""
    kind = rng.randrange(12)
    op = rng.choice(OPS)
    if kind == 0:  # random bytes as the body
        return post(op, rng.randbytes(rng.randrange(1, 200))), True
    if kind == 1:  # truncated JSON
        doc = orjson.dumps({"query": "select 1", "limit": 5})
        return post(op, doc[: rng.randrange(1, len(doc))]), True
    if kind == 2:  # JSON that is not an object
        return post(op, rng.choice([b"[]", b"1", b'"x"', b"null", b"true", b"[{}]"])), True
    if kind == 3:  # unknown fields
        return post(op, orjson.dumps({rng.choice(["x", "__class__", "ctx", ""]): 1})), True
    if kind == 4:  # known fields, wrong types
        field, wrong = rng.choice(WRONG_TYPES)
        return post(op, json.dumps({field: rng.choice(wrong)}).encode()), True
    if kind == 5:  # deep nesting
        depth = rng.choice([100, 2000, 50_000])
        return post(op, b"[" * depth + b"]" * depth), True
    if kind == 6:  # invalid UTF-8 and lone surrogates
        return post(op, rng.choice([b'{"query": "\xff\xfe"}', b'{"query": "\\ud800"}'])), True
    if kind == 7:  # a body over the limit, announced (never sent)
        return post(op, b"", f"Content-Length: {server.MAX_BODY_BYTES + 1}\r\n").replace(
            b"Content-Length: 0\r\n", b""
        ), False
    if kind == 8:  # nonsense Content-Length or chunked
        header = rng.choice(["Content-Length: -5", "Content-Length: 1e9", "Content-Length: x",
                             "Transfer-Encoding: chunked"])  # fmt: skip
        return (
            f"POST /v1/ops/{op} HTTP/1.1\r\nHost: d\r\n{header}\r\n\r\n0\r\n\r\n".encode(),
            False,
        )
    if kind == 9:  # a garbage request line
        return rng.choice([b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                           b"\x00\x01\x02 / HTTP/1.1\r\n\r\n", b"GET " + b"a" * 70_000 + b"\r\n\r\n"]), False  # fmt: skip
    if kind == 10:  # other methods and paths
        method = rng.choice(["GET", "PUT", "DELETE", "PATCH"])
        path = rng.choice(["/", "/v1/ops/status", "/health/..", "/v1/ops/", "/x" * 100])
        return f"{method} {path} HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n".encode(), False
    # too many headers
    headers = "".join(f"X-{i}: {'v' * 10}\r\n" for i in range(rng.choice([101, 500])))
    return f"POST /v1/ops/{op} HTTP/1.1\r\n{headers}Content-Length: 2\r\n\r\n{{}}".encode(), False


@pytest.fixture
def daemon(
    workspace: WorkspaceBuilder, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Daemon, Path]]:
    shop_workspace(workspace, monkeypatch)
    monkeypatch.setattr(server, "REQUEST_TIMEOUT_S", 0.5)  # stalled clients, in test time
    with running_daemon(workspace, socket_peer=lambda sock: VIEWER) as d:
        yield d, load_project(workspace.root).socket_path


class StatusPoller(threading.Thread):
    """Another client asking for ``status`` all along; every answer must come, and quickly."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.client = DaemonClient(path)
        self.stop = threading.Event()
        self.answers = 0
        self.failures: list[str] = []
        self.slowest = 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                result = self.client.call("status")
                assert [r["id"] for r in result["integrations"]] == ["shop"]
                self.answers += 1
            except Exception as exc:
                self.failures.append(repr(exc))
            self.slowest = max(self.slowest, time.perf_counter() - started)
            time.sleep(0.01)


class Crashes(logging.Handler):
    """ERROR records of the daemon ("operation crashed"): kept as text, nothing else kept."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.slow
def test_ten_thousand_malformed_requests(daemon: tuple[Daemon, Path]) -> None:
    _, path = daemon
    rng = random.Random(14)
    poller = StatusPoller(path)
    poller.start()
    statuses: dict[int, int] = {}
    conn: Raw | None = None
    baseline = halfway = 0
    threads_before = threading.active_count()
    crashes = Crashes()
    logging.getLogger("tether").addHandler(crashes)
    try:
        for sent in range(FUZZ_REQUESTS):
            if sent == 1000:
                baseline = rss_bytes()  # after warm-up: caches, imports, thread stacks
            if sent == FUZZ_REQUESTS // 2:
                halfway = rss_bytes()
            request, reusable = malformed(rng)
            if conn is None:
                conn = Raw(path)
            conn.send(request)
            try:
                status, body, closing = conn.answer()
            except ConnectionError:
                raise AssertionError(f"no answer to {request[:300]!r}") from None
            statuses[status] = statuses.get(status, 0) + 1
            # 4xx: the request's fault; 505 for HTTP/9.9; never 500 (a crash in the daemon).
            assert 400 <= status < 500 or status == 505, (status, request[:200], body[:300])
            assert orjson.loads(body)["error"]["message"], body  # always a JSON error
            if closing or not reusable:
                conn.close()
                conn = None
    finally:
        logging.getLogger("tether").removeHandler(crashes)
    end = rss_bytes()
    grown, second_half = end - baseline, end - halfway
    print(f"\nfuzz: {sorted(statuses.items())}, RSS +{grown / 2**20:.1f} MB after warm-up, "
          f"+{second_half / 2**20:.1f} MB over the second half, "
          f"status answered {poller.answers}x, slowest {poller.slowest * 1000:.0f} ms")  # fmt: skip
    poller.stop.set()
    poller.join(10)
    assert poller.failures == []
    assert poller.answers > 0 and poller.slowest < 5.0, (poller.answers, poller.slowest)
    assert sum(statuses.values()) == FUZZ_REQUESTS
    # Flat: what the allocator keeps after warm-up stays small, and the second half adds ~nothing
    # (a leak of even 1 KB per request would add ~5 MB there).
    assert grown < 32 * 2**20, f"RSS grew {grown / 2**20:.1f} MB over the run"
    assert second_half < 4 * 2**20, f"RSS grew {second_half / 2**20:.1f} MB in the second half"
    assert crashes.messages == []
    assert threading.active_count() <= threads_before + 2


def test_stalled_and_never_ending_clients_do_not_block_others(daemon: tuple[Daemon, Path]) -> None:
    d, path = daemon
    client = DaemonClient(path)
    # Clients that connect and say nothing, or stop half-way through their headers or body.
    silent = [Raw(path) for _ in range(server.MAX_CONNECTIONS + 10)]
    half_headers = Raw(path)
    half_headers.send(b"POST /v1/ops/status HTTP/1.1\r\nHost: d\r\n")
    endless = Raw(path)
    endless.send(post("sql", b"", "").replace(b"Content-Length: 0", b"Content-Length: 1000000"))
    endless.send(b'{"query": "' + b"a" * 1000)
    assert client.call("status")["integrations"][0]["id"] == "shop"
    # The stalled ones are told why (408) and closed once the request deadline passes.
    status, body, closing = endless.answer()
    assert status == 408 and closing
    assert b"did not arrive within" in body
    status, body, _ = half_headers.answer()
    assert status == 408
    # The silent ones were closed to make room once the cap was reached (oldest first).
    assert len(d.server.connections) <= server.MAX_CONNECTIONS  # type: ignore[union-attr]
    for raw in [*silent, half_headers, endless]:
        raw.close()
    assert client.call("status")["integrations"][0]["id"] == "shop"


def test_refusals_read_clearly(daemon: tuple[Daemon, Path]) -> None:
    _, path = daemon
    cases: list[tuple[bytes, int, str]] = [
        (post("status", b"{nope"), 400, "must be a JSON object"),
        (post("no_such_op", b"{}"), 404, "Unknown operation 'no_such_op'"),
        (post("sql", orjson.dumps({"query": "select 1", "colour": "red"})), 400,
         "unexpected keyword argument 'colour'"),
        (post("sql", orjson.dumps({"query": 42})), 400,
         "Invalid parameter 'query' for operation 'sql': Input should be a valid string"),
        (post("items", orjson.dumps({"execution_id": "1"})), 400,
         "Invalid parameter 'execution_id'"),
        (post("status", b"", f"Content-Length: {server.MAX_BODY_BYTES + 1}\r\n").replace(
            b"Content-Length: 0\r\n", b""), 413, "over the daemon's limit of 32 MiB"),
        (b"POST /v1/ops/status HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411,
         "send Content-Length"),
        (post("apply", orjson.dumps({"plan": {}})), 403, "needs the admin role"),
    ]  # fmt: skip
    for request, expected, message in cases:
        raw = Raw(path)
        raw.send(request)
        status, body, _ = raw.answer()
        raw.close()
        doc: dict[str, Any] = orjson.loads(body)
        assert (status, message in doc["error"]["message"]) == (expected, True), (status, doc)

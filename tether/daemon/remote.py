"""``DaemonClient``: the Backend that sends operations to a running daemon over its socket.

Same interface and same errors as ``LocalBackend``: the daemon's error document is rebuilt into
the ``TetherError`` subclass it came from. Connections are kept alive, one per thread (the
monitor calls from worker threads), and re-opened once if the daemon closed an idle one.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tether.daemon import wire
from tether.errors import TetherError

CONNECT_TIMEOUT_S = 5.0

_RETRYABLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: Path) -> None:
        super().__init__("tether-daemon")
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            with wire.socket_address(self.socket_path) as address:
                sock.connect(address)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)  # operations (a sync) may run for minutes
        self.sock = sock


class DaemonClient:
    """Run operations in the daemon that listens on ``socket_path``."""

    via_daemon = True

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self._local = threading.local()

    @classmethod
    def try_connect(cls, socket_path: Path) -> DaemonClient | None:
        """A client if a daemon answers on ``socket_path``; ``None`` if none is listening."""
        client = cls(socket_path)
        try:
            client._connection().connect()
        except (FileNotFoundError, ConnectionRefusedError):
            return None  # no daemon, or a socket left behind by one that died
        except PermissionError:
            raise TetherError(
                f"A daemon is running but you may not use its socket {socket_path}.",
                hint="Ask an admin to set [daemon] socket_group in tether.toml and add you "
                "to that group. (Reading the state file directly is not possible while the "
                "daemon holds it.)",
            ) from None
        return client

    def _connection(self) -> _UnixConnection:
        conn: _UnixConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _UnixConnection(self.socket_path)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def call(
        self,
        name: str,
        progress: Callable[[dict[str, Any]], None] | None = None,
        **params: Any,
    ) -> Any:
        headers = {"Content-Type": "application/json"}
        if progress is not None:
            headers[wire.PROGRESS_HEADER] = "1"
        response = self._request("POST", f"/v1/ops/{name}", wire.dumps(params), headers)
        try:
            if progress is not None:
                return _read_stream(response, progress)
            return _result(response.status, response.read())
        finally:
            if response.will_close:
                self.close()

    def health(self) -> dict[str, Any]:
        """The daemon's health document (also when it reports not ok)."""
        response = self._request("GET", "/health", None, {})
        doc = wire.loads(response.read())
        if "error" in doc:
            raise wire.error_from_json(doc["error"])
        result: dict[str, Any] = doc["result"]
        return result

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request(method, path, body=body, headers=headers)
                return conn.getresponse()
            except _RETRYABLE:
                self.close()
                if reused and attempt == 1:
                    continue  # the daemon closed an idle connection (or restarted): once more
                raise self._gone() from None
            except (FileNotFoundError, ConnectionRefusedError):
                self.close()
                raise self._gone() from None
        raise AssertionError("unreachable")

    def _gone(self) -> TetherError:
        return TetherError(
            f"The daemon on {self.socket_path} stopped answering.",
            hint="Check it (`systemctl status tether`, its log) and start it again, or run "
            "commands without it once it has exited.",
        )


def _result(status: int, raw: bytes) -> Any:
    try:
        doc = wire.loads(raw)
    except ValueError:
        raise TetherError(f"The daemon sent an unreadable answer (HTTP {status}).") from None
    if "error" in doc:
        raise wire.error_from_json(doc["error"])
    return doc["result"]


def _read_stream(
    response: http.client.HTTPResponse, progress: Callable[[dict[str, Any]], None]
) -> Any:
    if response.status != 200:  # refused before it started (bad path, bad body)
        return _result(response.status, response.read())
    while line := response.readline():
        doc = wire.loads(line)
        if "progress" in doc:
            progress(doc["progress"])
        elif "error" in doc:
            raise wire.error_from_json(doc["error"])
        else:
            return doc["result"]
    raise TetherError(
        "The daemon closed the connection before the operation finished.",
        hint="It may have been stopped; `tether executions` shows how far the run got.",
    )

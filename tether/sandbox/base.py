"""Run a sandbox server on loopback, in a thread (tests, demo) or in the foreground (CLI).

Each sandbox module defines a request handler speaking its service's real wire protocol (a
``tether.sandbox.handler.SandboxHandler``, which writes the responses), plus a scenario dataclass
of switches (data volume, injected trouble). This module only owns the lifecycle.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class SandboxServer(ThreadingHTTPServer):
    """A loopback HTTP server carrying its scenario (``self.scenario``) for the handler."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        scenario: Any,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__((host, port), handler)
        self.scenario = scenario
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self, poll_interval: float = 0.05) -> None:
        # A short poll makes stop() quick: tests start and stop many servers.
        super().serve_forever(poll_interval)

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

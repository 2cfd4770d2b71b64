"""The request-handler base every sandbox speaks through: one way to write a response.

A sandbox handler subclasses ``SandboxHandler`` and calls ``_send`` (bytes) or ``_json`` (a
payload, encoded by ``_encode``). What differs between the services' wires is a class attribute
or a small override, so each sandbox keeps its exact bytes:

- ``content_type``: the default Content-Type (``_send(..., content_type=...)`` overrides it once);
- ``content_type_header`` / ``content_length_header``: the header names as written (BigQuery
  writes them lowercase);
- ``_content_type_for``: the Content-Type for one response, or None to send none;
- ``_default_headers``: headers every response carries, written after Content-Length and before
  the per-response ones (a request id, Retry-After on 429);
- ``_encode``: the JSON encoder.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar


class SandboxHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, quiet, with the response and request-body helpers."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    content_type: ClassVar[str] = "application/json"
    content_type_header: ClassVar[str] = "Content-Type"
    content_length_header: ClassVar[str] = "Content-Length"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and demo
        pass

    def _content_type_for(self, status: int, body: bytes) -> str | None:
        return self.content_type

    def _default_headers(self, status: int) -> dict[str, str]:
        return {}

    def _encode(self, payload: Any) -> bytes:
        return json.dumps(payload).encode()

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        content_type: str | None = None,
    ) -> None:
        self.send_response(status)
        ctype = content_type if content_type is not None else self._content_type_for(status, body)
        if ctype is not None:
            self.send_header(self.content_type_header, ctype)
        self.send_header(self.content_length_header, str(len(body)))
        for key, value in self._default_headers(status).items():
            self.send_header(key, value)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, self._encode(payload), headers)

    def _read_body(self) -> bytes:
        """The request body, as many bytes as Content-Length says (none without it)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

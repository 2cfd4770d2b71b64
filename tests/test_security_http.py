"""Connector HTTP: credentials go to base_url and nowhere else (issue 14).

Two real loopback servers: the "service" answers with a redirect to the "other host", which
records every request that reaches it. The other host must never see one, let alone the
credential header; the user sees one line saying where the redirect pointed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tether.connectors.http import HttpPolicy, check_base_url, make_client, send
from tether.errors import ConnectorError, TetherError

TOKEN = "shpat_redirect_secret_7f3a"


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]
    location = ""

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        if self.location:
            self.send_response(302)
            self.send_header("Location", self.location)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(location: str = "") -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (Recorder,), {"seen": seen, "location": location})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def other_host() -> Iterator[tuple[str, list[dict[str, str]]]]:
    yield from serve()


@pytest.mark.parametrize("status_path", ["/steal?sig=abc", "/api/moved"])
def test_a_redirect_to_another_host_carries_no_credentials(
    other_host: tuple[str, list[dict[str, str]]], status_path: str
) -> None:
    other, seen_there = other_host
    for service_url, seen_here in serve(location=other + status_path):
        client = make_client(service_url, {"X-Shopify-Access-Token": TOKEN}, HttpPolicy())
        with pytest.raises(ConnectorError) as caught:
            send(client, "GET", "/admin/api/orders.json", HttpPolicy(), service="Shopify")
        client.close()
        message = caught.value.message
        assert f"redirected GET /admin/api/orders.json (302) to {other}" in message
        assert "sig=abc" not in message and TOKEN not in message
        assert seen_here and seen_here[0]["X-Shopify-Access-Token"] == TOKEN
    assert seen_there == []


def test_plain_http_away_from_loopback_is_still_refused() -> None:
    for url in ("http://shop.example.com", "http://10.0.0.5:8080", "ftp://127.0.0.1"):
        with pytest.raises(TetherError, match="must be https"):
            check_base_url(url)
    assert check_base_url("https://shop.example.com/") == "https://shop.example.com"

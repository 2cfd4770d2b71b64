"""A small REST API of the kind users describe with a ``service: rest`` spec ("Acme Orders").

The docs' example spec (docs/rest.md) is written against it, so a test can run exactly that
example. It is deliberately ordinary: ``GET /v1/orders`` answers ``{"orders": [...],
"next_cursor": "…" | null}`` with ``limit`` (at most 100), ``cursor`` and ``updated_since``
(ISO-8601, inclusive); ``GET /v1/orders/{id}/items`` answers ``{"items": [...]}``; a bearer token
— either the static API token or an access token bought at ``POST /oauth/token`` with the
OAuth 2.0 refresh-token grant (expiring after ``token_ttl_s``) — or 401 ``{"error": …}``;
429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tether.sandbox.base import SandboxServer
from tether.sandbox.rest_base import Answer, RestSandbox, Store, Trouble, ts

API_TOKEN = "acme_sandbox_token"
CLIENT_ID = "acme-client"
CLIENT_SECRET = "acme-client-secret"
REFRESH_TOKEN = "acme-refresh-token"
MAX_LIMIT = 100
STATUSES = (("paid", 70), ("pending", 15), ("refunded", 10), ("cancelled", 5))
_ITEMS = re.compile(r"^/v1/orders/(ord_\d+)/items$")


@dataclass
class Scenario(Trouble):
    seed: int = 19
    orders: int = 80
    skus: int = 20
    unmapped_skus: int = 1
    anchor: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    api_token: str = API_TOKEN
    refresh_token: str = REFRESH_TOKEN
    token_ttl_s: int = 3600
    revoke_tokens_after: int = 0
    """After this many API requests, every access token sold so far is revoked (0: never)."""


class AcmeOrdersSandbox(RestSandbox):
    scenario: Scenario

    def __init__(self, scenario: Scenario, host: str, port: int) -> None:
        super().__init__(scenario, host, port)
        s = scenario
        self.store = Store(s.seed, s.orders, s.skus, s.unmapped_skus, s.anchor)
        self.access_tokens: dict[str, float] = {}
        """Access tokens sold by /oauth/token → when they expire (monotonic)."""
        self.tokens_sold = 0
        self.api_requests = 0

    def authorised(self, headers: Any, params: dict[str, str]) -> bool:
        return True  # checked per route: the token endpoint authenticates the client instead

    def _bearer_ok(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        token = value.removeprefix("Bearer ")
        if token == self.scenario.api_token:
            return True
        expires = self.access_tokens.get(token)
        return expires is not None and time.monotonic() < expires

    def status(self, index: int) -> str:
        rng = self.store.rng("status", index)
        return rng.choices([n for n, _ in STATUSES], [w for _, w in STATUSES])[0]

    def order(self, index: int) -> dict[str, Any]:
        created, updated = self.store.dates("order", index)
        total = sum(q * p for _, _, q, p in self.store.lines(index))
        return {
            "id": f"ord_{index + 1}",
            "number": f"A-{1001 + index}",
            "status": self.status(index),
            "currency": "EUR",
            "total": round(total, 2),
            "created_at": ts(created),
            "updated_at": ts(updated),
        }

    def items(self, index: int) -> list[dict[str, Any]]:
        return [
            {"id": f"li_{line_id}", "sku": sku, "qty": qty, "unit_price": price}
            for line_id, sku, qty, price in self.store.lines(index)
        ]

    def route(self, path: str, params: dict[str, str], url: str, headers: dict[str, str]) -> Answer:
        if path == "/oauth/token":
            return self._token(params, headers)
        self.api_requests += 1
        if self.api_requests == self.scenario.revoke_tokens_after:
            self.access_tokens.clear()
        if not self._bearer_ok(headers):
            return Answer(401, {"error": "invalid_token", "message": "Bad or expired token."})
        if path == "/v1/orders":
            return self._orders(params)
        match = _ITEMS.match(path)
        if match:
            index = int(match.group(1).removeprefix("ord_")) - 1
            if 0 <= index < self.scenario.orders:
                return Answer(200, {"items": self.items(index)})
        return Answer(404, {"error": "not_found", "message": f"No route {path}."})

    def _token(self, params: dict[str, str], headers: dict[str, str]) -> Answer:
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        basic = headers.get("authorization", "")
        if basic.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            return Answer(401, {"error": "invalid_client"})
        if params.get("grant_type") != "refresh_token":
            return Answer(400, {"error": "unsupported_grant_type"})
        if params.get("refresh_token") != self.scenario.refresh_token:
            return Answer(400, {"error": "invalid_grant"})
        token = secrets.token_urlsafe(16)
        self.access_tokens[token] = time.monotonic() + self.scenario.token_ttl_s
        self.tokens_sold += 1
        return Answer(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.scenario.token_ttl_s,
            },
            {"Cache-Control": "no-store"},
        )

    def _orders(self, params: dict[str, str]) -> Answer:
        try:
            limit = int(params.get("limit", 20))
            offset = (
                int(base64.urlsafe_b64decode(params["cursor"]).decode())
                if params.get("cursor")
                else 0
            )
        except (ValueError, json.JSONDecodeError):
            return Answer(400, {"error": "bad_request", "message": "Bad limit or cursor."})
        if not 1 <= limit <= MAX_LIMIT:
            return Answer(400, {"error": "bad_request", "message": "limit is 1 to 100."})
        since = None
        if params.get("updated_since"):
            try:
                since = datetime.fromisoformat(params["updated_since"].replace("Z", "+00:00"))
            except ValueError:
                return Answer(400, {"error": "bad_request", "message": "Bad updated_since."})
        indexes = [
            i
            for i in range(self.scenario.orders)
            if since is None or self.store.dates("order", i)[1] >= since
        ]
        chosen = indexes[offset : offset + limit]
        more = offset + limit < len(indexes)
        cursor = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None
        return Answer(200, {"orders": [self.order(i) for i in chosen], "next_cursor": cursor})


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> SandboxServer:
    """An Acme Orders sandbox (not started). Defaults to the demo scenario."""
    return AcmeOrdersSandbox(scenario or Scenario(), host, port)

"""What the REST platform sandboxes share: deterministic orders and products, request logging,
and injected trouble (429 bursts, 500s, malformed pages). Each platform module adds its own
paths, auth check, paging and answer shapes (woocommerce.py, bigcommerce.py, shipbob.py,
acme_orders.py)."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tether.sandbox.base import SandboxServer
from tether.sandbox.handler import SandboxHandler


@dataclass
class Trouble:
    """Switches every REST sandbox has (mixed into each platform's ``Scenario``)."""

    rate_limit_every: int = 0
    """Every Nth request starts a burst of 429s (0: never)."""
    rate_limit_burst: int = 1
    retry_after_s: float = 1.0
    server_errors: int = 0
    """The next N requests answer 500."""
    malformed_page: int = 0
    """The Nth list page answers 200 with a body that is not JSON (0: never)."""
    slow_s: float = 0.0
    """Seconds to wait before answering each request."""


@dataclass(frozen=True)
class SeenRequest:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    status: int
    payload: Any
    headers: dict[str, str] | None = None


def ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Orders and products generated from ``(seed, kind, index)``: the same scenario always
    serves the same records, and a volume costs nothing until it is paged through."""

    def __init__(self, seed: int, orders: int, skus: int, unmapped_skus: int, anchor: datetime):
        self.seed = seed
        self.anchor = anchor
        self.skus = [f"SKU-{i:05d}" for i in range(skus)]
        self.skus += [f"UNMAPPED-{i + 1:03d}" for i in range(unmapped_skus)]
        self.order_count = orders
        self._dates: dict[str, list[tuple[datetime, datetime]]] = {}

    def rng(self, kind: str, index: int) -> random.Random:
        return random.Random(f"{self.seed}:{kind}:{index}")

    def dates(self, kind: str, index: int) -> tuple[datetime, datetime]:
        """(created, modified) within the 90 days before the anchor."""
        table = self._dates.get(kind)
        if table is None:
            count = self.order_count if kind == "order" else len(self.skus)
            table = [self._draw(kind, i) for i in range(count)]
            self._dates[kind] = table
        return table[index]

    def _draw(self, kind: str, index: int) -> tuple[datetime, datetime]:
        rng = self.rng(f"{kind}:dates", index)
        created = self.anchor - timedelta(seconds=rng.randrange(90 * 86400))
        modified = created + timedelta(seconds=rng.randrange(7 * 86400))
        return created, min(modified, self.anchor)

    def modified_after(self, kind: str, after: datetime | None) -> list[int]:
        count = self.order_count if kind == "order" else len(self.skus)
        if after is None:
            return list(range(count))
        return [i for i in range(count) if self.dates(kind, i)[1] > after]

    def lines(self, index: int) -> list[tuple[int, str, int, float]]:
        """(line id, sku, quantity, unit price) of order ``index``."""
        rng = self.rng("lines", index)
        return [
            (index * 10 + n + 1, rng.choice(self.skus), rng.randint(1, 4), rng.randint(5, 80) + 0.5)
            for n in range(rng.randint(1, 3))
        ]

    def price(self, sku_index: int) -> float:
        return float(self.rng("price", sku_index).randint(5, 80)) + 0.99


class RestSandbox(SandboxServer):
    """A platform sandbox: subclasses implement ``authorised``, ``denied``, ``rate_limited``
    and ``route``."""

    def __init__(self, scenario: Any, host: str, port: int) -> None:
        super().__init__(RestHandler, scenario, host, port)
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._served = 0
        self._pages = 0
        self._burst_left = 0
        self._errors_left = scenario.server_errors
        self.refused = 0
        """429s answered so far."""

    # -- what a platform says -----------------------------------------------------------------
    def authorised(self, headers: Any, params: dict[str, str]) -> bool:
        raise NotImplementedError

    def denied(self) -> Answer:
        raise NotImplementedError

    def rate_limited(self, wait_s: float) -> Answer:
        return Answer(429, {"error": "Too Many Requests"}, {"Retry-After": f"{wait_s:g}"})

    def route(self, path: str, params: dict[str, str], url: str, headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def is_list_page(self, path: str) -> bool:
        """Whether ``path`` is a list page (counted by ``malformed_page``), not a child request."""
        return True

    # -- shared --------------------------------------------------------------------------------
    def trouble(self) -> int | None:
        with self._lock:
            if self._errors_left > 0:
                self._errors_left -= 1
                return 500
            if self._burst_left > 0:
                self._burst_left -= 1
                return 429
            self._served += 1
            every = self.scenario.rate_limit_every
            if every and self._served % every == 0:
                self._burst_left = self.scenario.rate_limit_burst - 1
                return 429
        return None

    def malformed_now(self) -> bool:
        """Whether this list page is the scenario's malformed one (counted once per page)."""
        with self._lock:
            self._pages += 1
            return bool(self._pages == self.scenario.malformed_page)


class RestHandler(SandboxHandler):
    server: RestSandbox
    content_type = "application/json; charset=UTF-8"

    def _content_type_for(self, status: int, body: bytes) -> str | None:
        return self.content_type if body or status != 204 else None

    def _answer(self, answer: Answer) -> None:
        body = b"" if answer.status == 204 else json.dumps(answer.payload).encode()
        self._send(answer.status, body, answer.headers)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        form = self._read_body().decode()
        if form and "x-www-form-urlencoded" in (self.headers.get("content-type") or ""):
            params.update({k: v[-1] for k, v in parse_qs(form).items()})
        self.server.requests.append(
            SeenRequest(parts.path, dict(params), {k.lower(): v for k, v in self.headers.items()})
        )
        if self.server.scenario.slow_s:
            time.sleep(self.server.scenario.slow_s)
        if not self.server.authorised(self.headers, params):
            self._answer(self.server.denied())
            return
        trouble = self.server.trouble()
        if trouble == 429:
            self.server.refused += 1
            self._answer(self.server.rate_limited(self.server.scenario.retry_after_s))
            return
        if trouble == 500:
            self._answer(Answer(500, {"message": "Internal Server Error"}))
            return
        host = self.headers.get("host") or "127.0.0.1"
        seen = self.server.requests[-1].headers
        answer = self.server.route(parts.path, params, f"http://{host}{self.path}", seen)
        listing = self.server.is_list_page(parts.path)
        if answer.status == 200 and listing and self.server.malformed_now():
            self._send(200, b"<html><body>502 Bad Gateway</body></html>")
            return
        self._answer(answer)

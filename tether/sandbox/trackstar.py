"""A local TrackStar: the WMS API's paths, auth headers, paging and failure modes.

Speaks what ``docs.trackstarhq.com`` documents: ``GET /wms/inventory``, ``/wms/products`` and
``/wms/orders`` answering ``{"data": [...], "next_token": str | null, "total_count": int}``;
``limit`` (default and maximum 1000) and ``page_token``; ``updated_date[gte]``-style filters;
``x-trackstar-api-key`` + ``x-trackstar-access-token`` headers; errors as ``{"error": "..."}``;
501 for an endpoint the connected WMS does not implement; 429 with ``x-rate-limit-retry-after``
(and the standard ``Retry-After``).

Data is generated per record from ``(seed, kind, index)``, so any volume costs nothing until it
is paged through, and the same scenario always serves the same records.
"""

from __future__ import annotations

import base64
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

API_KEY = "ts_sandbox_api_key"
ACCESS_TOKEN = "ts_sandbox_access_token"
MAX_LIMIT = 1000
WAREHOUSES = ("WH-EAST", "WH-WEST")
UNMAPPED_WAREHOUSE = "WH-NORTH"
CHANNELS = ("online_store", "wholesale", "pos")
RESOURCES = {"inventory": "get_inventory", "products": "get_products", "orders": "get_orders"}
STATUSES = ("open", "shipped", "fulfilled", "backordered", "cancelled")
DATE_FILTERS = ("created_date", "updated_date")
OPERATORS = {
    "eq": lambda a, b: a == b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


@dataclass
class Scenario:
    """Switches of the TrackStar sandbox. The defaults are the demo: a little trouble included."""

    seed: int = 7
    skus: int = 200
    """Catalogue size: SKU-00000 … SKU-{n-1}."""
    orders: int = 500
    unmapped_skus: int = 2
    """Extra inventory items/products/order lines with SKUs UNMAPPED-001 … outside the catalogue."""
    unmapped_warehouse: bool = True
    """Stock some items in WH-NORTH, a warehouse the demo mapping does not know."""
    anchor: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    """Records are created and updated in the 90 days before this instant."""
    api_key: str = API_KEY
    access_token: str = ACCESS_TOKEN
    unsupported: tuple[str, ...] = ()
    """Resources ("inventory", "products", "orders") the connected WMS answers 501 for."""
    rate_limit_every: int = 0
    """Every Nth request starts a burst of 429s (0: never)."""
    rate_limit_burst: int = 1
    retry_after_s: float = 1.0
    server_errors: int = 0
    """The next N requests answer ``server_error_status``."""
    server_error_status: int = 500
    """500, or 503 for an outage ("Service Unavailable", as a load balancer answers)."""
    malformed: str = ""
    """"body": 200 with a non-JSON body; "shape": 200 JSON without ``data``."""
    slow_s: float = 0.0
    """Seconds to wait before answering each request."""


@dataclass(frozen=True)
class SeenRequest:
    path: str
    params: dict[str, str]
    api_key_sent: bool
    access_token_sent: bool


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_ts(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


class Catalogue:
    """The deterministic data behind one scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        skus = [f"SKU-{i:05d}" for i in range(scenario.skus)]
        skus += [f"UNMAPPED-{i + 1:03d}" for i in range(scenario.unmapped_skus)]
        self.skus = skus

    def _rng(self, kind: str, index: int) -> random.Random:
        return random.Random(f"{self.scenario.seed}:{kind}:{index}")

    def dates(self, resource: str, index: int) -> tuple[str, str]:
        """(created_date, updated_date), drawn apart from the rest so filters stay cheap."""
        rng = self._rng(f"{resource}:dates", index)
        created = self.scenario.anchor - timedelta(seconds=rng.randrange(90 * 86400))
        updated = created + timedelta(seconds=rng.randrange(7 * 86400))
        return _ts(created), _ts(min(updated, self.scenario.anchor))

    def matching(self, resource: str, filters: list[tuple[str, str, datetime]]) -> list[int]:
        """Indexes of the records passing every date filter, in id order."""
        column = {"created_date": 0, "updated_date": 1}
        found = []
        for index in range(self.count(resource)):
            stamps = self.dates(resource, index)
            if all(
                OPERATORS[op](_parse_ts(stamps[column[name]]), moment)
                for name, op, moment in filters
            ):
                found.append(index)
        return found

    def count(self, resource: str) -> int:
        return self.scenario.orders if resource == "orders" else len(self.skus)

    def record(self, resource: str, index: int) -> dict[str, Any]:
        rng = self._rng(resource, index)
        dates = self.dates(resource, index)
        if resource == "inventory":
            return self._inventory(index, rng, dates)
        if resource == "products":
            return self._product(index, rng, dates)
        return self._order(index, rng, dates)

    def _inventory(self, index: int, rng: random.Random, dates: tuple[str, str]) -> dict[str, Any]:
        created, updated = dates
        warehouses = list(WAREHOUSES)
        if self.scenario.unmapped_warehouse and index % 10 == 0:
            warehouses.append(UNMAPPED_WAREHOUSE)
        by_wh: dict[str, dict[str, int]] = {}
        for wh in warehouses:
            onhand = rng.randrange(0, 500)
            committed = rng.randrange(0, onhand + 1) // 4
            unfulfillable = rng.randrange(0, 3) if onhand > committed + 3 else 0
            fulfillable = onhand - committed - unfulfillable
            by_wh[wh] = {
                "onhand": onhand,
                "committed": committed,
                "unfulfillable": unfulfillable,
                "fulfillable": fulfillable,
                "unsellable": 0,
                "sellable": fulfillable,
                "awaiting": rng.randrange(0, 50),
            }
        totals = {k: sum(v[k] for v in by_wh.values()) for k in next(iter(by_wh.values()))}
        sku = self.skus[index]
        return {
            "id": f"inv_{index:06d}",
            "warehouse_customer_id": "sandbox_customer",
            "created_date": created,
            "updated_date": updated,
            "name": f"Item {sku}",
            "sku": sku,
            "unit_cost": round(rng.uniform(1, 40), 2),
            "active": True,
            **totals,
            "substitute_skus": [],
            "inventory_by_warehouse_id": by_wh,
            "lots": [],
            "locations": [],
        }

    def _product(self, index: int, rng: random.Random, dates: tuple[str, str]) -> dict[str, Any]:
        created, updated = dates
        sku = self.skus[index]
        return {
            "id": f"prod_{index:06d}",
            "warehouse_customer_id": "sandbox_customer",
            "created_date": created,
            "updated_date": updated,
            "name": f"Product {sku}",
            "sku": sku,
            "gtin": f"{rng.randrange(10**12, 10**13)}",
            "inventory_items": [
                {"inventory_item_id": f"inv_{index:06d}", "sku": sku, "unit_quantity": 1}
            ],
            "is_kit": False,
            "active": True,
            "supplier": "Sandbox Supplier",
            "country_of_origin": "USA",
        }

    def _order(self, index: int, rng: random.Random, dates: tuple[str, str]) -> dict[str, Any]:
        created, updated = dates
        warehouse = WAREHOUSES[index % len(WAREHOUSES)]
        if self.scenario.unmapped_warehouse and index % 25 == 0:
            warehouse = UNMAPPED_WAREHOUSE
        lines = []
        for _ in range(rng.randrange(1, 4)):
            if self.scenario.unmapped_skus and rng.random() < 0.02:
                sku = f"UNMAPPED-{rng.randrange(self.scenario.unmapped_skus) + 1:03d}"
            else:
                sku = f"SKU-{rng.randrange(max(1, self.scenario.skus)):05d}"
            lines.append(
                {
                    "product_id": f"prod_{sku}",
                    "sku": sku,
                    "quantity": rng.randrange(1, 6),
                    "unit_price": round(rng.uniform(3, 60), 2),
                }
            )
        status = STATUSES[rng.randrange(len(STATUSES))]
        shipped = status in ("shipped", "fulfilled")
        return {
            "id": f"ord_{index:07d}",
            "warehouse_customer_id": "sandbox_customer",
            "created_date": created,
            "updated_date": updated,
            "reference_id": f"ref-{index:07d}",
            "order_number": f"#TS{100000 + index}",
            "status": status,
            "channel": CHANNELS[rng.randrange(len(CHANNELS))],
            "warehouse_id": warehouse,
            "shipping_method": "ground",
            "invoice_currency_code": "USD",
            "line_items": lines,
            "shipments": (
                [
                    {
                        "shipment_id": f"shp_{index:07d}",
                        "warehouse_id": warehouse,
                        "shipped_date": updated,
                        "products": [
                            {k: ln[k] for k in ("product_id", "sku", "quantity")} for ln in lines
                        ],
                        "tracking_number": f"1Z{index:010d}",
                        "carrier": "UPS",
                    }
                ]
                if shipped
                else []
            ),
        }


def _filters(params: dict[str, str]) -> list[tuple[str, str, datetime]]:
    """``updated_date[gte]=…`` → ``[("updated_date", "gte", datetime)]``; raises ValueError."""
    found = []
    for key, value in params.items():
        name, _, rest = key.partition("[")
        if name not in DATE_FILTERS:
            continue
        op = rest.rstrip("]") if rest else "eq"
        moment = _parse_ts(value)
        if op not in OPERATORS or moment is None:
            raise ValueError(
                f"Invalid filter {key}={value!r}: the date format must be YYYY-MM-DDTHH:MM:SSZ "
                f"and the operator one of {', '.join(OPERATORS)}."
            )
        found.append((name, op, moment))
    return found


def _encode_token(offset: int, params: dict[str, str]) -> str:
    raw = json.dumps({"offset": offset, "filters": sorted(params.items())})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_token(token: str, params: dict[str, str]) -> int:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(state["offset"])
        same = [tuple(x) for x in state["filters"]] == sorted(params.items())
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("Invalid page_token.") from exc
    if not same:
        raise ValueError("page_token does not match the filters; keep all original filters.")
    return offset


class TrackStarServer(SandboxServer):
    scenario: Scenario

    def __init__(self, scenario: Scenario, host: str, port: int) -> None:
        super().__init__(TrackStarHandler, scenario, host, port)
        self.catalogue = Catalogue(scenario)
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._served = 0
        self._burst_left = 0
        self._errors_left = scenario.server_errors
        self._matching: dict[tuple[Any, ...], list[int]] = {}

    def matching(self, resource: str, filters: list[tuple[str, str, datetime]]) -> list[int]:
        """Filtered record indexes, computed once per (resource, filters) and cached."""
        key = (resource, tuple(sorted(filters)))
        with self._lock:
            cached = self._matching.get(key)
        if cached is None:
            cached = self.catalogue.matching(resource, filters)
            with self._lock:
                self._matching[key] = cached
        return cached

    def trouble(self) -> int | None:
        """The status this request is answered with instead of data, if any (thread-safe)."""
        with self._lock:
            if self._errors_left > 0:
                self._errors_left -= 1
                return 500
            if self._burst_left > 0:
                self._burst_left -= 1
                return 429
            self._served += 1  # requests outside a burst; every Nth of them starts one
            every = self.scenario.rate_limit_every
            if every and self._served % every == 0:
                self._burst_left = self.scenario.rate_limit_burst - 1
                return 429
        return None


class TrackStarHandler(SandboxHandler):
    server: TrackStarServer

    def do_GET(self) -> None:
        scenario = self.server.scenario
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.server.requests.append(
            SeenRequest(
                parts.path,
                dict(params),
                bool(self.headers.get("x-trackstar-api-key")),
                bool(self.headers.get("x-trackstar-access-token")),
            )
        )
        if scenario.slow_s:
            time.sleep(scenario.slow_s)
        resource = parts.path.removeprefix("/wms/")
        if not parts.path.startswith("/wms/") or resource not in RESOURCES:
            self._json(404, {"error": f"Not found: {parts.path}"})
            return
        if self.headers.get("x-trackstar-api-key") != scenario.api_key:
            self._json(401, {"error": "Invalid API key"})
            return
        if self.headers.get("x-trackstar-access-token") != scenario.access_token:
            self._json(401, {"error": "Invalid access token"})
            return
        trouble = self.server.trouble()
        if trouble == 429:
            wait = f"{scenario.retry_after_s:g}"
            self._json(
                429,
                {"error": "Rate limit exceeded"},
                {"Retry-After": wait, "x-rate-limit-retry-after": wait, "x-rate-limit-limit": "10"},
            )
            return
        if trouble == 500:
            status = scenario.server_error_status
            message = "Service unavailable" if status == 503 else "Internal server error"
            self._json(status, {"error": message})
            return
        if resource in scenario.unsupported:
            self._json(
                501, {"error": f"Endpoint {RESOURCES[resource]} is not implemented for Sandbox WMS"}
            )
            return
        self._list(resource, params)

    def _list(self, resource: str, params: dict[str, str]) -> None:
        token = params.pop("page_token", None)
        try:
            limit = int(params.pop("limit", MAX_LIMIT))
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError(f"limit must be between 1 and {MAX_LIMIT}.")
            filters = _filters(params)
            offset = _decode_token(token, params) if token else 0
        except ValueError as exc:
            self._json(400, {"error": str(exc)})
            return
        if self.server.scenario.malformed == "body":
            self._send(200, b"<html><body>502 Bad Gateway</body></html>")
            return
        if self.server.scenario.malformed == "shape":
            self._json(200, {"items": [], "next": None})
            return
        indexes = self.server.matching(resource, filters)
        matched = len(indexes)
        data = [self.server.catalogue.record(resource, i) for i in indexes[offset : offset + limit]]
        more = offset + limit < matched
        self._json(
            200,
            {
                "data": data,
                "next_token": _encode_token(offset + limit, params) if more else None,
                "total_count": len(data),  # "The number of items returned" (API reference)
            },
        )


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> SandboxServer:
    """A TrackStar sandbox (not started). Defaults to the demo scenario."""
    return TrackStarServer(scenario or Scenario(), host, port)

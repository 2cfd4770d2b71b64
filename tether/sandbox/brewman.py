"""A local Brewman: the Web API's three read methods Tether uses, with its tenant check.

Speaks the shapes of Brewman's published Web API client (Premier-Systems/brewman-api, generated
from the service's Swagger): every method is ``POST /webapi/{Resource}/v{n}/{Method}`` with an
``Api-Token`` header and the ``tenantId`` in the JSON body.

* ``Order/v2/GetOrdersByFilter`` — ``{"tenantId", "filter": {"fromOrderDate", "toOrderDate",
  "maximumResults", ...}}`` → ``{"results": {"matchingCount": n, "orders": [...]}}``. The window is
  ``fromOrderDate <= createdAt < toOrderDate`` (oldest first); only the first ``maximumResults``
  orders are returned, ``matchingCount`` says how many matched. There is no cursor.
* ``Stock/v1/GetStockItemsQuantityCurrentlyInStock`` — ``{"tenantId"}`` → ``{"stockLevels":
  [{"stockItemId", "stockLocationId", "quantity", "unitOfMeasureId"}]}``.
* ``Item/v1/GetEntireItemsByFilter`` — ``{"tenantId", "filter": {"mainPurposes",
  "maximumResults"}}`` → ``{"results": {"matchingCount", "entireItems": [{"details": {...},
  "flatPricing": {...}, ...}]}}``.

Stock locations are named like Tether's warehouses (WH-EAST, WH-WEST), outlet types like its
channels (taproom, distributor, pub). Data is generated from the seed; the same scenario always
serves the same records.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from tether.sandbox.base import SandboxServer
from tether.sandbox.handler import SandboxHandler

API_TOKEN = "bm_sandbox_api_token"
TENANT_ID = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"
LOCATIONS = ("WH-EAST", "WH-WEST")
CHANNELS = ("taproom", "distributor", "pub")
UNMAPPED_CHANNEL = "festival"
STATUSES = ("Open", "Complete", "Complete", "Historic", "Cancelled")
SERVER_MAXIMUM = 5000
"""Results one call returns at most, whatever ``maximumResults`` asks for."""
ROUTE = re.compile(r"^/webapi/(?P<resource>\w+)/v(?P<version>\d+)/(?P<method>\w+)$")


def _today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Scenario:
    """Switches of the Brewman sandbox. The defaults are the demo."""

    seed: int = 11
    skus: int = 60
    """Catalogue size: SKU-00000 … SKU-{n-1} (breweries sell a few dozen products)."""
    orders: int = 400
    days: int = 120
    """Orders are spread over this many days before ``anchor``."""
    busy_day_orders: int = 0
    """Extra orders all placed on one day (3 days before ``anchor``), e.g. a festival weekend."""
    unmapped_skus: int = 2
    unmapped_channel: bool = True
    """Some orders come from the outlet type "festival", which the demo mapping lacks."""
    anchor: datetime = field(default_factory=_today)
    api_token: str = API_TOKEN
    tenant_id: str = TENANT_ID
    server_errors: int = 0
    """The next N requests answer 500."""
    malformed: str = ""
    """"body": 200 with a non-JSON body; "shape": 200 JSON without ``results``."""
    slow_s: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    path: str
    body: Any
    token_sent: bool


def _uuid(kind: int, index: int) -> str:
    return f"{kind:08x}-0000-4000-8000-{index:012x}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Brewery:
    """The deterministic data behind one scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        codes = [f"SKU-{i:05d}" for i in range(scenario.skus)]
        codes += [f"UNMAPPED-{i + 1:03d}" for i in range(scenario.unmapped_skus)]
        self.codes = codes

    @cached_property
    def items(self) -> list[dict[str, Any]]:
        rng = random.Random(f"{self.scenario.seed}:items")
        products = [self._item(i, code, "Product", rng) for i, code in enumerate(self.codes)]
        materials = [
            self._item(len(self.codes) + i, f"MAT-{name}", "Material", rng)
            for i, name in enumerate(("MARIS-OTTER", "CASCADE", "US-05"))
        ]
        return products + materials

    def _item(self, index: int, code: str, purpose: str, rng: random.Random) -> dict[str, Any]:
        return {
            "details": {
                "id": _uuid(1, index),
                "code": code,
                "name": f"{'Beer' if purpose == 'Product' else 'Material'} {code}",
                "mainPurpose": purpose,
                "costPrice": round(rng.uniform(0.5, 30), 2),
                "isHidden": False,
                "unitOfMeasureId": _uuid(9, 1),
                "version": 1,
                "behaviours": {},
            },
            "flatPricing": {
                "flatSalesPrice": round(rng.uniform(2, 120), 2),
                "isFlatSalesPriceGross": False,
            },
            "stock": {"isBatchTracked": True, "isPerishable": True, "stockGroupId": _uuid(8, 1)},
        }

    @cached_property
    def stock_levels(self) -> list[dict[str, Any]]:
        rng = random.Random(f"{self.scenario.seed}:stock")
        return [
            {
                "stockItemId": item["details"]["id"],
                "stockLocationId": location,
                "quantity": float(rng.randrange(0, 400)),
                "unitOfMeasureId": item["details"]["unitOfMeasureId"],
            }
            for item in self.items
            for location in LOCATIONS
        ]

    @cached_property
    def orders(self) -> list[dict[str, Any]]:
        """Every order, oldest first."""
        scenario = self.scenario
        made = [self._order(i, None) for i in range(scenario.orders)]
        busy = scenario.anchor - timedelta(days=3)
        made += [self._order(scenario.orders + i, busy) for i in range(scenario.busy_day_orders)]
        made.sort(key=lambda o: (o["header"]["readOnly"]["createdAt"], o["id"]))
        return made

    @cached_property
    def created(self) -> list[datetime]:
        """Each order's creation time, in the order of ``orders`` (for bisecting windows)."""
        return [datetime.fromisoformat(o["header"]["readOnly"]["createdAt"]) for o in self.orders]

    def _order(self, index: int, day: datetime | None) -> dict[str, Any]:
        scenario = self.scenario
        rng = random.Random(f"{scenario.seed}:order:{index}")
        if day is None:
            created = scenario.anchor - timedelta(seconds=rng.randrange(scenario.days * 86400))
        else:
            created = day + timedelta(seconds=rng.randrange(86400))
        order_id = _uuid(2, index)
        channel = CHANNELS[rng.randrange(len(CHANNELS))]
        if scenario.unmapped_channel and index % 20 == 7:
            channel = UNMAPPED_CHANNEL
        location = LOCATIONS[rng.randrange(len(LOCATIONS))]
        lines: list[dict[str, Any]] = []
        for n in range(rng.randrange(1, 4)):
            if scenario.unmapped_skus and rng.random() < 0.03:
                code = f"UNMAPPED-{rng.randrange(scenario.unmapped_skus) + 1:03d}"
            else:
                code = f"SKU-{rng.randrange(max(1, scenario.skus)):05d}"
            quantity = float(rng.randrange(1, 12))
            price = round(rng.uniform(2, 120), 2)
            lines.append(
                {
                    "id": _uuid(3, index * 10 + n),
                    "orderId": order_id,
                    "sequence": n,
                    "productCode": code,
                    "productName": f"Beer {code}",
                    "stockItemId": _uuid(1, self.codes.index(code)) if code in self.codes else "",
                    "stockLocationId": location,
                    "quantity": quantity,
                    "unitNetPrice": price,
                    "lineNetPrice": round(quantity * price, 2),
                    "lineVat": round(quantity * price * 0.2, 2),
                    "vatPercentage": 20.0,
                }
            )
        total = round(sum(line["lineNetPrice"] for line in lines), 2)
        return {
            "id": order_id,
            "header": {
                "orderId": order_id,
                "outletTypeId": channel,
                "salesCodeId": f"SC-{channel.upper()}",
                "distributionType": "Delivery" if channel != "taproom" else "Collection",
                "deliveryDate": _iso(created + timedelta(days=2)),
                "customerReference": f"PO-{index:06d}",
                "version": 1,
                "readOnly": {
                    "orderNumber": f"BM{10000 + index}",
                    "status": STATUSES[rng.randrange(len(STATUSES))],
                    "orderSource": "BrewMan",
                    "outletId": _uuid(4, rng.randrange(40)),
                    "createdAt": _iso(created),
                    "lastUpdatedAt": _iso(created + timedelta(hours=rng.randrange(48))),
                    "totalNetPrice": total,
                    "totalVat": round(total * 0.2, 2),
                    "isRetailOrder": channel == "taproom",
                },
            },
            "lines": lines,
        }


class BrewmanServer(SandboxServer):
    scenario: Scenario

    def __init__(self, scenario: Scenario, host: str, port: int) -> None:
        super().__init__(BrewmanHandler, scenario, host, port)
        self.brewery = Brewery(scenario)
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._errors_left = scenario.server_errors

    def enter_late(self, count: int, day: datetime) -> list[str]:
        """``count`` orders entered now but dated ``day`` (paper orders typed in after a
        festival): an incremental sync, whose cursor passed ``day``, never sees them."""
        brewery = self.brewery
        with self._lock:
            first = len(brewery.orders) + 1_000_000
            added = [brewery._order(first + i, day) for i in range(count)]
            brewery.orders.extend(added)
            brewery.orders.sort(key=lambda o: (o["header"]["readOnly"]["createdAt"], o["id"]))
            brewery.__dict__.pop("created", None)
        return [o["id"] for o in added]

    def delete(self, order_id: str) -> None:
        """Remove an order, as deleting it in Brewman does (the state keeps what it loaded)."""
        brewery = self.brewery
        with self._lock:
            brewery.orders[:] = [o for o in brewery.orders if o["id"] != order_id]
            brewery.__dict__.pop("created", None)

    def edit(self, order_id: str, quantity: float, at: datetime) -> None:
        """Change an order's first line after the fact (``lastUpdatedAt`` moves, the order date
        does not): the late edit an order-date filter misses."""
        with self._lock:
            order = next(o for o in self.brewery.orders if o["id"] == order_id)
            line = order["lines"][0]
            line["quantity"] = quantity
            line["lineNetPrice"] = round(quantity * line["unitNetPrice"], 2)
            read_only = order["header"]["readOnly"]
            read_only["lastUpdatedAt"] = _iso(at)
            read_only["totalNetPrice"] = round(sum(x["lineNetPrice"] for x in order["lines"]), 2)

    def next_is_error(self) -> bool:
        with self._lock:
            if self._errors_left > 0:
                self._errors_left -= 1
                return True
        return False


def _problem(status: int, title: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """ASP.NET Core's problem-details body, as Brewman's Web API answers errors."""
    body: dict[str, Any] = {"title": title, "status": status}
    if errors:
        body["errors"] = errors
    return body


class BrewmanHandler(SandboxHandler):
    server: BrewmanServer

    def do_GET(self) -> None:
        self._json(405, _problem(405, "Method Not Allowed: Brewman Web API methods are POST"))

    def do_POST(self) -> None:
        scenario = self.server.scenario
        raw = self._read_body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        self.server.requests.append(
            SeenRequest(self.path, body, bool(self.headers.get("Api-Token")))
        )
        if scenario.slow_s:
            time.sleep(scenario.slow_s)
        route = ROUTE.match(self.path)
        handler = self._methods().get(
            (route["resource"], route["method"]) if route else ("", ""), None
        )
        if route is None or handler is None:
            self._json(404, _problem(404, f"No such Web API method: {self.path}"))
            return
        if self.headers.get("Api-Token") != scenario.api_token:
            self._json(401, _problem(401, "Unauthorized: invalid or missing Api-Token"))
            return
        if not isinstance(body, dict) or not body.get("tenantId"):
            self._json(
                400,
                _problem(
                    400,
                    "One or more validation errors occurred.",
                    {"tenantId": ["The tenantId field is required."]},
                ),
            )
            return
        if body["tenantId"] != scenario.tenant_id:
            self._json(403, _problem(403, "Forbidden: the Api-Token has no access to this tenant"))
            return
        if self.server.next_is_error():
            self._json(500, _problem(500, "An unexpected error occurred."))
            return
        if scenario.malformed == "body":
            self._send(
                200, b"<html><body>Service Unavailable</body></html>", content_type="text/html"
            )
            return
        if scenario.malformed == "shape":
            self._json(200, {"message": "ok"})
            return
        handler(body.get("filter") or {})

    def _methods(self) -> dict[tuple[str, str], Any]:
        return {
            ("Order", "GetOrdersByFilter"): self._orders,
            ("Stock", "GetStockItemsQuantityCurrentlyInStock"): self._stock,
            ("Item", "GetEntireItemsByFilter"): self._items,
        }

    def _maximum(self, query: dict[str, Any]) -> int:
        asked = query.get("maximumResults")
        return min(int(asked), SERVER_MAXIMUM) if isinstance(asked, int) else 1000

    def _orders(self, query: dict[str, Any]) -> None:
        brewery = self.server.brewery
        start = _parse(query.get("fromOrderDate"))
        end = _parse(query.get("toOrderDate"))
        first = bisect_left(brewery.created, start) if start else 0
        stop = bisect_left(brewery.created, end) if end else len(brewery.created)
        matching = max(0, stop - first)
        orders = brewery.orders[first : first + min(matching, self._maximum(query))]
        self._json(200, {"results": {"matchingCount": matching, "orders": orders}})

    def _stock(self, query: dict[str, Any]) -> None:
        self._json(200, {"stockLevels": self.server.brewery.stock_levels})

    def _items(self, query: dict[str, Any]) -> None:
        purposes = query.get("mainPurposes") or []
        matching = [
            item
            for item in self.server.brewery.items
            if not purposes or item["details"]["mainPurpose"] in purposes
        ]
        limit = self._maximum(query)
        self._json(
            200, {"results": {"matchingCount": len(matching), "entireItems": matching[:limit]}}
        )


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> SandboxServer:
    """A Brewman sandbox (not started). Defaults to the demo scenario."""
    return BrewmanServer(scenario or Scenario(), host, port)

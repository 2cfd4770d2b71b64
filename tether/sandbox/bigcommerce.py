"""A local BigCommerce store: v2 orders (and each order's products) and v3 catalog products.

Speaks what developer.bigcommerce.com documents: every path under ``/stores/{store_hash}``;
the API account's token in ``X-Auth-Token`` (401 otherwise); v2 ``GET /v2/orders`` with
``min_date_modified`` (RFC 2822 or ISO-8601), ``sort``, ``page`` and ``limit`` (default 50, at
most 250) answering a JSON array, or **204 No Content** when nothing matches (also past the
last page); dates in RFC 2822 and money as strings ("12.5000"); ``GET
/v2/orders/{id}/products``; v3 ``GET /v3/catalog/products`` with ``date_modified:min``,
answering ``{"data": [...], "meta": {"pagination": {...}}}``. A 429 carries
``X-Rate-Limit-Time-Reset-Ms`` (no ``Retry-After``) like the real quota.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from tether.sandbox.base import SandboxServer
from tether.sandbox.rest_base import Answer, RestSandbox, Store, Trouble

STORE_HASH = "abc123sandbox"
ACCESS_TOKEN = "bc_sandbox_access_token"
MAX_LIMIT = 250
STATUSES = (
    (11, "Awaiting Fulfillment", 30),
    (10, "Completed", 30),
    (2, "Shipped", 15),
    (1, "Pending", 8),
    (7, "Awaiting Payment", 5),
    (5, "Cancelled", 5),
    (4, "Refunded", 4),
    (14, "Partially Refunded", 3),
)
PAID = frozenset({2, 3, 8, 9, 10, 11, 14})
_ORDER_PRODUCTS = re.compile(r"^/v2/orders/(\d+)/products$")


@dataclass
class Scenario(Trouble):
    seed: int = 13
    orders: int = 300
    skus: int = 40
    unmapped_skus: int = 1
    anchor: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    store_hash: str = STORE_HASH
    access_token: str = ACCESS_TOKEN


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def _parse_date(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class BigCommerceSandbox(RestSandbox):
    scenario: Scenario

    def __init__(self, scenario: Scenario, host: str, port: int) -> None:
        super().__init__(scenario, host, port)
        s = scenario
        self.store = Store(s.seed, s.orders, s.skus, s.unmapped_skus, s.anchor)

    def authorised(self, headers: Any, params: dict[str, str]) -> bool:
        return bool(headers.get("x-auth-token") == self.scenario.access_token)

    def denied(self) -> Answer:
        return Answer(401, [{"status": 401, "message": "You are not authorized to do this."}])

    def rate_limited(self, wait_s: float) -> Answer:
        return Answer(
            429,
            {"status": 429, "title": "Too many requests"},
            {
                "X-Rate-Limit-Time-Reset-Ms": str(int(wait_s * 1000)),
                "X-Rate-Limit-Time-Window-Ms": "30000",
                "X-Rate-Limit-Requests-Left": "0",
                "X-Rate-Limit-Requests-Quota": "150",
            },
        )

    def is_list_page(self, path: str) -> bool:
        return not path.endswith("/products") or path.endswith("/catalog/products")

    def status(self, index: int) -> tuple[int, str]:
        rng = self.store.rng("status", index)
        chosen = rng.choices(STATUSES, [w for _, _, w in STATUSES])[0]
        return chosen[0], chosen[1]

    def order_products(self, index: int) -> list[dict[str, Any]]:
        return [
            {
                "id": line_id,
                "order_id": index + 100,
                "product_id": 1 + self.store.skus.index(sku),
                "name": f"Product {sku}",
                "sku": sku,
                "quantity": quantity,
                "base_price": f"{price:.4f}",
                "price_inc_tax": f"{price:.4f}",
            }
            for line_id, sku, quantity, price in self.store.lines(index)
        ]

    def order(self, index: int) -> dict[str, Any]:
        created, modified = self.store.dates("order", index)
        status_id, status = self.status(index)
        total = sum(float(p["price_inc_tax"]) * p["quantity"] for p in self.order_products(index))
        order_id = index + 100
        return {
            "id": order_id,
            "status_id": status_id,
            "status": status,
            "date_created": _rfc2822(created),
            "date_modified": _rfc2822(modified),
            "currency_code": "USD",
            "total_inc_tax": f"{total:.4f}",
            "order_source": "www",
            "products": {
                "url": f"https://api.bigcommerce.com/stores/{self.scenario.store_hash}/v2/orders/"
                f"{order_id}/products",
                "resource": f"/orders/{order_id}/products",
            },
        }

    def order_list(self) -> list[dict[str, Any]]:
        return [self.order(i) for i in range(self.scenario.orders)]

    def product(self, index: int) -> dict[str, Any]:
        _, modified = self.store.dates("product", index)
        return {
            "id": 1 + index,
            "name": f"Product {self.store.skus[index]}",
            "sku": self.store.skus[index],
            "price": self.store.price(index),
            "date_modified": modified.isoformat(),
        }

    def route(self, path: str, params: dict[str, str], url: str, headers: dict[str, str]) -> Answer:
        prefix = f"/stores/{self.scenario.store_hash}"
        if not path.startswith(prefix + "/"):
            return Answer(
                404, [{"status": 404, "message": "The requested resource was not found."}]
            )
        path = path.removeprefix(prefix)
        try:
            limit = int(params.get("limit", 50))
            page = int(params.get("page", 1))
        except ValueError:
            return Answer(400, [{"status": 400, "message": "The field 'limit' is invalid."}])
        if not 1 <= limit <= MAX_LIMIT:
            return Answer(400, [{"status": 400, "message": "The field 'limit' is invalid."}])
        if path == "/v2/orders":
            return self._orders(params, page, limit)
        match = _ORDER_PRODUCTS.match(path)
        if match:
            index = int(match.group(1)) - 100
            if not 0 <= index < self.scenario.orders:
                return Answer(
                    404, [{"status": 404, "message": "The requested resource was not found."}]
                )
            products = self.order_products(index)[(page - 1) * limit : page * limit]
            return Answer(200, products) if products else Answer(204, None)
        if path == "/v3/catalog/products":
            return self._products(params, page, limit, url)
        return Answer(404, [{"status": 404, "message": "The requested resource was not found."}])

    def _orders(self, params: dict[str, str], page: int, limit: int) -> Answer:
        after = None
        if params.get("min_date_modified"):
            after = _parse_date(params["min_date_modified"])
            if after is None:
                return Answer(
                    400, [{"status": 400, "message": "The field 'min_date_modified' is invalid."}]
                )
        # min_date_modified is inclusive.
        indexes = [
            i
            for i in range(self.scenario.orders)
            if after is None or self.store.dates("order", i)[1] >= after
        ]
        if params.get("sort") == "date_modified:asc":
            indexes.sort(key=lambda i: (self.store.dates("order", i)[1], i))
        chosen = indexes[(page - 1) * limit : page * limit]
        if not chosen:
            return Answer(204, None)
        return Answer(200, [self.order(i) for i in chosen])

    def _products(self, params: dict[str, str], page: int, limit: int, url: str) -> Answer:
        after = (
            _parse_date(params["date_modified:min"]) if params.get("date_modified:min") else None
        )
        indexes = [
            i
            for i in range(len(self.store.skus))
            if after is None or self.store.dates("product", i)[1] >= after
        ]
        pages = max(1, math.ceil(len(indexes) / limit))
        chosen = indexes[(page - 1) * limit : page * limit]
        links: dict[str, str] = {"current": f"?page={page}&limit={limit}"}
        if page < pages:
            links["next"] = f"?page={page + 1}&limit={limit}"
        if page > 1:
            links["previous"] = f"?page={page - 1}&limit={limit}"
        meta = {
            "pagination": {
                "total": len(indexes),
                "count": len(chosen),
                "per_page": limit,
                "current_page": page,
                "total_pages": pages,
                "links": links,
            }
        }
        return Answer(200, {"data": [self.product(i) for i in chosen], "meta": meta})


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> SandboxServer:
    """A BigCommerce sandbox (not started). Defaults to the demo scenario."""
    return BigCommerceSandbox(scenario or Scenario(), host, port)

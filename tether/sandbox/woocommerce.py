"""A local WooCommerce store: the REST API v3 under ``/wp-json/wc/v3``.

Speaks what woocommerce.github.io/woocommerce-rest-api-docs documents: ``GET /orders`` and
``/products`` answering a JSON array, ``page``/``per_page`` (1-100, default 10) with the
``X-WP-Total`` and ``X-WP-TotalPages`` headers, a page past the last answering 400
``rest_post_invalid_page_number``; ``status`` (comma-separated: pending, processing, on-hold,
completed, cancelled, refunded, failed), ``modified_after`` (ISO-8601, GMT with
``dates_are_gmt``); HTTP basic auth with the consumer key and secret (or ``consumer_key``/
``consumer_secret`` query parameters), 401 ``woocommerce_rest_authentication_error`` otherwise.
Money is sent as strings ("12.50"), line prices as numbers, as WooCommerce does.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tether.sandbox.base import SandboxServer
from tether.sandbox.rest_base import Answer, RestSandbox, Store, Trouble

CONSUMER_KEY = "ck_sandbox_0123456789abcdef"
CONSUMER_SECRET = "cs_sandbox_fedcba9876543210"
PREFIX = "/wp-json/wc/v3"
MAX_PER_PAGE = 100
STATUSES = (
    ("processing", 35),
    ("completed", 40),
    ("pending", 8),
    ("on-hold", 5),
    ("cancelled", 5),
    ("refunded", 5),
    ("failed", 2),
)


@dataclass
class Scenario(Trouble):
    seed: int = 11
    orders: int = 300
    skus: int = 40
    unmapped_skus: int = 1
    anchor: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    consumer_key: str = CONSUMER_KEY
    consumer_secret: str = CONSUMER_SECRET


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _error(status: int, code: str, message: str, **data: Any) -> Answer:
    return Answer(status, {"code": code, "message": message, "data": {"status": status, **data}})


class WooCommerceSandbox(RestSandbox):
    scenario: Scenario

    def __init__(self, scenario: Scenario, host: str, port: int) -> None:
        super().__init__(scenario, host, port)
        s = scenario
        self.store = Store(s.seed, s.orders, s.skus, s.unmapped_skus, s.anchor)

    def authorised(self, headers: Any, params: dict[str, str]) -> bool:
        s = self.scenario
        expected = base64.b64encode(f"{s.consumer_key}:{s.consumer_secret}".encode()).decode()
        if headers.get("authorization") == f"Basic {expected}":
            return True
        return params.get("consumer_key") == s.consumer_key and (
            params.get("consumer_secret") == s.consumer_secret
        )

    def denied(self) -> Answer:
        return _error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")

    def status(self, index: int) -> str:
        names = [name for name, _ in STATUSES]
        return self.store.rng("status", index).choices(names, [w for _, w in STATUSES])[0]

    def order(self, index: int) -> dict[str, Any]:
        created, modified = self.store.dates("order", index)
        lines: list[dict[str, Any]] = [
            {
                "id": line_id,
                "name": f"Product {sku}",
                "product_id": 1000 + self.store.skus.index(sku),
                "variation_id": 0,
                "quantity": quantity,
                "subtotal": f"{quantity * price:.2f}",
                "total": f"{quantity * price:.2f}",
                "sku": sku,
                "price": price,
            }
            for line_id, sku, quantity, price in self.store.lines(index)
        ]
        total = sum(line["quantity"] * line["price"] for line in lines)
        return {
            "id": index + 1,
            "parent_id": 0,
            "number": str(index + 1),
            "order_key": f"wc_order_{index + 1:08d}",
            "created_via": "checkout",
            "status": self.status(index),
            "currency": "USD",
            "date_created": _gmt(created),
            "date_created_gmt": _gmt(created),
            "date_modified": _gmt(modified),
            "date_modified_gmt": _gmt(modified),
            "total": f"{total:.2f}",
            "line_items": lines,
        }

    def order_list(self) -> list[dict[str, Any]]:
        return [self.order(i) for i in range(self.scenario.orders)]

    def product(self, index: int) -> dict[str, Any]:
        _, modified = self.store.dates("product", index)
        price = f"{self.store.price(index):.2f}"
        return {
            "id": 1000 + index,
            "name": f"Product {self.store.skus[index]}",
            "type": "simple",
            "status": "publish",
            "sku": self.store.skus[index],
            "price": price,
            "regular_price": price,
            "date_modified": _gmt(modified),
            "date_modified_gmt": _gmt(modified),
        }

    def route(self, path: str, params: dict[str, str], url: str, headers: dict[str, str]) -> Answer:
        kind = {f"{PREFIX}/orders": "order", f"{PREFIX}/products": "product"}.get(path)
        if kind is None:
            return _error(404, "rest_no_route", "No route was found matching the URL.")
        try:
            per_page = int(params.get("per_page", 10))
            page = int(params.get("page", 1))
        except ValueError:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): page, per_page")
        if not 1 <= per_page <= MAX_PER_PAGE:
            return _error(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): per_page",
                params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"},
            )
        after = None
        if params.get("modified_after"):
            try:
                after = datetime.fromisoformat(params["modified_after"].replace("Z", "+00:00"))
            except ValueError:
                return _error(400, "rest_invalid_param", "Invalid parameter(s): modified_after")
            after = after.replace(tzinfo=UTC) if after.tzinfo is None else after
        indexes = self.store.modified_after(kind, after)
        if kind == "order":
            wanted = set((params.get("status") or "any").split(","))
            if "any" not in wanted:
                indexes = [i for i in indexes if self.status(i) in wanted]
        total = len(indexes)
        pages = math.ceil(total / per_page)
        if page > max(pages, 1):
            return _error(
                400,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        chosen = indexes[(page - 1) * per_page : page * per_page]
        make = self.order if kind == "order" else self.product
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        return Answer(200, [make(i) for i in chosen], headers)


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> SandboxServer:
    """A WooCommerce sandbox (not started). Defaults to the demo scenario."""
    return WooCommerceSandbox(scenario or Scenario(), host, port)

"""A local ShipBob: API 1.0 inventory levels per fulfillment center.

Speaks what developer.shipbob.com documents: ``GET /1.0/inventory`` with a personal access
token as ``Authorization: Bearer`` (401 otherwise); ``Page`` and ``Limit`` (at most 250),
answering a JSON array with the ``page-number``, ``total-pages``, ``total-count`` and — while
there is one — ``next-page`` headers (a path with the next page's query); ``IsActive``; each
item's quantities per fulfillment center in ``fulfillable_quantity_by_fulfillment_center``.
A 429 carries ``Retry-After`` and the ``x-ratelimit-*`` headers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tether.sandbox.base import SandboxServer
from tether.sandbox.rest_base import Answer, RestSandbox, Trouble

API_TOKEN = "shipbob_sandbox_pat"
MAX_LIMIT = 250
CENTERS = ((228, "Moreno Valley (CA)"), (10, "Cicero (IL)"))
UNMAPPED_CENTER = (26, "Bethlehem (PA)")


@dataclass
class Scenario(Trouble):
    seed: int = 17
    items: int = 60
    unmapped_center: bool = True
    """Stock some items in Bethlehem (PA), a center the demo mapping does not know."""
    api_token: str = API_TOKEN


class ShipBobSandbox(RestSandbox):
    scenario: Scenario

    def authorised(self, headers: Any, params: dict[str, str]) -> bool:
        return bool(headers.get("authorization") == f"Bearer {self.scenario.api_token}")

    def denied(self) -> Answer:
        return Answer(401, {"message": "Authorization has been denied for this request."})

    def rate_limited(self, wait_s: float) -> Answer:
        return Answer(
            429,
            {"message": "API calls quota exceeded! maximum admitted 150 per 1m."},
            {
                "Retry-After": f"{wait_s:g}",
                "x-ratelimit-limit": "150",
                "x-ratelimit-remaining": "0",
            },
        )

    def item(self, index: int) -> dict[str, Any]:
        import random

        rng = random.Random(f"{self.scenario.seed}:item:{index}")
        centers = list(CENTERS)
        if self.scenario.unmapped_center and index % 7 == 3:
            centers.append(UNMAPPED_CENTER)
        levels = []
        for center_id, name in centers:
            onhand = rng.randint(0, 400)
            committed = rng.randint(0, onhand // 4)
            levels.append(
                {
                    "id": center_id,
                    "name": name,
                    "fulfillable_quantity": onhand - committed,
                    "onhand_quantity": onhand,
                    "committed_quantity": committed,
                    "awaiting_quantity": rng.randint(0, 50),
                    "internal_transfer_quantity": 0,
                }
            )
        return {
            "id": 5000 + index,
            "name": f"Inventory item {index}",
            "is_digital": False,
            "is_lot": False,
            "is_active": True,
            "total_fulfillable_quantity": sum(c["fulfillable_quantity"] for c in levels),
            "total_onhand_quantity": sum(c["onhand_quantity"] for c in levels),
            "total_committed_quantity": sum(c["committed_quantity"] for c in levels),
            "fulfillable_quantity_by_fulfillment_center": levels,
        }

    def route(self, path: str, params: dict[str, str], url: str, headers: dict[str, str]) -> Answer:
        if path != "/1.0/inventory":
            return Answer(404, {"message": f"No HTTP resource was found for {path}."})
        try:
            page = int(params.get("Page", 1))
            limit = int(params.get("Limit", 50))
        except ValueError:
            return Answer(400, {"message": "The request is invalid."})
        if not 1 <= limit <= MAX_LIMIT or page < 1:
            return Answer(400, {"message": f"Limit must be between 1 and {MAX_LIMIT}."})
        total = self.scenario.items
        pages = max(1, math.ceil(total / limit))
        chosen = range((page - 1) * limit, min(page * limit, total))
        headers = {"page-number": str(page), "total-pages": str(pages), "total-count": str(total)}
        if page < pages:
            query = urlencode({**params, "Page": page + 1, "Limit": limit})
            headers["next-page"] = f"/1.0/inventory?{query}"
        return Answer(200, [self.item(i) for i in chosen], headers)


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> SandboxServer:
    """A ShipBob sandbox (not started). Defaults to the demo scenario."""
    return ShipBobSandbox(scenario or Scenario(), host, port)

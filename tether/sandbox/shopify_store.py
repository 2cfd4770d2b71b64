"""The generated Shopify store behind the sandbox: deterministic orders, variants and channels.

Orders are a pure function of their index, so a store of any size costs no memory: order ``i`` is
built on demand from one of ``TEMPLATES`` pre-drawn order shapes (status, channel, lines), picked
by a stride through the pool, with ids and timestamps computed from ``i``. ``updatedAt`` grows with
the index, which lets the server find the first order of an ``updated_at:>=`` window by bisection.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ORDER_BASE = 5_000_000_000
LINE_BASE = 13_000_000_000
VARIANT_BASE = 40_000_000_000
PRODUCT_BASE = 8_000_000_000
TEMPLATES = (1_009, 10_007)
"""Template pool sizes (small stores, others): primes, so the stride through the pool visits
every template before repeating one."""
STRIDE = 7_919

CHANNELS = {
    "online_store": ("Online Store", "web"),
    "pos": ("Point of Sale", "pos"),
    "wholesale": ("Wholesale", "wholesale"),
}
"""Channel handle -> (channel name, order sourceName)."""

UNMAPPED_SKUS = ("UNMAPPED-001", "UNMAPPED-002", "UNMAPPED-003")


@dataclass(frozen=True)
class StoreShape:
    """The part of the sandbox scenario that decides what the store contains."""

    orders: int = 300
    skus: int = 50
    seed: int = 7
    history_days: int = 90
    max_lines: int = 4
    unmapped_sku_rate: float = 0.02
    unknown_channel_rate: float = 0.02
    refund_rate: float = 0.05
    pending_rate: float = 0.05
    currency: str = "USD"
    anchor: datetime | None = None
    """The newest order's time; defaults to the moment the store is built (whole minute)."""


@dataclass(frozen=True)
class _Template:
    status: str  # displayFinancialStatus
    channel: str  # channel handle
    lines: tuple[tuple[str, int, int], ...]  # (sku, quantity, unit price in cents)
    # Pre-built, shared parts of the order object (never mutated: projection copies).
    total_set: dict[str, Any] = field(default_factory=dict)
    channel_definition: dict[str, Any] = field(default_factory=dict)
    line_parts: tuple[tuple[str, str, int, dict[str, Any]], ...] = ()


def _money_set(cents: int, currency: str) -> dict[str, Any]:
    amount = {"amount": money(cents), "currencyCode": currency}
    return {"shopMoney": amount, "presentmentMoney": amount}


def iso(epoch: int) -> str:
    return iso_bytes(epoch).decode()


def iso_bytes(epoch: int) -> bytes:
    """``YYYY-MM-DDTHH:MM:SSZ`` (a bulk export formats two per order: parts are tabulated)."""
    day, second = divmod(epoch, 86_400)
    return _iso_day(day) + _clock()[second]


@functools.lru_cache(maxsize=4096)
def _iso_day(day: int) -> bytes:
    return time.strftime("%Y-%m-%dT", time.gmtime(day * 86_400)).encode()


@functools.cache
def _clock() -> list[bytes]:
    """``HH:MM:SSZ`` for every second of a day."""
    return [b"%02d:%02d:%02dZ" % (s // 3600, s // 60 % 60, s % 60) for s in range(86_400)]


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Store:
    """Deterministic store content; safe to read from many threads (``grow`` is the only write)."""

    def __init__(self, shape: StoreShape) -> None:
        self.shape = shape
        rng = random.Random(shape.seed)
        anchor = shape.anchor or datetime.now(UTC).replace(second=0, microsecond=0)
        self.anchor = int(anchor.timestamp())
        span = shape.history_days * 86_400
        self.start = self.anchor - span
        self.step = span / max(1, shape.orders)
        self.count = shape.orders
        self.catalogue = [f"SKU-{k:05d}" for k in range(shape.skus)]
        self.extra_skus = list(UNMAPPED_SKUS) if shape.unmapped_sku_rate > 0 else []
        self.prices = {sku: rng.randrange(500, 12_000) for sku in self.catalogue + self.extra_skus}
        self.pool = TEMPLATES[0] if shape.orders <= TEMPLATES[0] else TEMPLATES[1]
        self.templates = [self._draw(rng) for _ in range(self.pool)]

    # -- orders ------------------------------------------------------------------------------

    def _draw(self, rng: random.Random) -> _Template:
        s = self.shape
        roll = rng.random()
        if roll < s.refund_rate:
            status = "REFUNDED"
        elif roll < s.refund_rate + s.pending_rate:
            status = rng.choice(("PENDING", "PENDING", "AUTHORIZED"))
        elif roll < s.refund_rate + s.pending_rate + 0.01:
            status = "VOIDED"
        elif roll < s.refund_rate + s.pending_rate + 0.01 + s.refund_rate:
            status = "PARTIALLY_REFUNDED"
        else:
            status = "PAID"
        if rng.random() < s.unknown_channel_rate:
            channel = "wholesale"
        else:
            channel = "online_store" if rng.random() < 0.7 else "pos"
        lines = []
        for _ in range(rng.randint(1, max(1, s.max_lines))):
            if self.extra_skus and rng.random() < s.unmapped_sku_rate:
                sku = rng.choice(self.extra_skus)
            else:
                sku = rng.choice(self.catalogue) if self.catalogue else "SKU-00000"
            lines.append((sku, rng.randint(1, 5), self.prices.get(sku, 1_000)))
        currency = s.currency
        name, _source = CHANNELS[channel]
        return _Template(
            status,
            channel,
            tuple(lines),
            total_set=_money_set(sum(q * p for _, q, p in lines), currency),
            channel_definition={
                "__typename": "ChannelDefinition",
                "id": f"gid://shopify/ChannelDefinition/{channel}",
                "handle": channel,
                "channelName": name,
            },
            line_parts=tuple(
                (sku, f"Product {sku}", q, _money_set(p, currency)) for sku, q, p in lines
            ),
        )

    def template_index(self, i: int) -> int:
        return (i * STRIDE + self.shape.seed) % self.pool

    def template(self, i: int) -> _Template:
        return self.templates[(i * STRIDE + self.shape.seed) % self.pool]

    def created_epoch(self, i: int) -> int:
        return self.start + int(i * self.step)

    def updated_epoch(self, i: int) -> int:
        return self.start + int((i + 0.9) * self.step)

    def first_updated_at_or_after(self, epoch: float) -> int:
        """Index of the first order whose ``updatedAt`` is ``>= epoch`` (``count`` if none)."""
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            if self.updated_epoch(mid) < epoch:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def grow(self, orders: int) -> None:
        """New orders arrive (after the anchor, at the same pace)."""
        self.count += orders

    def order(self, i: int) -> dict[str, Any]:
        """Order ``i`` as the full Admin GraphQL object (every field the sandbox serves)."""
        t = self.template(i)
        line_base = LINE_BASE + i * 16
        return self.order_object(
            t,
            oid=str(ORDER_BASE + i),
            number=str(1001 + i),
            created=iso(self.created_epoch(i)),
            updated=iso(self.updated_epoch(i)),
            line_ids=[str(line_base + j) for j in range(len(t.lines))],
        )

    def order_object(
        self,
        t: _Template,
        *,
        oid: str,
        number: str,
        created: str,
        updated: str,
        line_ids: list[str],
    ) -> dict[str, Any]:
        """The order object from its template and its per-order values (all strings, so the bulk
        writer can render a template once with placeholders and fill them in per order)."""
        return {
            "__typename": "Order",
            "id": f"gid://shopify/Order/{oid}",
            "legacyResourceId": oid,
            "name": f"#{number}",
            "createdAt": created,
            "updatedAt": updated,
            "processedAt": created,
            "displayFinancialStatus": t.status,
            "displayFulfillmentStatus": "FULFILLED" if t.status == "PAID" else "UNFULFILLED",
            "currencyCode": self.shape.currency,
            "sourceName": CHANNELS[t.channel][1],
            "totalPriceSet": t.total_set,
            "channelInformation": {
                "__typename": "ChannelInformation",
                "id": f"gid://shopify/ChannelInformation/{oid}",
                "channelDefinition": t.channel_definition,
            },
            "lineItems": [
                {
                    "__typename": "LineItem",
                    "id": f"gid://shopify/LineItem/{line_id}",
                    "sku": sku,
                    "name": name,
                    "quantity": qty,
                    "originalUnitPriceSet": price_set,
                }
                for line_id, (sku, name, qty, price_set) in zip(line_ids, t.line_parts, strict=True)
            ],
        }

    def order_fields(self, i: int) -> Callable[[str], Any]:
        """Cheap accessor for the search filter (no full object built)."""

        def get(field: str) -> Any:
            if field == "updated_at":
                return self.updated_epoch(i)
            if field in ("created_at", "processed_at"):
                return self.created_epoch(i)
            if field == "financial_status":
                return self.template(i).status.lower()
            if field == "id":
                return ORDER_BASE + i
            if field in ("channel", "source_name"):
                return CHANNELS[self.template(i).channel][1]
            if field == "sku":
                return [line[0] for line in self.template(i).lines]
            return None

        return get

    # -- variants and channels -----------------------------------------------------------------

    def variant_count(self) -> int:
        return len(self.catalogue) + len(self.extra_skus)

    def variant_updated_epoch(self, k: int) -> int:
        span = self.anchor - self.start
        return self.start + int((k + 0.5) * span / max(1, self.variant_count()))

    def variant(self, k: int) -> dict[str, Any]:
        skus = self.catalogue + self.extra_skus
        sku = skus[k]
        return {
            "__typename": "ProductVariant",
            "id": f"gid://shopify/ProductVariant/{VARIANT_BASE + k}",
            "legacyResourceId": str(VARIANT_BASE + k),
            "sku": sku,
            "title": "Default Title",
            "displayName": f"Product {sku} - Default Title",
            "price": money(self.prices[sku]),
            "createdAt": iso(self.start),
            "updatedAt": iso(self.variant_updated_epoch(k)),
            "product": {
                "__typename": "Product",
                "id": f"gid://shopify/Product/{PRODUCT_BASE + k}",
                "title": f"Product {sku}",
                "handle": f"product-{sku.lower()}",
            },
        }

    def variant_fields(self, k: int) -> Callable[[str], Any]:
        skus = self.catalogue + self.extra_skus

        def get(field: str) -> Any:
            if field == "updated_at":
                return self.variant_updated_epoch(k)
            if field == "sku":
                return skus[k]
            if field == "id":
                return VARIANT_BASE + k
            return None

        return get

    def channels(self) -> list[dict[str, Any]]:
        handles = ["online_store", "pos"]
        if self.shape.unknown_channel_rate > 0:
            handles.append("wholesale")
        return [
            {
                "__typename": "Channel",
                "id": f"gid://shopify/Channel/{n + 1}",
                "handle": handle,
                "name": CHANNELS[handle][0],
            }
            for n, handle in enumerate(handles)
        ]

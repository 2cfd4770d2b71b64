"""The generated Shopify store behind the sandbox: deterministic orders, variants and channels.

Orders are a pure function of their index, so a store of any size costs no memory: order ``i`` is
built on demand from one of ``TEMPLATES`` pre-drawn order shapes (status, channel, lines), picked
by a stride through the pool, with ids and timestamps computed from ``i``. ``updatedAt`` grows with
the index, which lets the server find the first order of an ``updated_at:>=`` window by bisection.

The store lives: orders arrive (``grow``) and move through their lifecycle (``pay``, ``void``,
``refund``, ``refund_line``, ``edit``, ``cancel``, ``delete``; ``busy_day`` does thousands at
once). A changed order keeps its new state in ``changes`` and is stamped with the store's clock
(``now``: the anchor plus the time elapsed on ``clock``, injectable; never earlier than the last
stamp), so it leaves its place in the index order and joins ``changed``, kept sorted by
``updatedAt``: the server merges the two orders.
"""

from __future__ import annotations

import bisect
import functools
import random
import time
from collections.abc import Callable, Iterator
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
PAYABLE = frozenset({"PENDING", "AUTHORIZED", "PARTIALLY_PAID"})
REFUNDABLE = frozenset({"PAID", "PARTIALLY_REFUNDED"})


class TransitionError(ValueError):
    """A lifecycle change Shopify would refuse (refunding a pending order, paying a paid one)."""


@dataclass(frozen=True)
class OrderState:
    """What an order's lifecycle changed since it was created."""

    status: str
    updated: int
    current: tuple[int, ...]
    """``currentQuantity`` per line: the ordered quantity minus what was refunded or removed."""
    cancelled: int | None = None
    deleted: bool = False


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
    current: tuple[int, ...] = ()
    """``currentQuantity`` per line: 0 when refunded, one unit off the first line when partially
    refunded (derived from the status, so the random draws stay what they were)."""


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


def _current_for(status: str, ordered: tuple[int, ...]) -> tuple[int, ...]:
    if status == "REFUNDED":
        return (0,) * len(ordered)
    if status == "PARTIALLY_REFUNDED":
        return (ordered[0] - 1, *ordered[1:]) if ordered[0] > 1 or len(ordered) > 1 else ordered
    return ordered


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
        self.base_count = shape.orders
        self.grown: list[int] = []
        """Creation time of each order ``grow`` added (index ``base_count + n``)."""
        self.changes: dict[int, OrderState] = {}
        self.changed: list[tuple[int, int]] = []
        """(updatedAt, index) of every changed, not deleted order, sorted."""
        self.clock: Callable[[], float] = time.monotonic
        self.clock_start = self.clock()
        self.last_stamp = self.anchor

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Drive the store's time with ``clock`` (seconds; tests pass a fake one)."""
        self.clock, self.clock_start = clock, clock()

    def now(self) -> int:
        """The store's current time (epoch seconds): the anchor plus the time elapsed since."""
        return self.anchor + int(self.clock() - self.clock_start)

    def stamp(self) -> int:
        """A time for a new event: now, but after every earlier event (``updatedAt`` order)."""
        self.last_stamp = max(self.now(), self.last_stamp + 1)
        return self.last_stamp

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
            current=_current_for(status, tuple(q for _, q, _ in lines)),
        )

    def template_index(self, i: int) -> int:
        return (i * STRIDE + self.shape.seed) % self.pool

    def template(self, i: int) -> _Template:
        return self.templates[(i * STRIDE + self.shape.seed) % self.pool]

    def created_epoch(self, i: int) -> int:
        if i >= self.base_count:
            return self.grown[i - self.base_count]
        return self.start + int(i * self.step)

    def base_updated_epoch(self, i: int) -> int:
        """``updatedAt`` as created (ignoring later changes): grows with the index."""
        if i >= self.base_count:
            return self.grown[i - self.base_count]
        return self.start + int((i + 0.9) * self.step)

    def updated_epoch(self, i: int) -> int:
        if self.changes:
            state = self.changes.get(i)
            if state is not None:
                return state.updated
        if i >= self.base_count:
            return self.grown[i - self.base_count]
        return self.start + int((i + 0.9) * self.step)

    def first_updated_at_or_after(self, epoch: float) -> int:
        """Index of the first order whose original ``updatedAt`` is ``>= epoch`` (``count`` if
        none); changed orders are found in ``changed`` instead."""
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            if self.base_updated_epoch(mid) < epoch:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def changed_from(self, epoch: float | None) -> Iterator[tuple[int, int]]:
        """(updatedAt, index) of the changed orders updated at or after ``epoch``, in order."""
        start = 0 if epoch is None else bisect.bisect_left(self.changed, (epoch, -1))
        return iter(self.changed[start:])

    def grow(self, orders: int) -> None:
        """New orders arrive, stamped with the store's clock (one second apart at least)."""
        self.grown.extend(self.stamp() for _ in range(orders))
        self.count += orders

    def exists(self, i: int) -> bool:
        if not 0 <= i < self.count:
            return False
        state = self.changes.get(i)
        return state is None or not state.deleted

    def status(self, i: int) -> str:
        """The order's ``displayFinancialStatus`` now."""
        state = self.changes.get(i)
        return state.status if state is not None else self.template(i).status

    def current_quantities(self, i: int) -> tuple[int, ...]:
        state = self.changes.get(i)
        return state.current if state is not None else self.template(i).current

    def cancelled(self, i: int) -> bool:
        state = self.changes.get(i)
        return state is not None and state.cancelled is not None

    def order(self, i: int) -> dict[str, Any]:
        """Order ``i`` as the full Admin GraphQL object (every field the sandbox serves)."""
        t = self.template(i)
        line_base = LINE_BASE + i * 16
        state = self.changes.get(i)
        obj = self.order_object(
            t,
            oid=str(ORDER_BASE + i),
            number=str(1001 + i),
            created=iso(self.created_epoch(i)),
            updated=iso(self.updated_epoch(i)),
            line_ids=[str(line_base + j) for j in range(len(t.lines))],
        )
        if state is not None:
            obj["displayFinancialStatus"] = state.status
            obj["cancelledAt"] = iso(state.cancelled) if state.cancelled is not None else None
            for line, current in zip(obj["lineItems"], state.current, strict=True):
                line["currentQuantity"] = current
        return obj

    # -- the order lifecycle -------------------------------------------------------------------

    def _change(
        self,
        i: int,
        *,
        status: str | None = None,
        current: tuple[int, ...] | None = None,
        cancelled: bool = False,
        deleted: bool = False,
    ) -> None:
        if not self.exists(i):
            raise TransitionError(f"order index {i} does not exist (or was deleted)")
        old = self.changes.get(i)
        if old is not None:
            self.changed.remove((old.updated, i))
        stamp = self.stamp()
        state = OrderState(
            status or self.status(i),
            stamp,
            current if current is not None else self.current_quantities(i),
            stamp if cancelled else (old.cancelled if old else None),
            deleted,
        )
        self.changes[i] = state
        if not deleted:
            bisect.insort(self.changed, (stamp, i))

    def _require(self, i: int, allowed: frozenset[str], action: str) -> None:
        status = self.status(i) if self.exists(i) else "missing"
        if status not in allowed:
            raise TransitionError(f"cannot {action} order index {i}: it is {status}")

    def pay(self, i: int) -> None:
        """A pending, authorized or partially paid order is paid (captured) in full."""
        self._require(i, PAYABLE, "pay")
        self._change(i, status="PAID")

    def void(self, i: int) -> None:
        """The authorization of an unpaid order is voided (the order is cancelled with it)."""
        self._require(i, PAYABLE, "void")
        self._change(i, status="VOIDED", current=self._none_left(i), cancelled=True)

    def refund(self, i: int) -> None:
        """Everything is refunded: every line's ``currentQuantity`` drops to 0."""
        self._require(i, REFUNDABLE, "refund")
        self._change(i, status="REFUNDED", current=self._none_left(i))

    def refund_line(self, i: int, line: int = 0, quantity: int = 1) -> None:
        """``quantity`` units of one line are refunded (``REFUNDED`` once nothing is left)."""
        self._require(i, REFUNDABLE, "refund")
        current = list(self.current_quantities(i))
        if not 0 <= line < len(current) or not 0 < quantity <= current[line]:
            raise TransitionError(f"order index {i} line {line} has {current} units left")
        current[line] -= quantity
        status = "REFUNDED" if not any(current) else "PARTIALLY_REFUNDED"
        self._change(i, status=status, current=tuple(current))

    def edit(self, i: int, line: int = 0, quantity: int = 0) -> None:
        """An order edit sets one line's quantity (``currentQuantity``; ``quantity`` stays)."""
        current = list(self.current_quantities(i))
        if not 0 <= line < len(current) or quantity < 0:
            raise TransitionError(f"order index {i} has no line {line}")
        current[line] = quantity
        self._change(i, current=tuple(current))

    def cancel(self, i: int) -> None:
        """The order is cancelled: refunded if it was paid, voided if not, nothing left."""
        status = self.status(i) if self.exists(i) else "missing"
        outcome = "REFUNDED" if status in REFUNDABLE else "VOIDED"
        self._change(i, status=outcome, current=self._none_left(i), cancelled=True)

    def delete(self, i: int) -> None:
        """The order is deleted in the admin: gone from every query (Shopify keeps no trace
        of it that the Admin API can read)."""
        self._change(i, deleted=True)

    def _none_left(self, i: int) -> tuple[int, ...]:
        return (0,) * len(self.template(i).lines)

    def busy_day(self, edited: int, new: int, seed: int = 11) -> dict[str, int]:
        """``new`` orders arrive and ``edited`` existing ones change: pending ones are paid
        (4 in 5) or voided; paid ones are refunded (1 in 4), partly refunded (2 in 4) or edited.
        Returns how many of each happened."""
        rng = random.Random(seed)
        done = {"new": new, "paid": 0, "voided": 0, "refunded": 0, "partially_refunded": 0,
                "edited": 0}  # fmt: skip
        alive = [i for i in range(self.count) if self.exists(i)]
        for i in rng.sample(alive, min(edited, len(alive))):
            status = self.status(i)
            roll = rng.random()
            if status in PAYABLE:
                if roll < 0.8:
                    self.pay(i)
                    done["paid"] += 1
                else:
                    self.void(i)
                    done["voided"] += 1
            elif status in REFUNDABLE:
                current = self.current_quantities(i)
                line = max(range(len(current)), key=current.__getitem__)
                if roll < 0.25 or not current[line]:
                    self.refund(i)
                    done["refunded"] += 1
                elif roll < 0.75:
                    self.refund_line(i, line, 1)
                    done["partially_refunded"] += 1
                else:
                    self.edit(i, line, current[line] - 1)
                    done["edited"] += 1
            else:  # refunded or voided already: a note or tag edit, still a change
                self._change(i)
                done["edited"] += 1
        self.grow(new)
        return done

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
            "cancelledAt": None,
            "lineItems": [
                {
                    "__typename": "LineItem",
                    "id": f"gid://shopify/LineItem/{line_id}",
                    "sku": sku,
                    "name": name,
                    "quantity": qty,
                    "currentQuantity": current,
                    "originalUnitPriceSet": price_set,
                }
                for line_id, (sku, name, qty, price_set), current in zip(
                    line_ids, t.line_parts, t.current, strict=True
                )
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
                return self.status(i).lower()
            if field == "id":
                return ORDER_BASE + i
            if field in ("channel", "source_name"):
                return CHANNELS[self.template(i).channel][1]
            if field == "sku":
                return [line[0] for line in self.template(i).lines]
            if field == "status":  # open | cancelled (the sandbox archives nothing)
                return "cancelled" if self.cancelled(i) else "open"
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

"""A Shopify Admin GraphQL server on loopback: the real connector talks to it over HTTP.

``POST /admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token`` answers ``orders``,
``order``, ``productVariants``, ``channels``, ``node``, ``currentBulkOperation`` and the
``bulkOperationRunQuery`` mutation, with Shopify's cost calculation, its 1,000-point single query
cap (``MAX_COST_EXCEEDED``) and a leaky bucket per token (``THROTTLED``). Completed bulk
operations are JSONL files under ``GET /bulk/{id}.jsonl``, written to a temporary directory while
the operation is ``RUNNING`` and streamed from disk, so a million-order store costs no memory.

Trouble is injected through ``Scenario`` switches (see its fields); ``server.clock`` can be
replaced (tests drive the bucket with the same fake clock their fake sleep advances).
"""

from __future__ import annotations

import heapq
import os
import random
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, BinaryIO

import orjson
from graphql import FieldNode, GraphQLError

from tether.sandbox.base import SandboxServer
from tether.sandbox.handler import SandboxHandler
from tether.sandbox.shopify_graphql import (
    Context,
    Operation,
    Page,
    QueryError,
    compile_projection,
    decode_cursor,
    decode_position,
    encode_cursor,
    indexed_page,
    list_page,
    page_size,
    prepare,
    project,
    requested_cost,
    with_variables,
)
from tether.sandbox.shopify_search import (
    SearchSyntaxError,
    fields_of,
    parse_search,
    parse_time,
    without_range,
)
from tether.sandbox.shopify_store import (
    LINE_BASE,
    ORDER_BASE,
    VARIANT_BASE,
    Store,
    StoreShape,
    iso,
    iso_bytes,
)

MAX_QUERY_COST = 1000
PLANS = {"standard": (2000.0, 100.0), "advanced": (4000.0, 200.0), "plus": (20000.0, 1000.0)}
"""GraphQL Admin API limits per plan: (bucket size, restore rate), as Shopify publishes them."""
COUNT_LIMIT = 10_000
"""``ordersCount``'s default ``limit`` (``limit: null`` counts without one)."""
BAD_TOKEN_BODY = (
    b'{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}'
)
ORDER_SEARCH_FIELDS = frozenset(
    {"updated_at", "created_at", "processed_at", "financial_status", "id", "channel",
     "source_name", "sku", "status"}
)  # fmt: skip
VARIANT_SEARCH_FIELDS = frozenset({"updated_at", "sku", "id"})
TEMPLATE_FIELDS = frozenset({"financial_status", "channel", "source_name", "sku", "status"})
"""Order search fields decided by the order's template alone (not by its index) while no order
has changed (``status`` is then ``open`` for all)."""
_GRAPHQL_PATH = re.compile(r"^/admin/api/([^/]+)/graphql\.json$")
_BULK_PATH = re.compile(r"^/bulk/(\d+)\.jsonl$")
_GID = re.compile(r"^gid://shopify/([A-Za-z]+)/(\d+)$")
SCOPE_DESCRIPTIONS = {
    "read_orders": "Read orders, transactions, and fulfillments",
    "read_all_orders": "Read all orders, not only those of the last 60 days",
    "read_products": "Read products, variants, and collections",
    "read_publications": "Read product publications (sales channels)",
}


@dataclass
class Scenario:
    """What the sandbox store contains and which trouble it injects."""

    orders: int = 300
    skus: int = 50
    seed: int = 7
    history_days: int = 90
    max_lines: int = 4
    """Line items per order are drawn from 1..max_lines."""
    access_token: str = "shpat_sandbox"
    currency: str = "USD"
    anchor: datetime | None = None
    """Time of the newest order (default: when the server starts)."""
    unmapped_sku_rate: float = 0.02
    """Share of lines whose SKU is UNMAPPED-001..003 (outside the catalogue); 0 disables."""
    unknown_channel_rate: float = 0.02
    """Share of orders from the "wholesale" channel (not in the demo mapping); 0 disables."""
    refund_rate: float = 0.05
    """Share of REFUNDED orders (and as many PARTIALLY_REFUNDED)."""
    pending_rate: float = 0.05
    """Share of PENDING / AUTHORIZED orders."""
    bad_token: bool = False
    """Every request gets 401, as after the app's token was revoked."""
    access_scopes: tuple[str, ...] = (
        "read_orders", "read_all_orders", "read_products", "read_publications",
    )  # fmt: skip
    """What the merchant granted the app (``currentAppInstallation { accessScopes }``)."""
    plan: str = "standard"
    """Shopify plan whose GraphQL limits are served: standard (100 points/s, a 2,000-point
    bucket), advanced (200/s, 4,000) or plus (1,000/s, 20,000). ``bucket_size`` and
    ``restore_rate`` override it when not 0."""
    bucket_size: float = 0.0
    restore_rate: float = 0.0
    throttle_burst: bool = False
    """The cost bucket starts empty (as if another app just drained it)."""
    throttle_429_rate: float = 0.0
    """Share of THROTTLED answers sent as HTTP 429 instead of 200."""
    error_rate_5xx: float = 0.0
    """Share of GraphQL requests answered 502/503."""
    slow_ms: int = 0
    """Delay added to every GraphQL request."""
    malformed: float = 0.0
    """Share of GraphQL requests answered with a truncated, non-JSON body (1.0 = all)."""
    bulk_delay_ms: int = 20
    """Minimum time a bulk operation stays RUNNING."""
    live_orders_per_minute: int = 0
    """A living store: every ``live_interval_s`` this many orders per minute (pro rata) arrive
    and as many existing ones change (paid, voided, refunded, partly refunded, edited), as in
    ``Store.busy_day``; 0 keeps the store still between syncs."""
    live_interval_s: float = 10.0

    def limits(self) -> tuple[float, float]:
        """(bucket size, restore rate per second) served."""
        if self.plan not in PLANS:
            raise ValueError(f"unknown Shopify plan {self.plan!r} (one of {', '.join(PLANS)})")
        size, rate = PLANS[self.plan]
        return (self.bucket_size or size, self.restore_rate or rate)

    def shape(self) -> StoreShape:
        return StoreShape(
            orders=self.orders,
            skus=self.skus,
            seed=self.seed,
            history_days=self.history_days,
            max_lines=self.max_lines,
            unmapped_sku_rate=self.unmapped_sku_rate,
            unknown_channel_rate=self.unknown_channel_rate,
            refund_rate=self.refund_rate,
            pending_rate=self.pending_rate,
            currency=self.currency,
            anchor=self.anchor,
        )


class Bucket:
    """Shopify's leaky bucket: ``maximumAvailable`` points, refilled at ``restoreRate``/s."""

    def __init__(self, size: float, rate: float, available: float, clock: Callable[[], float]):
        self.size = size
        self.rate = rate
        self.available = available
        self.clock = clock
        self.at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.available = min(self.size, self.available + (now - self.at) * self.rate)
        self.at = now

    def take(self, cost: int) -> bool:
        self._refill()
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def give_back(self, points: int) -> None:
        self.available = min(self.size, self.available + points)

    def status(self) -> dict[str, Any]:
        self._refill()
        return {
            "maximumAvailable": self.size,
            "currentlyAvailable": int(self.available),
            "restoreRate": self.rate,
        }


@dataclass
class BulkJob:
    number: int
    query: str
    url_base: str
    status: str = "CREATED"
    created_at: int = field(default_factory=lambda: int(time.time()))
    completed_at: int | None = None
    object_count: int = 0
    root_count: int = 0
    file_size: int | None = None
    error_code: str | None = None
    path: str | None = None
    cancel: bool = False

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.number}"

    def as_node(self) -> dict[str, Any]:
        done = self.status == "COMPLETED"
        return {
            "__typename": "BulkOperation",
            "id": self.gid,
            "status": self.status,
            "errorCode": self.error_code,
            "objectCount": str(self.object_count),
            "rootObjectCount": str(self.root_count),
            "fileSize": str(self.file_size) if self.file_size is not None else None,
            "url": f"{self.url_base}/bulk/{self.number}.jsonl" if done else None,
            "partialDataUrl": None,
            "query": self.query,
            "type": "QUERY",
            "createdAt": iso(self.created_at),
            "completedAt": iso(self.completed_at) if self.completed_at else None,
        }


class ShopifySandbox(SandboxServer):
    scenario: Scenario

    def __init__(self, scenario: Scenario, host: str, port: int) -> None:
        scenario.limits()  # an unknown plan fails here, not on the first request
        super().__init__(ShopifyHandler, scenario, host, port)
        self.store = Store(scenario.shape())
        self.clock: Callable[[], float] = time.monotonic
        self.lock = threading.RLock()
        self.rng = random.Random(scenario.seed)
        self.buckets: dict[str, Bucket] = {}
        self.jobs: dict[int, BulkJob] = {}
        self.current_job: BulkJob | None = None
        self.bulk_dir = tempfile.mkdtemp(prefix="tether-shopify-bulk-")
        self.requests = 0
        """GraphQL requests answered (tests assert on retries and page counts)."""
        self.throttled = 0
        """Requests answered ``THROTTLED`` (a well-paced client rarely gets one)."""
        self.stopping = threading.Event()
        self.live: threading.Thread | None = None
        self.live_ticks = 0
        """Times the living store has changed (``live_orders_per_minute``)."""

    def start(self) -> ShopifySandbox:
        super().start()
        if self.scenario.live_orders_per_minute > 0:
            self.live = threading.Thread(target=self._live, name="sandbox-live", daemon=True)
            self.live.start()
        return self

    def _live(self) -> None:
        """Orders arrive and change while the server runs (``live_orders_per_minute``)."""
        s = self.scenario
        per_tick = max(1, round(s.live_orders_per_minute * s.live_interval_s / 60))
        while not self.stopping.wait(s.live_interval_s):
            with self.lock:
                self.store.busy_day(per_tick, per_tick, seed=self.rng.randrange(1 << 30))
                self.live_ticks += 1

    def server_close(self) -> None:
        self.stopping.set()
        super().server_close()
        for job in self.jobs.values():
            job.cancel = True
        shutil.rmtree(self.bulk_dir, ignore_errors=True)

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.rng.random() < rate

    def bucket(self, token: str) -> Bucket:
        s = self.scenario
        if token not in self.buckets:
            size, rate = s.limits()
            start = 0.0 if s.throttle_burst else size
            self.buckets[token] = Bucket(size, rate, start, lambda: self.clock())
        return self.buckets[token]

    # -- root fields ---------------------------------------------------------------------------

    def resolve_query(self, ctx: Context, host: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for node in ctx.fields(ctx.op.operation.selection_set):
            key = node.alias.value if node.alias else node.name.value
            value = self.resolve_root(ctx, node, host)
            data[key] = project(ctx, value, node.selection_set)
        return data

    def resolve_root(self, ctx: Context, node: FieldNode, host: str) -> Any:
        name = node.name.value
        args = ctx.args(node)
        if name == "orders":
            page = self.orders_page(args)
            ctx.count(node, len(page.items))
            return page
        if name == "ordersCount":
            return self.orders_count(args)
        if name == "productVariants":
            page = self.variants_page(args)
            ctx.count(node, len(page.items))
            return page
        if name == "channels":
            return list_page(self.store.channels(), args)
        if name in ("order", "node"):
            return self.lookup(str(args["id"]))
        if name == "currentBulkOperation":
            return self.current_job.as_node() if self.current_job else None
        if name == "shop":
            return {"name": "Tether Sandbox", "myshopifyDomain": "sandbox.myshopify.com",
                    "currencyCode": self.scenario.currency}  # fmt: skip
        if name == "currentAppInstallation":
            return self.app_installation()
        if name == "bulkOperationRunQuery":
            return self.run_bulk(str(args["query"]), host)
        if name == "bulkOperationCancel":
            return self.cancel_bulk(str(args["id"]))
        raise QueryError(f"Field '{name}' is not served by the sandbox.")

    def app_installation(self) -> dict[str, Any]:
        scopes = [
            {"handle": h, "description": SCOPE_DESCRIPTIONS.get(h, h)}
            for h in self.scenario.access_scopes
        ]
        return {
            "id": "gid://shopify/AppInstallation/1",
            "app": {"id": "gid://shopify/App/1", "title": "Tether", "handle": "tether"},
            "accessScopes": scopes,
        }

    def lookup(self, gid: str) -> dict[str, Any] | None:
        m = _GID.match(gid)
        if m is None:
            raise QueryError(f"Invalid global id '{gid}'", "BAD_REQUEST")
        kind, number = m.group(1), int(m.group(2))
        if kind == "Order" and self.store.exists(number - ORDER_BASE):
            return self.store.order(number - ORDER_BASE)
        if kind == "ProductVariant" and 0 <= number - VARIANT_BASE < self.store.variant_count():
            return self.store.variant(number - VARIANT_BASE)
        if kind == "BulkOperation" and number in self.jobs:
            return self.jobs[number].as_node()
        return None

    def order_indices(self, args: dict[str, Any]) -> Iterator[int]:
        if args.get("reverse") or args.get("last") or args.get("before"):
            raise QueryError("The sandbox pages forward only (first/after, reverse: false).")
        try:
            search = parse_search(args.get("query"), ORDER_SEARCH_FIELDS)
        except SearchSyntaxError as exc:
            raise QueryError(f"Invalid search query: {exc}.", "BAD_REQUEST") from None
        store = self.store
        count = store.count
        low = search.lower_bound("updated_at")
        high = search.upper_bound("updated_at")
        if store.changes:
            yield from self._lifecycle_order_indices(args, search, low, high)
            return
        start = store.first_updated_at_or_after(low) if low is not None else 0
        if args.get("after"):
            start = max(start, decode_cursor(str(args["after"])) - ORDER_BASE + 1)
        rest = without_range(search, "updated_at")
        if rest is not None and fields_of(rest.root) <= TEMPLATE_FIELDS:
            # What is left depends only on the order's template: decide once per template.
            verdicts: dict[int, bool] = {}
            for i in range(start, count):
                if high is not None and store.updated_epoch(i) > high:
                    return
                t = store.template_index(i)
                verdict = verdicts.get(t)
                if verdict is None:
                    verdict = verdicts[t] = rest.matches(store.order_fields(i))
                if verdict:
                    yield i
            return
        for i in range(start, count):
            if high is not None and store.updated_epoch(i) > high:
                return
            if search.matches(store.order_fields(i)):
                yield i

    def _lifecycle_order_indices(
        self, args: dict[str, Any], search: Any, low: float | None, high: float | None
    ) -> Iterator[int]:
        """``order_indices`` once orders have changed: the unchanged ones in index order merged
        with the changed ones (sorted by their new ``updatedAt``), by (updatedAt, id)."""
        store = self.store
        after: tuple[float, int] | None = None
        if args.get("after"):
            last_id, last_value = decode_position(str(args["after"]))
            index = last_id - ORDER_BASE
            at = parse_time(last_value) if last_value else store.updated_epoch(index)
            after = (at, index)
            low = at if low is None else max(low, at)
        changes = store.changes

        def unchanged() -> Iterator[tuple[int, int]]:
            start = store.first_updated_at_or_after(low) if low is not None else 0
            for i in range(start, store.count):
                if i in changes:
                    continue
                yield store.base_updated_epoch(i), i

        for updated, i in heapq.merge(unchanged(), store.changed_from(low)):
            if high is not None and updated > high:
                return
            if after is not None and (updated, i) <= after:
                continue
            if search.matches(store.order_fields(i)):
                yield i

    def orders_count(self, args: dict[str, Any]) -> dict[str, Any]:
        limit = args.get("limit", COUNT_LIMIT)
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise QueryError("Argument 'limit' must be a non-negative integer or null.")
        count = 0
        for _ in self.order_indices({"query": args.get("query")}):
            if limit is not None and count >= limit:
                return {"__typename": "Count", "count": limit, "precision": "AT_LEAST"}
            count += 1
        return {"__typename": "Count", "count": count, "precision": "EXACT"}

    def orders_page(self, args: dict[str, Any]) -> Page:
        store = self.store
        return indexed_page(
            self.order_indices(args),
            min(page_size(args), 250),
            store.order,
            lambda i: encode_cursor(ORDER_BASE + i, iso(store.updated_epoch(i))),
        )

    def variant_indices(self, args: dict[str, Any]) -> Iterator[int]:
        try:
            search = parse_search(args.get("query"), VARIANT_SEARCH_FIELDS)
        except SearchSyntaxError as exc:
            raise QueryError(f"Invalid search query: {exc}.", "BAD_REQUEST") from None
        start = decode_cursor(str(args["after"])) - VARIANT_BASE + 1 if args.get("after") else 0
        for k in range(max(0, start), self.store.variant_count()):
            if search.matches(self.store.variant_fields(k)):
                yield k

    def variants_page(self, args: dict[str, Any]) -> Page:
        return indexed_page(
            self.variant_indices(args),
            min(page_size(args), 250),
            self.store.variant,
            lambda k: encode_cursor(VARIANT_BASE + k),
        )

    # -- bulk operations -----------------------------------------------------------------------

    def run_bulk(self, query: str, host: str) -> dict[str, Any]:
        prepared = prepare(query)
        if not isinstance(prepared, Operation):
            return _user_error(f"Invalid bulk query: {prepared[0].message}")
        roots = list(Context(prepared, {}).fields(prepared.operation.selection_set))
        if len(roots) != 1 or roots[0].name.value not in ("orders", "productVariants"):
            return _user_error("Bulk queries must contain exactly one connection at the root.")
        with self.lock:
            running = self.current_job
            if running is not None and running.status in ("CREATED", "RUNNING"):
                return _user_error(
                    "A bulk query operation for this app and shop is already in progress: "
                    f"{running.gid}."
                )
            job = BulkJob(len(self.jobs) + 1, query, f"http://{host}")
            self.jobs[job.number] = job
            self.current_job = job
        created = {"bulkOperation": job.as_node(), "userErrors": []}
        worker = threading.Thread(target=self._bulk_worker, args=(job, prepared, roots[0]))
        worker.daemon = True
        worker.start()
        return created

    def cancel_bulk(self, gid: str) -> dict[str, Any]:
        m = _GID.match(gid)
        job = self.jobs.get(int(m.group(2))) if m else None
        if job is None:
            return _user_error("Bulk operation does not exist")
        if job.status in ("CREATED", "RUNNING"):
            job.cancel = True
            job.status = "CANCELING"
        return {"bulkOperation": job.as_node(), "userErrors": []}

    def _bulk_worker(self, job: BulkJob, op: Operation, root: FieldNode) -> None:
        job.status = "RUNNING"
        started = time.monotonic()
        path = os.path.join(self.bulk_dir, f"{job.number}.jsonl")
        try:
            with open(path, "wb") as out:
                write_bulk_jsonl(self, job, op, root, out)
        except QueryError:
            job.status, job.error_code = "FAILED", "INTERNAL_SERVER_ERROR"
            return
        except OSError:  # the server was stopped and its directory removed
            job.status = "CANCELED"
            return
        if job.cancel:
            job.status = "CANCELED"
            return
        rest = self.scenario.bulk_delay_ms / 1000 - (time.monotonic() - started)
        if rest > 0:
            time.sleep(rest)
        job.path = path
        job.file_size = os.path.getsize(path)
        job.completed_at = int(time.time())
        job.status = "COMPLETED"


def _user_error(message: str) -> dict[str, Any]:
    return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message}]}


def write_bulk_jsonl(
    server: ShopifySandbox, job: BulkJob, op: Operation, root: FieldNode, out: BinaryIO
) -> None:
    """One line per root node, then one per nested connection node carrying ``__parentId``."""
    ctx = Context(op, {})
    args = ctx.args(root)
    args.pop("first", None)
    args.pop("after", None)
    node_sel = _node_selection(ctx, root)
    parent = compile_projection(ctx, node_sel)
    children = [
        compile_projection(ctx, _node_selection(ctx, f))
        for f in ctx.fields(node_sel)
        if f.name.value == "lineItems"
    ]
    if root.name.value == "orders":
        renderer = _OrderRenderer(server.store, parent, children)
        chunks: Iterator[bytes] = map(renderer.render, server.order_indices(args))
    else:
        store = server.store
        chunks = (
            orjson.dumps(parent(store.variant(k))) + b"\n" for k in server.variant_indices(args)
        )
    buffer: list[bytes] = []
    for chunk in chunks:
        buffer.append(chunk)
        if len(buffer) >= 2048:
            out.write(b"".join(buffer))
            buffer.clear()
            if job.cancel:
                return
    out.write(b"".join(buffer))
    job.root_count = renderer.roots if root.name.value == "orders" else job.root_count
    job.object_count = renderer.objects if root.name.value == "orders" else job.object_count


_MARK = re.compile(rb"@@(\w+)@@")


class _OrderRenderer:
    """Bulk JSONL for orders, fast: each store template is projected and serialised once into a
    ``%s`` format with a slot per per-order value (ids, name, timestamps), then each order is one
    ``bytes %`` of its values."""

    def __init__(
        self,
        store: Store,
        parent: Callable[[Any], Any],
        children: list[Callable[[Any], Any]],
    ) -> None:
        self.store = store
        self.parent = parent
        self.children = children
        self.cache: dict[int, tuple[bytes, Callable[[tuple[bytes, ...]], Any], int, int]] = {}
        self.roots = 0
        self.objects = 0

    def _compile(self, t_index: int) -> tuple[bytes, Callable[[tuple[bytes, ...]], Any], int, int]:
        t = self.store.templates[t_index]
        obj = self.store.order_object(
            t,
            oid="@@oid@@",
            number="@@num@@",
            created="@@created@@",
            updated="@@updated@@",
            line_ids=[f"@@l{j}@@" for j in range(len(t.lines))],
        )
        lines = [orjson.dumps(self.parent(obj))]
        for projection in self.children:
            for child in obj["lineItems"]:
                lines.append(orjson.dumps(projection(child) | {"__parentId": obj["id"]}))
        parts = _MARK.split(b"\n".join(lines) + b"\n")
        literals, keys = parts[0::2], parts[1::2]
        fmt = b"%s".join(literal.replace(b"%", b"%%") for literal in literals)
        # values of an order: (oid, num, created, updated, line 0 id, line 1 id, ...)
        slots = [_SLOTS[key] if key in _SLOTS else 4 + int(key[1:]) for key in keys]
        pick = itemgetter(*slots) if len(slots) > 1 else (lambda v: (v[slots[0]],))
        return fmt, pick, len(lines), len(t.lines)

    def render_changed(self, i: int) -> bytes:
        """A changed order: projected from its full object (slower, but few orders change)."""
        obj = self.store.order(i)
        lines = [orjson.dumps(self.parent(obj))]
        for projection in self.children:
            for child in obj["lineItems"]:
                lines.append(orjson.dumps(projection(child) | {"__parentId": obj["id"]}))
        self.roots += 1
        self.objects += len(lines)
        return b"\n".join(lines) + b"\n"

    def render(self, i: int) -> bytes:
        if self.store.changes and i in self.store.changes:
            return self.render_changed(i)
        t_index = self.store.template_index(i)
        compiled = self.cache.get(t_index)
        if compiled is None:
            compiled = self.cache[t_index] = self._compile(t_index)
        fmt, pick, count, line_count = compiled
        self.roots += 1
        self.objects += count
        store = self.store
        line_base = LINE_BASE + i * 16
        values = (
            b"%d" % (ORDER_BASE + i),
            b"%d" % (1001 + i),
            iso_bytes(store.created_epoch(i)),
            iso_bytes(store.updated_epoch(i)),
            *[b"%d" % (line_base + j) for j in range(line_count)],
        )
        return fmt % pick(values)  # type: ignore[no-any-return]


_SLOTS = {b"oid": 0, b"num": 1, b"created": 2, b"updated": 3}


def _node_selection(ctx: Context, connection: FieldNode) -> Any:
    for f in ctx.fields(connection.selection_set):
        if f.name.value == "nodes":
            return f.selection_set
        if f.name.value == "edges":
            for inner in ctx.fields(f.selection_set):
                if inner.name.value == "node":
                    return inner.selection_set
    raise QueryError("Bulk connection selects neither edges { node } nor nodes.")


class ShopifyHandler(SandboxHandler):
    server: ShopifySandbox
    server_version = "ShopifySandbox/1.0"
    # Headers and body in one buffered write, sent at once: keep-alive clients otherwise wait
    # out Nagle + delayed ACK (~40 ms) on every request.
    wbufsize = 1 << 16

    def _default_headers(self, status: int) -> dict[str, str]:
        return {"Retry-After": "1.0"} if status == 429 else {}

    def _encode(self, payload: Any) -> bytes:
        return orjson.dumps(payload)

    def do_GET(self) -> None:
        m = _BULK_PATH.match(self.path.split("?", 1)[0])
        job = self.server.jobs.get(int(m.group(1))) if m else None
        if job is None or job.path is None:
            self._json(404, {"errors": "Not Found"})
            return
        size = os.path.getsize(job.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with open(job.path, "rb") as f:
            self.wfile.flush()
            self.connection.sendfile(f)

    def do_POST(self) -> None:
        raw = self._read_body()
        server, scenario = self.server, self.server.scenario
        m = _GRAPHQL_PATH.match(self.path.split("?", 1)[0])
        if m is None:
            self._json(404, {"errors": "Not Found"})
            return
        if scenario.slow_ms:
            time.sleep(scenario.slow_ms / 1000)
        token = self.headers.get("X-Shopify-Access-Token", "")
        if scenario.bad_token or token != scenario.access_token:
            self._send(401, BAD_TOKEN_BODY)
            return
        with server.lock:
            server.requests += 1
        if server.chance(scenario.error_rate_5xx):
            self._send(
                503,
                b"<html><body><h1>503 Service Unavailable</h1></body></html>",
                content_type="text/html",
            )
            return
        if server.chance(scenario.malformed):
            self._send(200, b'{"data":{"orders":{"edges":[{"node":{"id":"gid://shopify/Ord')
            return
        try:
            body = orjson.loads(raw)
            query = body["query"]
            if not isinstance(query, str):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self._json(400, {"errors": {"query": "Required parameter missing or invalid"}})
            return
        try:
            status, payload = self.answer(
                query, body.get("variables"), body.get("operationName"), token
            )
        except Exception as exc:  # a sandbox bug: answer like Shopify's 500 rather than hang up
            status, payload = 500, {"errors": f"Internal error in the sandbox: {exc!r}"}
        self._json(status, payload)

    def answer(
        self, query: str, variables: Any, operation_name: Any, token: str
    ) -> tuple[int, dict[str, Any]]:
        server = self.server
        prepared = prepare(query, operation_name if isinstance(operation_name, str) else None)
        if not isinstance(prepared, Operation):
            return 200, {"errors": [_graphql_error(e) for e in prepared]}
        ctx = with_variables(prepared, variables if isinstance(variables, dict) else None)
        try:
            cost = requested_cost(ctx)
        except QueryError as exc:
            return 200, {"errors": [exc.as_json()]}
        with server.lock:
            bucket = server.bucket(token)
            if cost > MAX_QUERY_COST:
                message = (
                    f"Query cost is {cost}, which exceeds the single query max cost limit "
                    f"({MAX_QUERY_COST})."
                )
                error = QueryError(message, "MAX_COST_EXCEEDED", cost=cost, maxCost=MAX_QUERY_COST)
                return 200, {"errors": [error.as_json()], "extensions": _cost(cost, None, bucket)}
            if not bucket.take(cost):
                server.throttled += 1
                throttled = QueryError(
                    "Throttled",
                    "THROTTLED",
                    documentation="https://shopify.dev/api/usage/rate-limits",
                )
                status = 429 if server.chance(server.scenario.throttle_429_rate) else 200
                return status, {
                    "errors": [throttled.as_json()],
                    "extensions": _cost(cost, None, bucket),
                }
        try:
            data = server.resolve_query(ctx, self.headers.get("Host", "127.0.0.1"))
        except QueryError as exc:
            return 200, {"data": None, "errors": [exc.as_json()]}
        actual = requested_cost(ctx, actual=True)
        with server.lock:
            bucket.give_back(max(0, cost - actual))
            return 200, {"data": data, "extensions": _cost(cost, actual, bucket)}


def _graphql_error(error: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {"message": error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return out


def _cost(requested: int, actual: int | None, bucket: Bucket) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.status(),
        }
    }


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> ShopifySandbox:
    """A Shopify sandbox bound to ``host:port`` (0 = any free port); call ``start()`` to run it."""
    return ShopifySandbox(scenario or Scenario(), host, port)

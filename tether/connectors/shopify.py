"""Shopify connector: the Admin GraphQL API, incremental pages and Bulk Operations.

* ``sales_orders``: orders whose financial status is paid or partially refunded (by design, as the
  troubleshooting guide says), sorted by ``UPDATED_AT``.
* ``pending_sales``: orders not yet paid: ``pending``, ``authorized`` or ``partially_paid``.

The order lifecycle: a first sync fetches only the orders of its capability; every later sync
(incremental, ``--full``, a ``Window``) fetches *every* order updated since, whatever its status,
and tags each record with ``lifecycle`` (``sale``, ``pending`` or ``closed``: refunded, voided,
expired or cancelled), which the engine routes: into the capability's tables, out of the other
order table, or out of both (``docs/shopify.md``). Lines carry the ordered ``quantity`` and
Shopify's ``currentQuantity`` (after refunds, removals and edits) as ``current_quantity``.
* ``products``: product variants (one record per variant, keyed by the variant id).
* ``channels``: the ``channels`` query (deprecated by Shopify in favour of ``publications``, but
  still the one that returns the channel *handles* orders carry in
  ``channelInformation.channelDefinition.handle``); a full snapshot on every sync.

Incremental syncs first count the delta (``ordersCount``, 2 points). A delta of at least
``bulk_delta_orders`` goes through a Bulk Operation (the same JSONL path as a full sync: it costs
no query points, so Standard's 100 points/s do not matter); a smaller one pages with
``orders(first:, after:, query: "updated_at:>='…'")``. The cursor is ``{"updated_at", "id"}`` of
the last record of each page (both paths sort by ``UPDATED_AT``), and the next run starts
``lookback_s`` before it so records committed late by Shopify are not missed (re-fetched records
are unchanged and the engine skips them). Pages are sized so the requested cost stays under the
1,000-point cap (halved on ``MAX_COST_EXCEEDED``) and sent when ``throttleStatus`` says the
bucket can pay for them, so THROTTLED answers are rare. ``wait_budget_s`` bounds the waiting
*without progress* (since the last page): a sync that keeps yielding pages finishes however long
it waits in all; one that stalls stops with ``RateLimitedError``, its pages committed, and the
next sync resumes from them. Full syncs (no cursor, or ``full=True``) use a Bulk Operation when
``bulk`` is on: run, poll, and stream the JSONL result.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from pydantic import Field

from tether.connectors.base import (
    CredentialField,
    Cursor,
    Page,
    ServiceSettings,
    ServiceSpec,
    Window,
    capabilities,
)
from tether.connectors.http import HttpPolicy, check_base_url, json_body, make_client, send
from tether.errors import (
    AuthError,
    DataError,
    RateLimitedError,
    UnavailableError,
    UnsupportedCapabilityError,
)

if TYPE_CHECKING:
    import httpx

SERVICE = "Shopify"
MAX_QUERY_COST = 1000

STATUS_FILTERS = {
    "sales_orders": "financial_status:paid OR financial_status:partially_refunded",
    "pending_sales": (
        "financial_status:pending OR financial_status:authorized OR financial_status:partially_paid"
    ),
}

LIFECYCLE = {
    "paid": "sale",
    "partially_refunded": "sale",
    "pending": "pending",
    "authorized": "pending",
    "partially_paid": "pending",
}
"""Financial status -> where the order belongs; any other status (refunded, voided, expired) and
any cancelled order is ``closed``: in neither table."""
NOT_CANCELLED = "-status:cancelled"

_ORDER_FIELDS = """
  id name createdAt updatedAt cancelledAt displayFinancialStatus currencyCode sourceName
  totalPriceSet { shopMoney { amount currencyCode } }
  channelInformation { channelDefinition { handle channelName } }
"""
_LINE_FIELDS = "id sku quantity currentQuantity originalUnitPriceSet { shopMoney { amount } }"

ORDERS_QUERY = f"""
query Orders($first: Int!, $after: String, $query: String!, $lines: Int!) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    edges {{ node {{ {_ORDER_FIELDS}
      lineItems(first: $lines) {{
        pageInfo {{ hasNextPage endCursor }}
        edges {{ node {{ {_LINE_FIELDS} }} }}
      }}
    }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
ORDER_COST_BASE = 7
"""Requested cost of one order node in ``ORDERS_QUERY`` without its lines: the node 1, the two
two-level objects 2 each, the line connection 2; each requested line adds 3."""

ORDER_LINES_QUERY = f"""
query OrderLines($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: 100, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      edges {{ node {{ {_LINE_FIELDS} }} }}
    }}
  }}
}}
"""

BULK_ORDERS_QUERY = """
{{
  orders(sortKey: UPDATED_AT, query: "{search}") {{
    edges {{ node {{ {order}
      lineItems {{ edges {{ node {{ {line} }} }} }}
    }} }}
  }}
}}
"""

BULK_RUN = """
mutation RunBulk($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message }
  }
}
"""

BULK_POLL = """
query BulkStatus($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode objectCount url }
  }
}
"""

CURRENT_BULK = "{ currentBulkOperation { id status } }"

ORDERS_COUNT = """
query OrdersCount($query: String!, $limit: Int) {
  ordersCount(query: $query, limit: $limit) { count precision }
}
"""

VARIANTS_QUERY = """
query Variants($first: Int!, $after: String, $query: String) {
  productVariants(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    edges { node { id sku title price updatedAt product { title } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CHANNELS_QUERY = """
query Channels($after: String) {
  channels(first: 50, after: $after) {
    edges { node { id handle name } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


INSTALLATION_QUERY = "{ currentAppInstallation { accessScopes { handle } } }"
CAPABILITY_SCOPES = {
    "sales_orders": "read_orders",
    "pending_sales": "read_orders",
    "products": "read_products",
    "channels": "read_publications",
}
ALL_ORDERS_AFTER_DAYS = 60
"""Without ``read_all_orders`` Shopify serves only the last 60 days of orders."""


def required_scopes(capabilities: Sequence[str], history_days: int) -> list[str]:
    """The access scopes a sync of ``capabilities`` needs, in a stable order."""
    needed = [CAPABILITY_SCOPES[c] for c in capabilities if c in CAPABILITY_SCOPES]
    orders = any(c in ("sales_orders", "pending_sales") for c in capabilities)
    if orders and history_days > ALL_ORDERS_AFTER_DAYS:
        needed.append("read_all_orders")
    return list(dict.fromkeys(needed))


class ShopifySettings(ServiceSettings):
    history_days: int = Field(default=365, ge=1, le=3650)
    """How far back the first (full) sync reaches."""
    page_size: int = Field(default=100, ge=1, le=250)
    """Most orders per GraphQL page; fewer when the query cost would pass Shopify's 1,000 cap."""
    lines_per_order: int = Field(default=10, ge=1, le=250)
    """Line items fetched with each order (more are fetched per order when an order has more).
    Each line adds 3 to an order's query cost, so this decides how many orders fit in a page."""
    bulk: bool = True
    """Use the Bulk Operations API for full syncs and large deltas."""
    bulk_delta_orders: int = Field(default=100, ge=1)
    """An incremental sync whose delta (``ordersCount``) has at least this many orders runs a
    bulk operation instead of paging: on Standard limits paging moves ~10 orders/s once the
    2,000-point bucket's reserve (~70 orders) is spent, a bulk operation thousands (measured:
    251 orders paged in 23.4 s, in bulk 0.07 s; docs/shopify.md)."""
    api_version: str = "2025-10"
    wait_budget_s: float = Field(default=60.0, ge=0)
    """Seconds one sync may wait on throttling *without progress* (since its last page) before
    stopping and resuming next run. Waiting that ends in a page does not count."""
    lookback_s: int = Field(default=300, ge=0, le=86_400)
    """Incremental syncs start this many seconds before the cursor (records committed late)."""
    bulk_timeout_s: float = Field(default=3600.0, gt=0)
    """Longest wait for a bulk operation to finish before giving up until the next run."""
    bulk_page_size: int = Field(default=5_000, ge=1, le=50_000)
    """Orders per page (one transaction) of a bulk result. Every commit costs a WAL flush (~9 ms
    measured), hence big pages; a crash loses at most one, fetched again from the cursor."""


class _CostExceeded(Exception):
    def __init__(self, cost: int) -> None:
        super().__init__(cost)
        self.cost = cost


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise DataError(
            f"Shopify cursor has an unreadable updated_at {text!r}.",
            hint="Reset the integration's sync state to start a full sync.",
        ) from None


def _amount(money_set: Any) -> float | None:
    try:
        return float(money_set["shopMoney"]["amount"])
    except (TypeError, KeyError, ValueError):
        return None


def _line_record(node: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "external_id": node["id"],
        "sku": node.get("sku") or None,
        "quantity": node.get("quantity"),
        "current_quantity": node.get("currentQuantity"),
        "unit_price": _amount(node.get("originalUnitPriceSet")),
        "warehouse": None,
    }


def order_record(node: Mapping[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
    """A Shopify order node (GraphQL or bulk JSONL) as a canonical ``sales_orders`` record."""
    try:
        channel = node["channelInformation"]["channelDefinition"]["handle"]
    except (KeyError, TypeError):
        channel = None
    status = node.get("displayFinancialStatus")
    financial = status.lower() if isinstance(status, str) else None
    cancelled = node.get("cancelledAt")
    return {
        "external_id": node["id"],
        "order_number": node.get("name"),
        "channel": channel or node.get("sourceName"),
        "ordered_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "currency": node.get("currencyCode"),
        "financial_status": financial,
        "total": _amount(node.get("totalPriceSet")),
        "cancelled_at": cancelled,
        "lifecycle": "closed" if cancelled else LIFECYCLE.get(financial or "", "closed"),
        "lines": lines,
    }


def _cursor_of(record: Mapping[str, Any]) -> Cursor:
    return {"updated_at": record["updated_at"], "id": record["external_id"]}


class ShopifyConnector:
    preload: ClassVar[tuple[str, ...]] = ("httpx",)
    """Modules fetching imports, imported ahead by the daemon (``registry.preload``)."""
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="shopify",
        display_name="Shopify",
        description="E-commerce platform for sales orders and products",
        capabilities=capabilities("sales_orders", "pending_sales", "products", "channels"),
        credential_fields=(
            CredentialField(
                "store_url",
                "Store URL",
                type="url",
                required=True,
                secret=False,
                placeholder="your-store.myshopify.com",
                help="Your Shopify store's myshopify.com domain",
            ),
            CredentialField(
                "access_token",
                "Admin API Access Token",
                type="password",
                required=True,
                secret=True,
                placeholder="shpat_…",
                help="Shopify Admin → Settings → Apps and sales channels → Develop apps",
            ),
        ),
        settings_model=ShopifySettings,
    )

    def __init__(
        self,
        settings: ServiceSettings,
        credentials: Mapping[str, str],
        *,
        full: bool = False,
        window: Window | None = None,
        policy: HttpPolicy | None = None,
        client: httpx.Client | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        assert isinstance(settings, ShopifySettings)
        self.settings = settings
        self.full = full
        self.window = window
        self.now = now
        self.policy = policy or HttpPolicy(wait_budget_s=settings.wait_budget_s)
        store = (credentials.get("store_url") or "").strip()
        token = credentials.get("access_token") or ""
        if not token or not (store or settings.base_url):
            missing = "access_token" if not token else "store_url"
            raise AuthError(
                f"Shopify credentials lack '{missing}'.",
                hint="Add it to the integration's credentials file (sops edit) and apply.",
            )
        store = store.removeprefix("https://").removeprefix("http://").rstrip("/")
        self.store = store or "the Shopify sandbox"
        base = check_base_url(settings.base_url) if settings.base_url else f"https://{store}"
        self.path = f"/admin/api/{settings.api_version}/graphql.json"
        self.headers = {"X-Shopify-Access-Token": token, "Accept": "application/json"}
        self.client = client or make_client(base, {}, self.policy)
        # Bulk results live on a storage host: never send the access token there.
        self.downloads = make_client("", {}, self.policy)
        self.available: float | None = None
        self.restore_rate = 50.0
        self.waited_at_progress = 0.0
        """``policy.waited_s`` when the last page was yielded (the budget counts from there)."""
        self.last_fetch: str | None = None
        """How the last order fetch ran: ``bulk`` or ``paged`` (shown in tests and benchmarks)."""

    def close(self) -> None:
        self.client.close()
        self.downloads.close()

    # -- capabilities ------------------------------------------------------------------------

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        if capability in STATUS_FILTERS:
            return self._fetch_orders(capability, cursor)
        if capability == "products":
            return self._variants(None if self.full else cursor)
        if capability == "channels":
            return self._channels()
        raise UnsupportedCapabilityError(
            f"Shopify does not offer the '{capability}' capability.",
            hint=f"Shopify offers: {', '.join(self.spec.capability_names())}.",
        )

    def count(self, capability: str, window: Window | None) -> int | None:
        """Orders of ``capability`` Shopify holds over ``window`` (the history a full sync
        reaches when ``None``): ``ordersCount`` with the fetch's search, its status filter, and
        cancelled orders left out, exactly what the state holds when it is complete."""
        if capability not in STATUS_FILTERS:
            return None
        search = f"{self._range(window)} AND ({STATUS_FILTERS[capability]}) AND {NOT_CANCELLED}"
        data = self._graphql(ORDERS_COUNT, {"query": search, "limit": None}, 2)
        return int(data["ordersCount"]["count"])

    def _fetch_orders(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        if self.window is not None:
            search = self._range(self.window)  # every status: the window's changes are routed
            return self._orders_by_size(capability, search, keep_cursor=False)
        if cursor is None and not self.full:
            # A first sync: nothing is stored yet, so only the capability's own orders matter.
            search = self._search(capability, None)
            if self.settings.bulk:
                return self._bulk_orders(search)
            return self._orders(search)
        since = self._since(None if self.full else cursor)
        return self._orders_by_size(capability, f"updated_at:>='{_iso(since)}'")

    def _orders_by_size(
        self, capability: str, search: str, *, keep_cursor: bool = True
    ) -> Iterator[Page]:
        """Every order updated in ``search``'s range: bulk if the delta is large, else paged."""
        if self.settings.bulk:
            limit = self.settings.bulk_delta_orders
            data = self._graphql(ORDERS_COUNT, {"query": search, "limit": limit}, 2)
            if int(data["ordersCount"]["count"]) >= limit:
                return self._bulk_orders(search, keep_cursor=keep_cursor)
        return self._orders(search, keep_cursor=keep_cursor)

    def _range(self, window: Window | None) -> str:
        if window is None:
            return f"updated_at:>='{_iso(self.now() - timedelta(days=self.settings.history_days))}'"
        search = f"updated_at:>='{_iso(window.since)}'"
        if window.until is not None:
            search += f" AND updated_at:<'{_iso(window.until)}'"
        return search

    def _since(self, cursor: Cursor | None) -> datetime:
        if cursor and cursor.get("updated_at"):
            return _parse_time(str(cursor["updated_at"])) - timedelta(
                seconds=self.settings.lookback_s
            )
        return self.now() - timedelta(days=self.settings.history_days)

    def _search(self, capability: str, cursor: Cursor | None) -> str:
        return f"updated_at:>='{_iso(self._since(cursor))}' AND ({STATUS_FILTERS[capability]})"

    def orders_per_page(self) -> int:
        per_order = ORDER_COST_BASE + 3 * self.settings.lines_per_order
        return max(1, min(self.settings.page_size, (MAX_QUERY_COST - 2) // per_order))

    def _orders(self, search: str, *, keep_cursor: bool = True) -> Iterator[Page]:
        self.last_fetch = "paged"
        lines = self.settings.lines_per_order
        variables: dict[str, Any] = {
            "first": self.orders_per_page(),
            "after": None,
            "query": search,
            "lines": lines,
        }
        while True:
            cost = 2 + variables["first"] * (ORDER_COST_BASE + 3 * lines)
            try:
                data = self._graphql(ORDERS_QUERY, variables, cost)
            except _CostExceeded as exc:
                if variables["first"] == 1:
                    raise DataError(
                        f"Shopify rejects even a one-order page (query cost {exc.cost}).",
                        hint="Lower settings.lines_per_order.",
                    ) from None
                variables["first"] = max(1, variables["first"] // 2)
                continue
            connection = data["orders"]
            records = [
                order_record(node, self._order_lines(node))
                for node in (edge["node"] for edge in connection["edges"])
            ]
            if records:
                cursor = _cursor_of(records[-1]) if keep_cursor else None
                yield self._page(records, cursor)
            if not connection["pageInfo"]["hasNextPage"]:
                return
            variables["after"] = connection["pageInfo"]["endCursor"]

    def _page(self, records: list[dict[str, Any]], cursor: Cursor | None) -> Page:
        """A page, and progress: the waiting budget counts again from here."""
        self.waited_at_progress = self.policy.waited_s
        return Page(records, cursor, waited_s=self.policy.take_waited())

    def _order_lines(self, node: Mapping[str, Any]) -> list[dict[str, Any]]:
        connection = node["lineItems"]
        lines = [_line_record(edge["node"]) for edge in connection["edges"]]
        while connection["pageInfo"]["hasNextPage"]:
            variables = {"id": node["id"], "after": connection["pageInfo"]["endCursor"]}
            data = self._graphql(ORDER_LINES_QUERY, variables, 3 + 100 * 3)
            if data.get("order") is None:
                break  # deleted between the two queries
            connection = data["order"]["lineItems"]
            lines.extend(_line_record(edge["node"]) for edge in connection["edges"])
        return lines

    def _variants(self, cursor: Cursor | None) -> Iterator[Page]:
        since = self._since(cursor) if cursor else None
        search = f"updated_at:>='{_iso(since)}'" if since else None
        if self.window is not None:
            search = self._range(self.window)
        variables: dict[str, Any] = {"first": 250, "after": None, "query": search}
        while True:
            data = self._graphql(VARIANTS_QUERY, variables, 2 + 250 * 2)
            connection = data["productVariants"]
            records = [self._product(edge["node"]) for edge in connection["edges"]]
            if records:
                yield self._page(records, None if self.window else _cursor_of(records[-1]))
            if not connection["pageInfo"]["hasNextPage"]:
                return
            variables["after"] = connection["pageInfo"]["endCursor"]

    @staticmethod
    def _product(node: Mapping[str, Any]) -> dict[str, Any]:
        product = (node.get("product") or {}).get("title") or ""
        variant = node.get("title") or ""
        title = product if variant in ("", "Default Title") else f"{product} - {variant}"
        try:
            price = float(node["price"]) if node.get("price") is not None else None
        except (TypeError, ValueError):
            price = None
        return {
            "external_id": node["id"],
            "sku": node.get("sku") or None,
            "title": title,
            "price": price,
            "updated_at": node.get("updatedAt"),
        }

    def _channels(self) -> Iterator[Page]:
        after: str | None = None
        while True:
            data = self._graphql(CHANNELS_QUERY, {"after": after}, 2 + 50 * 1)
            connection = data["channels"]
            records = [
                {"external_id": edge["node"]["handle"], "name": edge["node"]["name"]}
                for edge in connection["edges"]
            ]
            yield self._page(records, None)
            if not connection["pageInfo"]["hasNextPage"]:
                return
            after = connection["pageInfo"]["endCursor"]

    # -- bulk operations ---------------------------------------------------------------------

    def _bulk_orders(self, search: str, *, keep_cursor: bool = True) -> Iterator[Page]:
        self.last_fetch = "bulk"
        query = BULK_ORDERS_QUERY.format(
            search=search.replace('"', '\\"'), order=_ORDER_FIELDS, line=_LINE_FIELDS
        )
        operation = self._start_bulk(query)
        url = self._await_bulk(operation)
        if url:
            for page in self._read_bulk(url):
                self.waited_at_progress = self.policy.waited_s
                yield page if keep_cursor else Page(page.records, None)

    def _start_bulk(self, query: str) -> str:
        for _attempt in range(2):
            data = self._graphql(BULK_RUN, {"query": query}, 10)
            payload = data["bulkOperationRunQuery"]
            errors = payload.get("userErrors") or []
            if not errors:
                return str(payload["bulkOperation"]["id"])
            message = "; ".join(str(e.get("message")) for e in errors)
            running = self._graphql(CURRENT_BULK, {}, 1).get("currentBulkOperation")
            if "in progress" not in message or not running:
                raise DataError(
                    f"Shopify refused the bulk operation: {message}",
                    hint="Set settings.bulk to false to fetch the history page by page.",
                )
            self._await_bulk(str(running["id"]))  # an earlier run's operation: let it finish
        raise DataError(
            "Shopify kept another bulk operation running for this app.",
            hint="Retry later, or cancel it in the Shopify admin.",
        )

    def _await_bulk(self, operation: str) -> str | None:
        deadline = time.monotonic() + self.settings.bulk_timeout_s
        waited = 0.0
        while True:
            node = self._graphql(BULK_POLL, {"id": operation}, 1).get("node") or {}
            status = node.get("status")
            if status == "COMPLETED":
                return node.get("url")
            if status in ("FAILED", "CANCELED", "EXPIRED", None):
                raise DataError(
                    f"Shopify bulk operation {operation} ended {status or 'missing'} "
                    f"(error code {node.get('errorCode')}).",
                    hint="Retry with a manual sync; set settings.bulk to false if it persists.",
                )
            if time.monotonic() > deadline:
                raise UnavailableError(
                    f"Shopify bulk operation {operation} still {status} after "
                    f"{self.settings.bulk_timeout_s:.0f}s.",
                    hint="The next sync waits for it; raise settings.bulk_timeout_s for big stores.",
                )
            # Poll again after an eighth of the time waited so far (50 ms to 5 s): the result is
            # picked up at most ~12% after it is ready. Doubling the delay instead wasted up to
            # as long as the operation itself (0.8 s of a 0.8 s bulk export, measured).
            delay = min(max(0.05, waited / 8), 5.0)
            self.policy.sleep(delay)
            waited += delay

    def _read_bulk(self, url: str) -> Iterator[Page]:
        """Stream the JSONL: an order line, then its line items (``__parentId``) after it."""
        import httpx

        size = self.settings.bulk_page_size
        page: list[dict[str, Any]] = []
        order: dict[str, Any] | None = None
        response = send(self.downloads, "GET", url, self.policy, service=SERVICE, stream=True)
        try:
            if response.status_code != 200:
                raise DataError(
                    f"Shopify bulk result download answered {response.status_code}.",
                    hint="The result URL may have expired; the next sync starts a new operation.",
                )
            for block in _line_blocks(response.iter_bytes(1 << 20)):
                with _gc_paused():
                    order = _link_rows(_decode_rows(block), order, page)
                while len(page) >= size:
                    yield Page(page[:size], _cursor_of(page[size - 1]))
                    page = page[size:]
        except httpx.HTTPError as exc:
            raise UnavailableError(
                f"Shopify bulk result download broke off: {exc}.",
                hint="The next sync resumes from the last saved page.",
            ) from exc
        finally:
            response.close()
        if order is not None:
            page.append(order)
        if page:
            yield Page(page, _cursor_of(page[-1]))

    # -- doctor ------------------------------------------------------------------------------

    def check(self, capabilities: Sequence[str]) -> str:
        """The token works and the app was granted the scopes these capabilities read."""
        data = self._graphql(INSTALLATION_QUERY, {}, cost=1)
        installation = data.get("currentAppInstallation") or {}
        granted = {str(s.get("handle")) for s in installation.get("accessScopes") or []}
        needed = required_scopes(capabilities, self.settings.history_days)
        missing = [scope for scope in needed if scope not in granted]
        if missing:
            raise AuthError(
                f"The Shopify app lacks access scope(s) {', '.join(missing)} "
                f"(granted: {', '.join(sorted(granted)) or 'none'}).",
                hint="Add the scopes to the app in the Shopify admin (Apps → Develop apps → "
                "Configuration), reinstall it, and put the new token in the SOPS file.",
            )
        return f"token accepted; access scopes granted: {', '.join(needed)}"

    # -- one GraphQL call ----------------------------------------------------------------------

    def _graphql(self, query: str, variables: dict[str, Any], cost: int) -> dict[str, Any]:
        """POST one query; waits out throttling within the budget; returns ``data``."""
        while True:
            self._pace(cost)
            response = send(
                self.client,
                "POST",
                self.path,
                self.policy,
                service=SERVICE,
                passthrough=(429,),
                content=orjson.dumps({"query": query, "variables": variables}),
                headers={**self.headers, "Content-Type": "application/json"},
            )
            body = json_body(response, SERVICE)
            if not isinstance(body, dict):
                raise DataError(f"Malformed response from Shopify: {str(body)[:120]!r}.")
            self._note_cost(body.get("extensions"))
            errors = body.get("errors")
            if response.status_code != 429 and not errors and isinstance(body.get("data"), dict):
                data: dict[str, Any] = body["data"]
                return data
            codes = _error_codes(errors)
            if response.status_code == 429 or "THROTTLED" in codes:
                self._wait_throttled(cost)
                continue
            if "MAX_COST_EXCEEDED" in codes:
                raise _CostExceeded(_max_cost(errors) or cost)
            raise DataError(
                f"Shopify answered {response.status_code} with errors to {self.path}: "
                f"{_error_text(errors)}",
                hint="Check settings.api_version and the app's access scopes (read_orders, "
                "read_products).",
            )

    def _note_cost(self, extensions: Any) -> None:
        try:
            status = extensions["cost"]["throttleStatus"]
            self.available = float(status["currentlyAvailable"])
            self.restore_rate = float(status["restoreRate"]) or self.restore_rate
        except (TypeError, KeyError, ValueError):
            return

    def _pace(self, cost: int) -> None:
        """Wait before sending when the bucket (as last reported) cannot pay for the query."""
        if self.available is not None and self.available < cost <= MAX_QUERY_COST:
            self._wait_throttled(cost)

    def _wait_throttled(self, cost: int) -> None:
        available = self.available or 0.0
        # A hair over the exact refill time: Shopify reports whole points, and a wait that
        # lands a fraction of a point short is answered THROTTLED (measured: 2 in 24 pages).
        seconds = max(0.1, (cost - available) / self.restore_rate + 0.02)
        policy = self.policy
        stalled = policy.waited_s - self.waited_at_progress
        if stalled + seconds > policy.wait_budget_s:
            raise RateLimitedError(
                f"Rate limited by Shopify ({self.store}): a query needs {cost} cost points, "
                f"{available:.0f} are available and they restore at {self.restore_rate:g}/s; "
                f"{stalled:.0f}s were waited since the last page and the wait budget of "
                f"{self.settings.wait_budget_s:g}s without progress is spent. Pages already "
                "fetched are saved and the next sync resumes where it left off.",
                hint="Wait for the next scheduled sync, or raise settings.wait_budget_s.",
            )
        # Budgeted here, per stretch without progress (HttpPolicy's own budget is a total).
        policy.sleep(seconds)
        policy.waited_s += seconds
        self.available = min(cost, available + seconds * self.restore_rate)


def _link_rows(
    rows: list[dict[str, Any]], order: dict[str, Any] | None, done: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Fold bulk rows into orders: a row without ``__parentId`` starts an order (the previous one
    is complete, appended to ``done``); a line item row joins the order before it."""
    for row in rows:
        parent = row.get("__parentId")
        if parent is None:
            if order is not None:
                done.append(order)
            order = order_record(row, [])
        elif order is not None and parent == order["external_id"]:
            # _line_record inlined: this runs once per line of every order of a full sync.
            try:
                price: float | None = float(row["originalUnitPriceSet"]["shopMoney"]["amount"])
            except (KeyError, TypeError, ValueError):
                price = None
            order["lines"].append(
                {
                    "external_id": row["id"],
                    "sku": row.get("sku") or None,
                    "quantity": row.get("quantity"),
                    "current_quantity": row.get("currentQuantity"),
                    "unit_price": price,
                    "warehouse": None,
                }
            )
        else:
            raise DataError(
                f"Shopify bulk result has a line item of {parent} away from its order.",
                hint="Retry with a manual sync; set settings.bulk to false if it persists.",
            )
    return order


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a batch of rows becomes records: tens of thousands of new
    dicts otherwise trigger repeated collections that cost more than the parsing (measured 3×).
    The batch holds no cycles, and the collector resumes before the page is yielded."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _line_blocks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """JSONL chunks -> blocks of whole lines (a raw newline always ends a row: JSON escapes
    newlines inside strings)."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        yield data[:cut]
    if rest.strip():
        yield rest


def _decode_rows(block: bytes) -> list[dict[str, Any]]:
    # One orjson call per line: measured faster than one call on the block made into an array.
    loads = orjson.loads
    try:
        return [loads(line) for line in block.split(b"\n") if line]
    except orjson.JSONDecodeError:
        for line in block.split(b"\n"):
            try:
                loads(line or b"{}")
            except orjson.JSONDecodeError:
                raise DataError(
                    f"Malformed line in Shopify bulk result: {line[:80]!r}.",
                    hint="Retry with a manual sync.",
                ) from None
        raise


def _error_codes(errors: Any) -> set[str]:
    if not isinstance(errors, list):
        return set()
    return {
        str((e.get("extensions") or {}).get("code"))
        for e in errors
        if isinstance(e, dict) and isinstance(e.get("extensions"), dict)
    }


def _max_cost(errors: Any) -> int | None:
    for e in errors or []:
        if isinstance(e, dict) and isinstance(e.get("extensions"), dict):
            cost = e["extensions"].get("cost")
            if isinstance(cost, int):
                return cost
    return None


def _error_text(errors: Any) -> str:
    if isinstance(errors, list):
        return "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )
    return str(errors)[:200]

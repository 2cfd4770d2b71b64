"""Brewman connector: a brewery management system's Web API.

Protocol (Brewman's Swagger, as published in Premier-Systems/brewman-api): every method is
``POST /webapi/{Resource}/v{n}/{Method}`` with an ``Api-Token`` header and the ``tenantId`` in the
JSON body. Tether uses three:

* ``Order/v2/GetOrdersByFilter`` for sales_orders — ``filter.fromOrderDate`` /
  ``filter.toOrderDate`` / ``filter.maximumResults``; answers ``results.orders`` and
  ``results.matchingCount``. The API has no cursor and no paging.
* ``Item/v1/GetEntireItemsByFilter`` (``mainPurposes: ["Product"]``) for products, and to turn
  stock item ids into product codes (SKUs).
* ``Stock/v1/GetStockItemsQuantityCurrentlyInStock`` for warehouse_inventory, one row per stock
  item and stock location.

Orders are paged by date windows (see ``OrderWindows``): a window that comes back full
(``maximumResults`` orders) is halved and asked again, down to ``min_window_minutes``; each
complete window is one page whose cursor is the window's end, so the next run — or the rest of
this one after a crash — starts exactly there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

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
from tether.errors import AuthError, DataError, UnsupportedCapabilityError

if TYPE_CHECKING:
    import httpx

SERVICE = "Brewman"
DEFAULT_BASE_URL = "https://brewman.premiersystems.com"
ORDERS = "/webapi/Order/v2/GetOrdersByFilter"
STOCK = "/webapi/Stock/v1/GetStockItemsQuantityCurrentlyInStock"
ITEMS = "/webapi/Item/v1/GetEntireItemsByFilter"
RECORDS_PER_PAGE = 1000


class BrewmanSettings(ServiceSettings):
    history_days: int = Field(default=365, ge=1, le=3650)
    """How far back a first (or full) sync of sales_orders reads."""
    window_days: int = Field(default=7, ge=1, le=366)
    """Initial date-window size; windows shrink when one hits maximum_results."""
    maximum_results: int = Field(default=1000, ge=1, le=10000)
    min_window_minutes: int = Field(default=15, ge=1)
    """The smallest window tried before giving up (more than maximum_results orders in it)."""
    lookback_days: int = Field(default=0, ge=0, le=90)
    """Incremental runs re-read this many days before the cursor, to pick up edited orders."""
    maximum_items: int = Field(default=10000, ge=1, le=100000)
    """Products read per call; a catalogue larger than this is reported, not truncated."""
    channel_field: Literal["outletTypeId", "salesCodeId"] = "outletTypeId"
    """Which order-header field is the order's channel."""
    currency: str = Field(default="GBP", min_length=3, max_length=3)
    """Brewman orders carry no currency: the tenant trades in one, named here."""
    wait_budget_s: float = Field(default=60.0, ge=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


@dataclass
class OrderWindows:
    """The date-window walk, as pure logic: where to ask next, and what a full answer means."""

    start: datetime
    stop: datetime
    size: timedelta
    initial: timedelta
    minimum: timedelta

    def current(self) -> tuple[datetime, datetime]:
        return self.start, min(self.start + self.size, self.stop)

    def done(self) -> bool:
        return self.start >= self.stop

    def shrink(self) -> bool:
        """Halve the window after a full answer; False when it is already at the minimum."""
        start, end = self.current()
        if end - start <= self.minimum:
            return False
        half = timedelta(seconds=int((end - start).total_seconds() // 2))
        self.size = max(half, self.minimum)
        return True

    def advance(self) -> None:
        """The current window is complete: move past it and let the size grow back."""
        self.start = self.current()[1]
        self.size = min(self.size * 2, self.initial)


class BrewmanConnector:
    preload: ClassVar[tuple[str, ...]] = ("httpx",)
    """Modules fetching imports, imported ahead by the daemon (``registry.preload``)."""
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="brewman",
        display_name="Brewman",
        description="Brewery management system",
        capabilities=capabilities("sales_orders", "warehouse_inventory", "products"),
        credential_fields=(
            CredentialField(
                "api_token",
                "API Token",
                type="password",
                required=True,
                secret=True,
                placeholder="",
                help="Brewman → Settings → API",
            ),
            CredentialField(
                "tenant_id",
                "Tenant ID",
                type="string",
                required=True,
                secret=False,
                placeholder="00000000-0000-0000-0000-000000000000",
                help="",
            ),
        ),
        settings_model=BrewmanSettings,
    )

    def __init__(
        self,
        settings: ServiceSettings,
        credentials: Mapping[str, str],
        *,
        full: bool = False,
        policy: HttpPolicy | None = None,
        client: httpx.Client | None = None,
        now: Callable[[], datetime] | None = None,
        window: Window | None = None,
    ) -> None:
        assert isinstance(settings, BrewmanSettings)
        self.settings = settings
        self.full = full
        self.window = window
        """A backfill: orders *placed* in the window (Brewman filters by order date only), in
        pages without a cursor; products and stock are snapshots and read whole anyway."""
        self.now = now or (lambda: datetime.now(UTC))
        self.policy = policy or HttpPolicy(wait_budget_s=settings.wait_budget_s)
        self.missing = [f for f in ("api_token", "tenant_id") if not credentials.get(f)]
        self.tenant_id = credentials.get("tenant_id", "")
        headers = {"Api-Token": credentials.get("api_token", ""), "accept": "application/json"}
        base_url = check_base_url(settings.base_url or DEFAULT_BASE_URL)
        self.client = client or make_client(base_url, headers, self.policy)
        if client is not None:
            self.client.headers.update(headers)

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        if self.missing:
            raise AuthError(
                f"Brewman credentials lack {', '.join(self.missing)}.",
                hint="Add the field(s) to the integration's SOPS file (sops edit) and apply.",
            )
        if capability == "sales_orders":
            yield from self._orders(None if self.full else cursor)
        elif capability == "products":
            yield from self._products()
        elif capability == "warehouse_inventory":
            yield from self._inventory()
        else:
            raise UnsupportedCapabilityError(
                f"Brewman does not offer the capability '{capability}'.",
                hint="Brewman offers: sales_orders, warehouse_inventory, products.",
            )

    # -- sales_orders ---------------------------------------------------------------------------

    def window_field(self, capability: str) -> str | None:
        """Orders are windowed by the date they were placed (``createdAt``): the only date
        Brewman's order filter knows, which is why an incremental run misses late edits."""
        return "ordered_at" if capability == "sales_orders" else None

    def count(self, capability: str, window: Window | None) -> int | None:
        """What Brewman says it holds: ``matchingCount`` of one order query over the window
        (``maximumResults: 1``, so no orders are sent); the product catalogue's
        ``matchingCount``; stock rows as a sync makes them (the stock call has no count)."""
        if self.missing:
            raise AuthError(
                f"Brewman credentials lack {', '.join(self.missing)}.",
                hint="Add the field(s) to the integration's SOPS file (sops edit) and apply.",
            )
        if capability == "sales_orders":
            start, stop = self._bounds(window)
            _, matching = self._order_window(start, stop, 1)
            return matching
        if capability == "products":
            body = self._post(ITEMS, {"mainPurposes": ["Product"], "maximumResults": 1})
            results = body.get("results")
            if not isinstance(results, dict) or "matchingCount" not in results:
                raise _malformed(ITEMS, body, "'results.matchingCount'")
            return int(results["matchingCount"] or 0)
        if capability == "warehouse_inventory":
            return sum(len(page.records) for page in self._inventory())
        return None

    def _bounds(self, window: Window | None) -> tuple[datetime, datetime]:
        """``[since, until)`` of a window; without one, the history a first sync reads."""
        now = self.now().astimezone(UTC).replace(microsecond=0)
        if window is None:
            return now - timedelta(days=self.settings.history_days), now
        until = now if window.until is None else window.until.astimezone(UTC)
        return window.since.astimezone(UTC), until

    def _windows(self, cursor: Cursor | None) -> OrderWindows:
        settings = self.settings
        now = self.now().astimezone(UTC).replace(microsecond=0)
        resume = _parse(cursor.get("window_end")) if cursor else None
        if self.window is not None:
            start, now = self._bounds(self.window)
        elif resume is None:
            start = now - timedelta(days=settings.history_days)
        else:
            start = resume - timedelta(days=settings.lookback_days)
        size = timedelta(days=settings.window_days)
        return OrderWindows(start, now, size, size, timedelta(minutes=settings.min_window_minutes))

    def _orders(self, cursor: Cursor | None) -> Iterator[Page]:
        windows = self._windows(None if self.window is not None else cursor)
        limit = self.settings.maximum_results
        while not windows.done():
            start, end = windows.current()
            orders, matching = self._order_window(start, end, limit)
            if len(orders) >= limit or matching > len(orders):
                if windows.shrink():
                    continue
                raise DataError(
                    f"Brewman has more than {limit} orders between {_iso(start)} and {_iso(end)} "
                    f"(matchingCount {matching}); windows cannot shrink below "
                    f"{self.settings.min_window_minutes} minutes.",
                    hint="Raise settings.maximum_results (up to 10000) or lower "
                    "settings.min_window_minutes, then sync again.",
                )
            # Keep [start, end) only: an order on the boundary belongs to the next window.
            records = [
                _order(o, self.settings.channel_field, self.settings.currency)
                for o in orders
                if _in_window(o, start, end)
            ]
            windows.advance()
            yield Page(
                records=records,
                cursor=None if self.window is not None else {"window_end": _iso(end)},
                raw_count=len(orders),
                waited_s=self.policy.take_waited(),
            )

    def _order_window(
        self, start: datetime, end: datetime, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        body = self._post(
            ORDERS,
            {"fromOrderDate": _iso(start), "toOrderDate": _iso(end), "maximumResults": limit},
        )
        results = body.get("results")
        orders = results.get("orders") if isinstance(results, dict) else None
        if not isinstance(orders, list):
            raise _malformed(ORDERS, body, "'results.orders'")
        matching = results.get("matchingCount") if isinstance(results, dict) else None
        return [_object(o, ORDERS) for o in orders], int(matching or len(orders))

    # -- products and inventory -----------------------------------------------------------------

    def _items(self) -> list[dict[str, Any]]:
        limit = self.settings.maximum_items
        body = self._post(ITEMS, {"mainPurposes": ["Product"], "maximumResults": limit})
        results = body.get("results")
        items = results.get("entireItems") if isinstance(results, dict) else None
        if not isinstance(items, list):
            raise _malformed(ITEMS, body, "'results.entireItems'")
        matching = int(results.get("matchingCount") or 0) if isinstance(results, dict) else 0
        if matching > len(items):
            raise DataError(
                f"Brewman has {matching} products, more than settings.maximum_items ({limit}).",
                hint="Raise settings.maximum_items so the whole catalogue is read, then sync.",
            )
        for item in items:
            _object(item.get("details") if isinstance(item, dict) else item, ITEMS)
        return items

    def _products(self) -> Iterator[Page]:
        records = [_product(item) for item in self._items()]
        for offset in range(0, max(len(records), 1), RECORDS_PER_PAGE):
            chunk = records[offset : offset + RECORDS_PER_PAGE]
            yield Page(records=chunk, cursor=None, waited_s=self.policy.take_waited())

    def _inventory(self) -> Iterator[Page]:
        codes = {item["details"]["id"]: item["details"].get("code") for item in self._items()}
        body = self._post(STOCK, None)
        levels = body.get("stockLevels")
        if not isinstance(levels, list):
            raise _malformed(STOCK, body, "'stockLevels'")
        as_of = _iso(self.now())
        rows: dict[str, dict[str, Any]] = {}
        skipped = 0
        for level in levels:
            level = _object(level, STOCK, key="stockItemId")
            sku = codes.get(level["stockItemId"])
            if sku is None:  # materials (malt, hops) are stock but not sellable SKUs
                skipped += 1
                continue
            warehouse = level.get("stockLocationId")
            key = f"{warehouse}|{sku}"
            quantity = float(level.get("quantity") or 0)
            row = rows.setdefault(
                key,
                {
                    "external_id": key,
                    "warehouse": warehouse,
                    "sku": sku,
                    "on_hand": 0.0,
                    "available": 0.0,
                    "as_of": as_of,
                },
            )
            row["on_hand"] += quantity  # batches of one item in one location add up
            row["available"] += quantity
        notes = [f"skipped {skipped} stock rows of non-product items"] if skipped else []
        yield Page(
            records=list(rows.values()),
            cursor=None,
            raw_count=len(levels),
            waited_s=self.policy.take_waited(),
            notes=notes,
        )

    # -- doctor -----------------------------------------------------------------------------------

    def check(self, capabilities: Sequence[str]) -> str:
        """One product lookup capped at one result: the token and the tenant are accepted."""
        self._post(ITEMS, {"mainPurposes": ["Product"], "maximumResults": 1})
        return f"API token accepted for the tenant (POST {ITEMS} with maximumResults 1)"

    # -- transport --------------------------------------------------------------------------------

    def _post(self, path: str, query: dict[str, Any] | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"tenantId": self.tenant_id}
        if query is not None:
            payload["filter"] = query
        response = send(
            self.client,
            "POST",
            path,
            self.policy,
            service=SERVICE,
            passthrough=(403,),
            json=payload,
        )
        if response.status_code == 403:
            raise AuthError(
                f"Authentication failed: Brewman answered 403 Forbidden to POST {path} — the API "
                "token has no access to the tenant in the credentials.",
                hint="Check tenant_id in the integration's SOPS file (sops edit) and apply.",
            )
        if response.status_code >= 300:
            raise DataError(
                f"Brewman refused POST {path}: {response.status_code} {_error_text(response)}",
                hint="Check the integration's credentials and settings; the next sync retries.",
            )
        body = json_body(response, SERVICE)
        if not isinstance(body, dict):
            raise _malformed(path, body, "a JSON object")
        return body

    def close(self) -> None:
        self.client.close()


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("title") or body)[:200]
    except (ValueError, AttributeError):
        return response.text[:120]


def _malformed(path: str, body: Any, expected: str) -> DataError:
    got = "keys " + ", ".join(sorted(body)[:6]) if isinstance(body, dict) else type(body).__name__
    return DataError(
        f"Malformed response from Brewman POST {path}: expected {expected}, got {got}.",
        hint="The service sent an unexpected body; retry later or contact Brewman support.",
    )


def _object(value: Any, path: str, key: str = "id") -> dict[str, Any]:
    if not isinstance(value, dict) or not value.get(key):
        raise _malformed(path, value, f"records with '{key}'")
    return value


def _created(order: dict[str, Any]) -> datetime | None:
    return _parse(((order.get("header") or {}).get("readOnly") or {}).get("createdAt"))


def _in_window(order: dict[str, Any], start: datetime, end: datetime) -> bool:
    created = _created(order)
    return created is None or start <= created < end


def _order(order: dict[str, Any], channel_field: str, currency: str) -> dict[str, Any]:
    header = order.get("header") or {}
    read_only = header.get("readOnly") or {}
    lines = [
        {
            "external_id": line.get("id") or f"{order['id']}:{n}",
            "sku": line.get("productCode"),
            "quantity": line.get("quantity"),
            "unit_price": line.get("unitNetPrice"),
            "warehouse": line.get("stockLocationId"),
        }
        for n, line in enumerate(order.get("lines") or [])
    ]
    return {
        "external_id": order["id"],
        "order_number": read_only.get("orderNumber"),
        "channel": header.get(channel_field),
        "ordered_at": read_only.get("createdAt"),
        "updated_at": read_only.get("lastUpdatedAt") or read_only.get("createdAt"),
        "currency": currency,
        "financial_status": (read_only.get("status") or "").lower() or None,
        "total": read_only.get("totalNetPrice"),
        "lines": lines,
    }


def _product(item: dict[str, Any]) -> dict[str, Any]:
    details = item["details"]
    return {
        "external_id": details["id"],
        "sku": details.get("code"),
        "title": details.get("name"),
        "price": (item.get("flatPricing") or {}).get("flatSalesPrice"),
        "updated_at": None,
    }

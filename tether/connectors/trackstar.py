"""TrackStar connector: one WMS API in front of many warehouse systems.

Protocol (docs.trackstarhq.com, "About the API"): ``GET /wms/inventory``, ``/wms/products`` and
``/wms/orders`` with the ``x-trackstar-api-key`` and ``x-trackstar-access-token`` headers; lists
return ``{"data": [...], "next_token": ...}`` and take ``limit`` (≤ 1000) and ``page_token``,
keeping the original filters on every page; 429 carries ``x-rate-limit-retry-after``; an endpoint
the connected WMS does not implement answers 501.

Choices (see docs/trackstar.md):

* Inventory is a snapshot: every run reads it all, one page of aggregate rows per API page, one
  row per (warehouse id, SKU) from ``inventory_by_warehouse_id``. It never sets a cursor.
* Products and orders are incremental on ``updated_date[gte]`` (TrackStar's documented filter),
  minus a small lookback. While a run pages, each page's cursor carries the filter, the
  ``page_token`` of the next page and the newest ``updated_date`` seen, so a run cut short (rate
  limit budget, crash) resumes at the page where it stopped; the last page's cursor is the plain
  ``{"updated_since": newest}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

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

SERVICE = "TrackStar"
DEFAULT_BASE_URL = "https://production.trackstarhq.com"
MAX_LIMIT = 1000
ENDPOINTS = {
    "warehouse_inventory": "/wms/inventory",
    "products": "/wms/products",
    "sales_orders": "/wms/orders",
}
INCREMENTAL = frozenset({"products", "sales_orders"})
LOOKBACK = timedelta(minutes=5)
"""Re-read a little before the cursor: records updated while the last run paged are not lost."""


class TrackStarSettings(ServiceSettings):
    page_size: int = Field(default=1000, ge=1, le=1000)
    wait_budget_s: float = Field(default=60.0, ge=0)


def _ts(moment: datetime) -> str:
    """TrackStar's only accepted date format: YYYY-MM-DDTHH:MM:SSZ."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class TrackStarConnector:
    preload: ClassVar[tuple[str, ...]] = ("httpx",)
    """Modules fetching imports, imported ahead by the daemon (``registry.preload``)."""
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="trackstar",
        display_name="TrackStar",
        description="Warehouse management system for inventory data",
        capabilities=capabilities("warehouse_inventory", "products", "sales_orders"),
        credential_fields=(
            CredentialField(
                "api_key",
                "API Key",
                type="password",
                required=True,
                secret=True,
                placeholder="ts_…",
                help="Your TrackStar organisation API key",
            ),
            CredentialField(
                "access_token",
                "Access Token",
                type="password",
                required=True,
                secret=True,
                placeholder="",
                help="The access token of the connected WMS",
            ),
        ),
        settings_model=TrackStarSettings,
    )

    def __init__(
        self,
        settings: ServiceSettings,
        credentials: Mapping[str, str],
        *,
        full: bool = False,
        policy: HttpPolicy | None = None,
        client: httpx.Client | None = None,
        window: Window | None = None,
    ) -> None:
        assert isinstance(settings, TrackStarSettings)
        self.settings = settings
        self.full = full
        self.window = window
        """A backfill: products and orders updated in the window (``updated_date[gte]`` /
        ``[lt]``), in pages without a cursor; inventory is a snapshot and read whole anyway."""
        self.policy = policy or HttpPolicy(wait_budget_s=settings.wait_budget_s)
        self.missing = [f for f in ("api_key", "access_token") if not credentials.get(f)]
        headers = {
            "x-trackstar-api-key": credentials.get("api_key", ""),
            "x-trackstar-access-token": credentials.get("access_token", ""),
            "accept": "application/json",
        }
        base_url = check_base_url(settings.base_url or DEFAULT_BASE_URL)
        self.client = client or make_client(base_url, headers, self.policy)
        if client is not None:
            self.client.headers.update(headers)

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        if self.missing:
            raise AuthError(
                f"TrackStar credentials lack {', '.join(self.missing)}.",
                hint="Add the field(s) to the integration's SOPS file (sops edit) and apply.",
            )
        if capability not in ENDPOINTS:
            raise UnsupportedCapabilityError(
                f"TrackStar does not offer the capability '{capability}'.",
                hint=f"TrackStar offers: {', '.join(ENDPOINTS)}.",
            )
        if capability not in INCREMENTAL or self.full or self.window is not None:
            cursor = None
        params: dict[str, str] = {"limit": str(min(self.settings.page_size, MAX_LIMIT))}
        since = cursor.get("updated_since") if cursor else None
        if since:
            params["updated_date[gte]"] = _ts(_parse_ts(since) - LOOKBACK)
        if self.window is not None and capability in INCREMENTAL:
            params.update(_window_filters(self.window))
        page_token = cursor.get("page_token") if cursor else None
        newest: str | None = cursor.get("newest") if cursor else None
        while True:
            try:
                body = self._get(ENDPOINTS[capability], params, page_token)
            except DataError:
                if not (cursor and page_token == cursor.get("page_token")):
                    raise
                # The saved page token expired: re-read from the saved filter instead.
                page_token = cursor = None
                continue
            rows = body["data"]
            page_token = body.get("next_token") or None
            records = _to_records(capability, rows)
            if capability in INCREMENTAL:
                newest = max([newest or "", *(str(r.get("updated_date") or "") for r in rows)])
                newest = newest or since
            yield Page(
                records=records,
                cursor=None
                if self.window is not None
                else self._cursor(capability, since, page_token, newest),
                raw_count=len(rows),
                waited_s=self.policy.take_waited(),
            )
            if page_token is None:
                return

    def check(self, capabilities: Sequence[str]) -> str:
        """One ``limit=1`` GET per capability: keys accepted, and the WMS serves each one."""
        if self.missing:
            raise AuthError(
                f"TrackStar credentials lack {', '.join(self.missing)}.",
                hint="Add the field(s) to the integration's SOPS file (sops edit) and apply.",
            )
        paths = [ENDPOINTS[c] for c in capabilities if c in ENDPOINTS]
        for path in paths:
            self._get(path, {"limit": "1"}, None)
        return f"API key and access token accepted ({', '.join(f'GET {p}' for p in paths)})"

    def window_field(self, capability: str) -> str | None:
        """Products and orders are windowed by ``updated_date``; inventory is a snapshot."""
        return "updated_at" if capability in INCREMENTAL else None

    def count(self, capability: str, window: Window | None) -> int | None:
        """TrackStar has no count: ``total_count`` is the number of items *on the page* (its
        API reference), so the list is paged through with the window's filters and its
        records counted — one request per 1,000, under the same rate-limit policy as a sync."""
        if self.missing:
            raise AuthError(
                f"TrackStar credentials lack {', '.join(self.missing)}.",
                hint="Add the field(s) to the integration's SOPS file (sops edit) and apply.",
            )
        if capability not in ENDPOINTS:
            return None
        params = {"limit": str(MAX_LIMIT)}
        if window is not None and capability in INCREMENTAL:
            params.update(_window_filters(window))
        seen: set[str] = set()
        page_token: str | None = None
        while True:
            body = self._get(ENDPOINTS[capability], params, page_token)
            records = _to_records(capability, body["data"])
            seen.update(str(r["external_id"]) for r in records)
            page_token = body.get("next_token") or None
            if page_token is None:
                return len(seen)

    @staticmethod
    def _cursor(
        capability: str, since: str | None, page_token: str | None, newest: str | None
    ) -> Cursor | None:
        if capability not in INCREMENTAL:
            return None
        if page_token is not None:
            return {"updated_since": since, "page_token": page_token, "newest": newest}
        return {"updated_since": newest} if newest else None

    def _get(self, path: str, params: dict[str, str], page_token: str | None) -> dict[str, Any]:
        query = dict(params)
        if page_token:
            query["page_token"] = page_token
        response = send(
            self.client, "GET", path, self.policy, service=SERVICE, passthrough=(501,), params=query
        )
        if response.status_code == 501:
            raise UnsupportedCapabilityError(
                f"capability not supported by this warehouse (TrackStar answered 501 for {path}): "
                f"{_error_text(response)}",
                hint="Remove the capability from the integration, or ask the warehouse to enable "
                "it in TrackStar.",
            )
        if response.status_code >= 300:
            raise DataError(
                f"TrackStar refused GET {path}: {response.status_code} {_error_text(response)}",
                hint="Check the integration's settings; if they look right, the next sync retries.",
            )
        body = json_body(response, SERVICE)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise DataError(
                f"Malformed response from TrackStar GET {path}: expected an object with a "
                f"'data' list, got {_shape(body)}.",
                hint="The service sent an unexpected body; retry later or contact its support.",
            )
        return body

    def close(self) -> None:
        self.client.close()


def _window_filters(window: Window) -> dict[str, str]:
    filters = {"updated_date[gte]": _ts(window.since)}
    if window.until is not None:
        filters["updated_date[lt]"] = _ts(window.until)
    return filters


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))[:200]
    except (ValueError, AttributeError):
        return response.text[:120]


def _shape(body: Any) -> str:
    if isinstance(body, dict):
        return "an object with keys " + ", ".join(sorted(body)[:6])
    return type(body).__name__


def _to_records(capability: str, rows: list[Any]) -> list[dict[str, Any]]:
    if capability == "warehouse_inventory":
        return _inventory_rows(rows)
    convert = _product if capability == "products" else _order
    return [convert(_object(row)) for row in rows]


def _object(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict) or not row.get("id"):
        raise DataError(
            f"Malformed record from TrackStar: expected an object with an 'id', got {_shape(row)}.",
            hint="Retry later or contact TrackStar support.",
        )
    return row


def _inventory_rows(rows: list[Any]) -> list[dict[str, Any]]:
    """One row per (warehouse id, SKU): items sharing a SKU in one warehouse are summed."""
    by_key: dict[str, dict[str, Any]] = {}
    for row in map(_object, rows):
        sku = row.get("sku")
        for warehouse, levels in (row.get("inventory_by_warehouse_id") or {}).items():
            key = f"{warehouse}|{sku}"
            on_hand = int(levels.get("onhand") or 0)
            available = int(levels.get("fulfillable", levels.get("sellable")) or 0)
            if key in by_key:
                by_key[key]["on_hand"] += on_hand
                by_key[key]["available"] += available
                continue
            by_key[key] = {
                "external_id": key,
                "warehouse": warehouse,
                "sku": sku,
                "on_hand": on_hand,
                "available": available,
                "as_of": row.get("updated_date"),
                "inventory_item_id": row["id"],
            }
    return list(by_key.values())


def _product(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "external_id": row["id"],
        "sku": row.get("sku"),
        "title": row.get("name"),
        "price": None,  # TrackStar products carry no sales price
        "updated_at": row.get("updated_date"),
        "active": row.get("active"),
    }


def _order(row: dict[str, Any]) -> dict[str, Any]:
    shipped_from = {
        p.get("sku"): s.get("warehouse_id")
        for s in row.get("shipments") or []
        for p in s.get("products") or []
    }
    lines = []
    total = 0.0
    for n, item in enumerate(row.get("line_items") or []):
        quantity = item.get("quantity") or 0
        price = item.get("unit_price")
        total += quantity * (price or 0.0)
        lines.append(
            {
                "external_id": f"{row['id']}:{n}",
                "sku": item.get("sku"),
                "quantity": quantity,
                "unit_price": price,
                "warehouse": shipped_from.get(item.get("sku")) or row.get("warehouse_id"),
            }
        )
    return {
        "external_id": row["id"],
        "order_number": row.get("order_number"),
        "channel": row.get("channel"),
        "ordered_at": row.get("created_date"),
        "updated_at": row.get("updated_date"),
        "currency": row.get("invoice_currency_code") or "USD",
        "financial_status": row.get("status"),
        "total": round(total, 2),
        "lines": lines,
    }

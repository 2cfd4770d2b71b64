"""A small deterministic connector for sync-engine tests (service name ``fake``).

It generates canonical records from its settings, so a test controls everything through the
integration's YAML: volume, page size, unmapped SKUs/channels, and a failure after N pages. The
real services are tested end to end with their sandboxes (tests/test_sync_shopify_e2e.py).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from tether.connectors.base import (
    CAPABILITIES,
    Cursor,
    Page,
    ServiceSettings,
    ServiceSpec,
)
from tether.errors import AuthError, DataError, RateLimitedError, UnavailableError


class FakeSettings(ServiceSettings):
    records: int = 10
    """Records per capability (orders, rows, ...)."""
    page_size: int = 5
    lines: int = 2
    unmapped_sku_every: int = 0
    """Every Nth order's last line (or aggregate row) has SKU 'UNMAPPED-001' (0 = never)."""
    all_unmapped_every: int = 0
    """Every Nth order has only unmapped SKUs 'UNMAPPED-002' (0 = never)."""
    bad_channel_every: int = 0
    """Every Nth order comes from channel 'marketplace' (0 = never)."""
    fail_after_pages: int | None = None
    failure: Literal["rate_limited", "auth", "unavailable", "data", "killed"] = "unavailable"
    """``killed``: the fetching process SIGKILLs itself (use with the fetch worker process)."""
    sleep_s: float = 0.0
    """Pause before each page after the first (for kill/cancel tests)."""
    marker_dir: str | None = None
    """Write `<dir>/committed-<n>` when page n has been committed (the engine asked for more)."""
    overlap: int = 0
    """Each page re-reads this many records of the previous one (like a cursor lookback)."""
    version: int = 1
    """Part of every record's payload, so a test can tell a refetch from a re-map."""
    changed: list[int] = Field(default_factory=list)
    """Orders whose total is one more than usual (a record changed at the source)."""


class FakeConnector:
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="fake",
        display_name="Fake",
        description="Deterministic test data",
        capabilities=tuple(CAPABILITIES.values()),
        credential_fields=(),
        settings_model=FakeSettings,
    )
    fetched: ClassVar[list[tuple[str, Cursor | None]]] = []
    """Every fetch call in this process (capability, cursor), for tests to assert on."""

    def __init__(
        self, settings: ServiceSettings, credentials: Mapping[str, str], *, full: bool = False
    ) -> None:
        assert isinstance(settings, FakeSettings)
        self.settings = settings
        self.full = full

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        FakeConnector.fetched.append((capability, cursor))
        s = self.settings
        offset = int(cursor["offset"]) if cursor else 0
        page_number = 0
        while offset < s.records:
            if s.fail_after_pages is not None and page_number >= s.fail_after_pages:
                if s.failure == "killed":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise _failure(s.failure)
            if page_number and s.sleep_s:
                time.sleep(s.sleep_s)
            end = min(offset + s.page_size, s.records)
            records = [record(capability, i, s) for i in range(offset, end)]
            yield Page(records, {"offset": end}, waited_s=0.5 if s.failure == "rate_limited" else 0)
            page_number += 1
            if s.marker_dir:
                (Path(s.marker_dir) / f"committed-{page_number}").touch()
            offset = end - s.overlap if end < s.records else end

    def close(self) -> None:
        pass


def _failure(kind: str) -> Exception:
    if kind == "rate_limited":
        return RateLimitedError("Rate limited by Fake: the wait budget of 1s is spent.")
    if kind == "auth":
        return AuthError("Authentication failed: Fake answered 401 (check the access token).")
    if kind == "data":
        return DataError("Fake sent a malformed body.")
    return UnavailableError("Connection timeout: Fake did not answer after 4 attempts.")


def sku_of(i: int, line: int, s: FakeSettings) -> str:
    if s.all_unmapped_every and i % s.all_unmapped_every == 0:
        return "UNMAPPED-002"
    if s.unmapped_sku_every and i % s.unmapped_sku_every == 0 and line == s.lines - 1:
        return "UNMAPPED-001"
    return f"SKU-{(i + line) % 5:05d}"


def record(capability: str, i: int, s: FakeSettings) -> dict[str, Any]:
    channel = "marketplace" if s.bad_channel_every and i % s.bad_channel_every == 0 else "web"
    stamp = f"2026-01-{1 + i % 28:02d}T00:00:00Z"
    if capability in ("sales_orders", "pending_sales"):
        return {
            "external_id": f"order-{i}",
            "order_number": f"#{1000 + i}",
            "channel": channel,
            "ordered_at": stamp,
            "updated_at": stamp,
            "currency": "USD",
            "financial_status": "paid",
            "total": 10.0 * s.lines + (1 if i in s.changed else 0),
            "version": s.version,
            "lines": [
                {
                    "external_id": f"line-{i}-{n}",
                    "sku": sku_of(i, n, s),
                    "quantity": 1,
                    "unit_price": 10.0,
                    "warehouse": None,
                }
                for n in range(s.lines)
            ],
        }
    sku = sku_of(i, s.lines - 1, s)
    if capability == "sales_history":
        return {
            "external_id": f"row-{i}",
            "date": stamp[:10],
            "sku": sku,
            "channel": channel,
            "quantity": 1,
            "revenue": 10.0,
        }
    if capability == "warehouse_inventory":
        return {
            "external_id": f"WH-EAST|{i}",
            "warehouse": "WH-EAST",
            "sku": sku,
            "on_hand": i + 1000 * (s.version - 1),  # a later version: newer stock levels
            "available": i,
            "as_of": stamp,
        }
    if capability == "products":
        return {
            "external_id": f"variant-{i}",
            "sku": sku,
            "title": f"Product {i}",
            "price": 10.0,
            "updated_at": stamp,
        }
    if capability == "channels":
        return {"external_id": channel if i == 0 else f"channel-{i}", "name": f"Channel {i}"}
    if capability == "pricing":
        return {
            "external_id": f"price-{i}",
            "sku": sku,
            "channel": channel,
            "price": 1.0,
            "currency": "USD",
            "valid_from": stamp[:10],
        }
    if capability == "forecast_versions":
        return {"external_id": f"v{i}", "name": f"Plan {i}", "created_at": stamp}
    return {
        "external_id": f"fc-{i}",
        "version": "v1",
        "date": stamp[:10],
        "sku": sku,
        "channel": channel,
        "quantity": 4,
    }


MAPPED_SKUS = [(f"SKU-{n:05d}", f"SKU-{n:05d}", "") for n in range(5)]
"""(target, external_id, integration) rows mapping the fake catalogue."""
MAPPED_CHANNELS = [("online", "web", "")]
MAPPED_WAREHOUSES = [("east", "WH-EAST", "")]


def register_fake(monkeypatch: Any) -> None:
    """Make service 'fake' known to the registry (validation, apply and sync) in this process."""
    from tether.connectors import registry

    monkeypatch.setitem(registry.connectors(), "fake", FakeConnector)
    FakeConnector.fetched.clear()
    # The fake records each fetch in this process (tests assert on it); a forked fetch worker
    # would record it in the child. Real connectors keep the default worker process.
    monkeypatch.setenv("TETHER_FETCH_WORKER", "thread")

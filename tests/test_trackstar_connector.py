"""The TrackStar connector against the TrackStar sandbox on loopback, with real httpx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from tether.connectors.base import Page
from tether.connectors.http import HttpPolicy
from tether.connectors.trackstar import TrackStarConnector, TrackStarSettings
from tether.errors import (
    AuthError,
    DataError,
    RateLimitedError,
    UnavailableError,
    UnsupportedCapabilityError,
)
from tether.sandbox import trackstar as sandbox

CREDENTIALS = {"api_key": sandbox.API_KEY, "access_token": sandbox.ACCESS_TOKEN}


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[sandbox.TrackStarServer] = []

    def start(**switches: object) -> sandbox.TrackStarServer:
        server = sandbox.serve(sandbox.Scenario(**switches))  # type: ignore[arg-type]
        assert isinstance(server, sandbox.TrackStarServer)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


def connect(
    server: sandbox.TrackStarServer,
    *,
    credentials: dict[str, str] = CREDENTIALS,
    wait_budget_s: float = 60.0,
    page_size: int = 1000,
    full: bool = False,
) -> tuple[TrackStarConnector, FakeSleep]:
    sleep = FakeSleep()
    settings = TrackStarSettings(
        base_url=server.url, page_size=page_size, wait_budget_s=wait_budget_s
    )
    policy = HttpPolicy(wait_budget_s=wait_budget_s, sleep=sleep, backoff_base_s=0.01)
    return TrackStarConnector(settings, credentials, full=full, policy=policy), sleep


def all_pages(
    connector: TrackStarConnector, capability: str, cursor: dict[str, object] | None = None
) -> list[Page]:
    return list(connector.fetch(capability, cursor))


def test_inventory_pages_follow_next_token_and_yield_one_row_per_warehouse_and_sku(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(skus=25, unmapped_skus=2, unmapped_warehouse=True)
    connector, _ = connect(server, page_size=10)

    pages = all_pages(connector, "warehouse_inventory")

    assert [p.raw_count for p in pages] == [10, 10, 7]
    tokens = [r.params.get("page_token") for r in server.requests]
    assert tokens[0] is None and all(tokens[1:])
    rows = [r for p in pages for r in p.records]
    keys = {(r["warehouse"], r["sku"]) for r in rows}
    assert len(keys) == len(rows)
    assert ("WH-EAST", "SKU-00000") in keys and ("WH-WEST", "SKU-00024") in keys
    assert ("WH-NORTH", "SKU-00000") in keys  # unmapped warehouse comes through raw
    assert ("WH-EAST", "UNMAPPED-001") in keys
    east = next(r for r in rows if r["external_id"] == "WH-EAST|SKU-00003")
    raw = server.catalogue.record("inventory", 3)["inventory_by_warehouse_id"]["WH-EAST"]
    assert (east["on_hand"], east["available"]) == (raw["onhand"], raw["fulfillable"])
    assert all(p.cursor is None for p in pages)  # inventory is a snapshot, never a cursor


def test_limit_sent_is_capped_at_1000() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["limit"])
        return httpx.Response(200, json={"data": [], "next_token": None})

    client = httpx.Client(base_url="https://ts.test", transport=httpx.MockTransport(handler))
    settings = TrackStarSettings.model_construct(page_size=5000, wait_budget_s=1.0, base_url=None)
    connector = TrackStarConnector(settings, CREDENTIALS, client=client)
    list(connector.fetch("products", None))
    assert seen == ["1000"]


def test_orders_are_incremental_on_updated_date_and_cursor_is_newest_update(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(orders=300)
    connector, _ = connect(server, page_size=100)

    first = all_pages(connector, "sales_orders")
    orders = [r for p in first for r in p.records]
    assert len(orders) == 300
    newest = max(o["updated_at"] for o in orders)
    assert first[-1].cursor == {"updated_since": newest}
    assert first[0].cursor is not None and first[0].cursor["page_token"]
    assert "updated_date[gte]" not in server.requests[0].params

    again = all_pages(connector, "sales_orders", first[-1].cursor)
    sent = server.requests[-1].params["updated_date[gte]"]
    lookback = datetime.fromisoformat(newest) - timedelta(minutes=5)
    assert sent == lookback.strftime("%Y-%m-%dT%H:%M:%SZ")  # the cursor minus a 5-min lookback
    assert all(o["updated_at"] >= sent for p in again for o in p.records)
    assert len([o for p in again for o in p.records]) < 300


def test_a_run_cut_short_resumes_from_the_saved_page_token(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(orders=250)
    connector, _ = connect(server, page_size=100)
    pages = connector.fetch("sales_orders", None)
    first = next(pages)  # the run stops here (e.g. rate-limit budget spent)
    pages.close()

    rest = all_pages(connector, "sales_orders", first.cursor)

    ids = [o["external_id"] for p in [first, *rest] for o in p.records]
    assert len(ids) == len(set(ids)) == 250
    assert server.requests[-2].params["page_token"] == first.cursor["page_token"]  # type: ignore[index]


def test_order_records_are_canonical(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(orders=30)
    connector, _ = connect(server)
    order = all_pages(connector, "sales_orders")[0].records[0]
    raw = server.catalogue.record("orders", 0)
    assert order["external_id"] == raw["id"] and order["channel"] == raw["channel"]
    assert order["lines"][0]["sku"] == raw["line_items"][0]["sku"]
    assert order["lines"][0]["warehouse"] == raw["warehouse_id"]
    assert order["total"] == round(
        sum(li["quantity"] * li["unit_price"] for li in raw["line_items"]), 2
    )


def test_rate_limit_waits_retry_after_within_the_budget(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(
        skus=30, unmapped_skus=0, rate_limit_every=2, rate_limit_burst=2, retry_after_s=3
    )
    connector, sleep = connect(server, page_size=10)

    pages = all_pages(connector, "warehouse_inventory")

    assert sum(p.raw_count or 0 for p in pages) == 30
    assert sleep.calls.count(3.0) == 4  # two bursts of two 429s, each waited as told
    assert sum(p.waited_s for p in pages) == 12.0


def test_rate_limit_past_the_wait_budget_raises_rate_limited(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(
        skus=30, unmapped_skus=0, rate_limit_every=2, rate_limit_burst=50, retry_after_s=5
    )
    connector, _ = connect(server, page_size=10, wait_budget_s=20)

    fetched: list[Page] = []
    with pytest.raises(RateLimitedError) as caught:
        for page in connector.fetch("products", None):
            fetched.append(page)
    assert len(fetched) == 1  # the page before the limit stays committed
    assert "wait budget of 20s" in caught.value.message
    assert fetched[0].cursor and fetched[0].cursor["page_token"]


def test_unsupported_endpoint_501_is_a_clear_unsupported_capability_error(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(unsupported=("orders",))
    connector, sleep = connect(server)

    with pytest.raises(UnsupportedCapabilityError) as caught:
        all_pages(connector, "sales_orders")

    assert caught.value.message.startswith(
        "capability not supported by this warehouse (TrackStar answered 501 for /wms/orders)"
    )
    assert len(server.requests) == 1 and not sleep.calls  # not retried
    assert all_pages(connector, "products")  # other capabilities still work


def test_bad_access_token_is_auth_failed_and_never_echoed(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    secret = "very-secret-wrong-token"
    connector, _ = connect(server, credentials={"api_key": sandbox.API_KEY, "access_token": secret})

    with pytest.raises(AuthError) as caught:
        all_pages(connector, "warehouse_inventory")

    assert caught.value.code == "AUTH_FAILED"
    assert "401" in caught.value.message and secret not in caught.value.render()
    assert len(server.requests) == 1


def test_missing_credential_field_is_auth_failed(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    connector, _ = connect(server, credentials={"api_key": sandbox.API_KEY})
    with pytest.raises(AuthError, match="access_token"):
        all_pages(connector, "products")
    assert server.requests == []


def test_server_errors_are_retried_then_recover(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(skus=5, unmapped_skus=0, server_errors=2)
    connector, sleep = connect(server)
    pages = all_pages(connector, "products")
    assert pages[0].raw_count == 5
    assert len(sleep.calls) == 2


def test_server_errors_past_the_retries_raise_unavailable(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(server_errors=100)
    connector, _ = connect(server)
    with pytest.raises(UnavailableError) as caught:
        all_pages(connector, "products")
    assert caught.value.code == "CONNECTION_TIMEOUT"
    assert "500" in caught.value.message and "after 5 attempts" in caught.value.message


@pytest.mark.parametrize("kind", ["body", "shape"])
def test_malformed_response_is_a_data_error(serve, kind: str) -> None:  # type: ignore[no-untyped-def]
    server = serve(malformed=kind)
    connector, _ = connect(server)
    with pytest.raises(DataError) as caught:
        all_pages(connector, "warehouse_inventory")
    assert caught.value.code == "SOURCE_ERROR"
    assert "Malformed response from TrackStar" in caught.value.message


def test_full_sync_ignores_the_cursor(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(orders=40)
    connector, _ = connect(server, full=True)
    pages = all_pages(connector, "sales_orders", {"updated_since": "2030-01-01T00:00:00+00:00"})
    assert "updated_date[gte]" not in server.requests[0].params
    assert sum(len(p.records) for p in pages) == 40

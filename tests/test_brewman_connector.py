"""The Brewman connector against the Brewman sandbox on loopback, with real httpx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tether.connectors.base import Page
from tether.connectors.brewman import BrewmanConnector, BrewmanSettings, OrderWindows
from tether.connectors.http import HttpPolicy
from tether.errors import AuthError, DataError, UnavailableError
from tether.sandbox import brewman as sandbox

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ANCHOR = datetime(2026, 11, 20, tzinfo=UTC)
CREDENTIALS = {"api_token": sandbox.API_TOKEN, "tenant_id": sandbox.TENANT_ID}

Serve = Callable[..., sandbox.BrewmanServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[sandbox.BrewmanServer] = []

    def start(**switches: Any) -> sandbox.BrewmanServer:
        server = sandbox.serve(sandbox.Scenario(anchor=ANCHOR, **switches))
        assert isinstance(server, sandbox.BrewmanServer)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


def connect(
    server: sandbox.BrewmanServer,
    *,
    credentials: dict[str, str] = CREDENTIALS,
    full: bool = False,
    **settings: Any,
) -> BrewmanConnector:
    policy = HttpPolicy(sleep=lambda s: None, backoff_base_s=0.01)
    return BrewmanConnector(
        BrewmanSettings(base_url=server.url, **settings),
        credentials,
        full=full,
        policy=policy,
        now=lambda: NOW,
    )


def order_calls(server: sandbox.BrewmanServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.path.endswith("GetOrdersByFilter")]


def test_first_sync_walks_date_windows_from_history_days_and_loses_nothing(serve: Serve) -> None:
    server = serve(orders=300, days=60)
    connector = connect(server, history_days=70, window_days=7)

    pages = list(connector.fetch("sales_orders", None))

    calls = order_calls(server)
    assert calls[0]["filter"]["fromOrderDate"] == "2026-09-11T12:00:00Z"  # NOW - 70 days
    assert calls[0]["filter"]["toOrderDate"] == "2026-09-18T12:00:00Z"
    assert calls[-1]["filter"]["toOrderDate"] == "2026-11-20T12:00:00Z"
    assert all(c["tenantId"] == sandbox.TENANT_ID for c in calls)
    assert [p.cursor for p in pages][-1] == {"window_end": "2026-11-20T12:00:00Z"}
    assert all(
        p.cursor == {"window_end": c["filter"]["toOrderDate"]}
        for p, c in zip(pages, calls, strict=True)
    )
    ids = [o["external_id"] for p in pages for o in p.records]
    assert sorted(ids) == sorted(o["id"] for o in server.brewery.orders)


def test_a_full_window_is_halved_and_asked_again_without_losing_or_duplicating(
    serve: Serve,
) -> None:
    server = serve(orders=200, days=30, busy_day_orders=120)
    connector = connect(server, history_days=40, window_days=8, maximum_results=50)

    pages = list(connector.fetch("sales_orders", None))

    spans = [
        datetime.fromisoformat(c["filter"]["toOrderDate"])
        - datetime.fromisoformat(c["filter"]["fromOrderDate"])
        for c in order_calls(server)
    ]
    assert min(spans) < timedelta(days=1)  # the busy day forced several halvings
    assert all(c["filter"]["maximumResults"] == 50 for c in order_calls(server))
    assert all(len(p.records) < 50 for p in pages)
    ids = [o["external_id"] for p in pages for o in p.records]
    assert len(ids) == len(set(ids)) == 320
    ends = [p.cursor["window_end"] for p in pages if p.cursor]
    assert ends == sorted(ends) and ends[-1] == "2026-11-20T12:00:00Z"


def test_incremental_sync_starts_at_the_cursor(serve: Serve) -> None:
    server = serve(orders=300, days=60)
    connector = connect(server, window_days=7)

    pages = list(connector.fetch("sales_orders", {"window_end": "2026-11-10T00:00:00Z"}))

    first = order_calls(server)[0]["filter"]
    assert first["fromOrderDate"] == "2026-11-10T00:00:00Z"
    assert first["toOrderDate"] == "2026-11-17T00:00:00Z"
    since = datetime(2026, 11, 10, tzinfo=UTC)
    expected = {o["id"] for o in server.brewery.orders if _created(o) >= since}
    assert {o["external_id"] for p in pages for o in p.records} == expected


def test_a_crash_resumes_from_the_end_of_the_last_complete_window(serve: Serve) -> None:
    server = serve(orders=300, days=60)
    connector = connect(server, history_days=61, window_days=10)
    run = connector.fetch("sales_orders", None)
    committed = [next(run), next(run)]
    run.close()  # killed here: two windows committed

    rest = list(
        connect(server, history_days=61, window_days=10).fetch("sales_orders", committed[-1].cursor)
    )

    ids = [o["external_id"] for p in [*committed, *rest] for o in p.records]
    assert len(ids) == len(set(ids)) == 300


def test_full_sync_ignores_the_cursor(serve: Serve) -> None:
    server = serve(orders=50, days=20)
    connector = connect(server, full=True, history_days=30)
    list(connector.fetch("sales_orders", {"window_end": "2026-11-19T00:00:00Z"}))
    assert order_calls(server)[0]["filter"]["fromOrderDate"] == "2026-10-21T12:00:00Z"


def test_a_window_that_cannot_shrink_further_fails_clearly(serve: Serve) -> None:
    server = serve(orders=10, days=5, busy_day_orders=400)
    connector = connect(server, history_days=10, maximum_results=5, min_window_minutes=360)
    with pytest.raises(DataError) as caught:
        list(connector.fetch("sales_orders", None))
    assert "more than 5 orders between" in caught.value.message
    assert "maximum_results" in (caught.value.hint or "")


def test_order_records_are_canonical(serve: Serve) -> None:
    server = serve(orders=40, days=10)
    records = [r for p in connect(server).fetch("sales_orders", None) for r in p.records]
    raw = server.brewery.orders[0]
    order = next(r for r in records if r["external_id"] == raw["id"])
    assert order["channel"] == raw["header"]["outletTypeId"]
    assert order["channel"] in {*sandbox.CHANNELS, sandbox.UNMAPPED_CHANNEL}
    assert order["total"] == raw["header"]["readOnly"]["totalNetPrice"]
    assert order["lines"][0]["sku"] == raw["lines"][0]["productCode"]
    assert order["lines"][0]["warehouse"] in sandbox.LOCATIONS


def test_inventory_is_one_row_per_location_and_product_code(serve: Serve) -> None:
    server = serve(skus=10, unmapped_skus=1)
    pages = list(connect(server).fetch("warehouse_inventory", None))

    rows = pages[0].records
    assert {(r["warehouse"], r["sku"]) for r in rows} == {
        (wh, code) for wh in sandbox.LOCATIONS for code in server.brewery.codes
    }
    assert pages[0].notes == ["skipped 6 stock rows of non-product items"]
    assert pages[0].cursor is None
    stock = {
        (s["stockItemId"], s["stockLocationId"]): s["quantity"] for s in server.brewery.stock_levels
    }
    row = next(r for r in rows if r["external_id"] == "WH-WEST|SKU-00004")
    assert row["on_hand"] == stock[(server.brewery.items[4]["details"]["id"], "WH-WEST")]


def test_products_carry_code_name_and_flat_price(serve: Serve) -> None:
    server = serve(skus=12, unmapped_skus=0)
    records = [r for p in connect(server).fetch("products", None) for r in p.records]
    assert [r["sku"] for r in records] == [f"SKU-{i:05d}" for i in range(12)]
    assert records[0]["price"] == server.brewery.items[0]["flatPricing"]["flatSalesPrice"]
    body = server.requests[-1].body
    assert body["filter"]["mainPurposes"] == ["Product"] and body["tenantId"] == sandbox.TENANT_ID


def test_bad_api_token_is_auth_failed_and_never_echoed(serve: Serve) -> None:
    server = serve()
    secret = "not-the-token-123"
    connector = connect(server, credentials={"api_token": secret, "tenant_id": sandbox.TENANT_ID})
    with pytest.raises(AuthError) as caught:
        list(connector.fetch("sales_orders", None))
    assert "401" in caught.value.message and secret not in caught.value.render()
    assert len(server.requests) == 1


def test_wrong_tenant_is_auth_failed_naming_the_tenant_field(serve: Serve) -> None:
    server = serve()
    connector = connect(server, credentials={"api_token": sandbox.API_TOKEN, "tenant_id": "x"})
    with pytest.raises(AuthError) as caught:
        list(connector.fetch("products", None))
    assert "403" in caught.value.message and "tenant_id" in (caught.value.hint or "")


@pytest.mark.parametrize("kind", ["body", "shape"])
def test_malformed_response_is_a_data_error(serve: Serve, kind: str) -> None:
    server = serve(malformed=kind)
    with pytest.raises(DataError) as caught:
        list(connect(server).fetch("sales_orders", None))
    assert "Malformed response from Brewman" in caught.value.message


def test_server_errors_are_retried_then_unavailable(serve: Serve) -> None:
    server = serve(server_errors=100)
    with pytest.raises(UnavailableError) as caught:
        list(connect(server).fetch("products", None))
    assert "500" in caught.value.message


def test_window_walk_shrinks_to_the_minimum_then_grows_back() -> None:
    day = timedelta(days=1)
    walk = OrderWindows(NOW, NOW + 10 * day, 4 * day, 4 * day, timedelta(hours=12))
    assert walk.shrink() and walk.current() == (NOW, NOW + 2 * day)
    assert walk.shrink() and walk.shrink() and walk.current() == (NOW, NOW + timedelta(hours=12))
    assert not walk.shrink()
    walk.advance()
    assert walk.current() == (NOW + timedelta(hours=12), NOW + timedelta(hours=36))


def _created(order: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(order["header"]["readOnly"]["createdAt"])


def _pages_total(pages: list[Page]) -> int:
    return sum(len(p.records) for p in pages)

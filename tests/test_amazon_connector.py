"""The Amazon connector against the SP-API sandbox on loopback, with real httpx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tether.connectors.amazon import AmazonConnector, AmazonSettings
from tether.connectors.base import Page
from tether.connectors.http import HttpPolicy
from tether.connectors.rest.auth.oauth2_flow import forget_cached_tokens
from tether.errors import AuthError, DataError
from tether.sandbox import amazon as sandbox

CREDENTIALS = {
    "lwa_client_id": sandbox.CLIENT_ID,
    "lwa_client_secret": sandbox.CLIENT_SECRET,
    "refresh_token": sandbox.REFRESH_TOKEN,
}
FAST = {"orders_rate": 1000.0, "orders_burst": 1000, "items_rate": 1000.0, "items_burst": 1000}
"""Sandbox limits no test waits for, unless it is about waiting."""

Serve = Callable[..., sandbox.AmazonServer]


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def serve() -> Iterator[Serve]:
    forget_cached_tokens()
    servers: list[sandbox.AmazonServer] = []

    def start(**switches: Any) -> sandbox.AmazonServer:
        server = sandbox.serve(sandbox.Scenario(**{**FAST, **switches}))
        assert isinstance(server, sandbox.AmazonServer)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()
    forget_cached_tokens()


def connect(
    server: sandbox.AmazonServer,
    *,
    credentials: dict[str, str] = CREDENTIALS,
    sleep: Callable[[float], None] | None = None,
    **settings: Any,
) -> AmazonConnector:
    values = {**FAST, "base_url": server.url, "token_url": f"{server.url}/auth/o2/token"}
    policy = HttpPolicy(sleep=sleep or FakeSleep(), wait_budget_s=60.0)
    return AmazonConnector(AmazonSettings(**{**values, **settings}), credentials, policy=policy)


def orders(pages: list[Page]) -> list[dict[str, Any]]:
    return [record for page in pages for record in page.records]


def test_first_sync_reads_paid_orders_with_their_items(serve: Serve) -> None:
    server = serve(orders=250)
    pages = list(connect(server).fetch("sales_orders", None))

    store = server.store
    paid = [store.order(i) for i in range(250)]
    paid = [o for o in paid if o["OrderStatus"] in ("Unshipped", "PartiallyShipped", "Shipped")]
    got = orders(pages)
    assert sorted(r["external_id"] for r in got) == sorted(o["AmazonOrderId"] for o in paid)
    assert len(pages) == 3  # 100 orders a page
    one = got[0]
    raw = store.items(store.index_of(one["external_id"]) or 0)
    assert [line["sku"] for line in one["lines"]] == [i["SellerSKU"] for i in raw]
    # ItemPrice is the whole line; the canonical unit price is per unit.
    line, item = one["lines"][0], raw[0]
    assert line["unit_price"] == pytest.approx(
        float(item["ItemPrice"]["Amount"]) / item["QuantityOrdered"]
    )
    assert pages[-1].cursor == {"updated_since": max(o["LastUpdateDate"] for o in paid)}
    first = next(r for r in server.requests if r.path == "/orders/v0/orders")
    assert first.params["OrderStatuses"] == "Unshipped,PartiallyShipped,Shipped"
    assert first.params["MarketplaceIds"] == sandbox.MARKETPLACE_ID
    assert first.params["MaxResultsPerPage"] == "100"
    assert server.tokens_issued == 1  # one access token, cached for every request


def test_fba_and_merchant_fulfilled_are_separate_channels_and_can_be_left_out(
    serve: Serve,
) -> None:
    server = serve(orders=120)
    both = orders(list(connect(server).fetch("sales_orders", None)))
    assert {r["channel"] for r in both} == {"Amazon.com:AFN", "Amazon.com:MFN"}
    mfn = orders(list(connect(server, fulfillment_channels=["MFN"]).fetch("sales_orders", None)))
    assert mfn and {r["channel"] for r in mfn} == {"Amazon.com:MFN"}
    assert {r["external_id"] for r in mfn} < {r["external_id"] for r in both}


def test_pending_orders_are_pending_sales_without_prices(serve: Serve) -> None:
    server = serve(orders=150)
    pending = orders(list(connect(server).fetch("pending_sales", None)))
    assert pending and {r["financial_status"] for r in pending} == {"Pending"}
    assert all(r["total"] is None for r in pending)
    assert all(line["unit_price"] is None for r in pending for line in r["lines"])


def test_incremental_sync_asks_for_orders_updated_since_the_cursor_with_lookback(
    serve: Serve,
) -> None:
    server = serve(orders=100)
    first = list(connect(server).fetch("sales_orders", None))
    cursor = first[-1].cursor
    assert cursor is not None
    server.requests.clear()
    again = list(connect(server).fetch("sales_orders", cursor))

    asked = next(r for r in server.requests if r.path == "/orders/v0/orders")
    assert asked.params["LastUpdatedAfter"] < cursor["updated_since"]  # ten minutes of lookback
    newest = cursor["updated_since"]
    assert all(r["updated_at"] >= asked.params["LastUpdatedAfter"] for r in orders(again))
    assert again[-1].cursor == {"updated_since": newest}


def test_an_expired_access_token_is_refreshed_and_the_request_retried(serve: Serve) -> None:
    server = serve(orders=60, expire_every=25)
    got = orders(list(connect(server).fetch("sales_orders", None)))

    assert len(got) == len({r["external_id"] for r in got}) > 0
    assert server.tokens_issued >= 3  # the first one, then one per expiry
    expired = [r for r in server.requests if r.token and r.method == "GET"]
    assert len({r.token for r in expired}) == server.tokens_issued


def test_a_revoked_refresh_token_is_auth_failed_without_leaking_it(serve: Serve) -> None:
    server = serve(orders=10)
    bad = {**CREDENTIALS, "refresh_token": "Atzr|revoked-secret-value"}
    with pytest.raises(AuthError) as failed:
        list(connect(server, credentials=bad).fetch("sales_orders", None))
    assert "invalid_grant" in str(failed.value)
    assert "revoked-secret-value" not in str(failed.value) + str(failed.value.hint)


def test_429_quota_exceeded_is_waited_out_not_an_error(serve: Serve) -> None:
    server = serve(orders=80, rate_limit_every=7)
    sleep = FakeSleep()
    pages = list(connect(server, sleep=sleep).fetch("sales_orders", None))

    assert sum(server.throttled.values()) >= 5
    assert len(sleep.calls) >= sum(server.throttled.values())
    got = orders(pages)
    assert len(got) == len({r["external_id"] for r in got})
    assert sum(p.waited_s for p in pages) > 0


class Clock:
    """One clock for the sandbox's buckets and the connector's throttles: sleeping advances it,
    so pacing is exact and the test takes no time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_are_paced_to_the_published_per_operation_limits() -> None:
    clock = Clock()
    scenario = sandbox.Scenario(orders=200)  # the published limits: 0.0167/20 and 0.5/30
    server = sandbox.AmazonServer(scenario, "127.0.0.1", 0, clock=clock)
    policy = HttpPolicy(sleep=clock.sleep)
    settings = AmazonSettings(base_url=server.url, token_url=f"{server.url}/auth/o2/token")
    with server:
        connector = AmazonConnector(settings, CREDENTIALS, policy=policy, monotonic=clock)
        pages = list(connector.fetch("sales_orders", None))

    assert server.throttled == {"getOrders": 0, "getOrderItems": 0}  # never refused
    items = sum(1 for r in server.requests if r.path.endswith("/orderItems"))
    assert items == len(orders(pages)) > 30
    # Past the burst of 30, one item request every two seconds: waited, and reported as such.
    assert sum(clock.slept) == pytest.approx((items - 30) / 0.5, rel=0.01)
    assert sum(p.waited_s for p in pages) == pytest.approx(sum(clock.slept))


def test_malformed_pages_are_data_errors_naming_the_shape(serve: Serve) -> None:
    for switch, expected in (
        ("body", "not JSON"),
        ("shape", "expected a list of records"),
        ("items", "expected a list of records"),
    ):
        server = serve(orders=5, malformed=switch)
        with pytest.raises(DataError) as failed:
            list(connect(server).fetch("sales_orders", None))
        assert expected in str(failed.value)


def test_tether_services_lists_amazon_and_netsuite_with_their_credential_fields() -> None:
    import json

    from conftest import run_tether

    result = run_tether("services", "--json")
    assert result.exit_code == 0, result.output
    services = {s["name"]: s for s in json.loads(result.stdout)["services"]}
    amazon, netsuite = services["amazon"], services["netsuite"]
    assert [c["name"] for c in amazon["capabilities"]] == ["sales_orders", "pending_sales"]
    fields = {f["name"]: f for f in amazon["credential_fields"]}
    assert list(fields) == ["lwa_client_id", "lwa_client_secret", "refresh_token"]
    assert all(f["required"] and f["label"] and f["help"] for f in fields.values())
    assert fields["refresh_token"]["secret"] and not fields["lwa_client_id"]["secret"]
    assert "sales_history" in [c["name"] for c in netsuite["capabilities"]]
    names = [f["name"] for f in netsuite["credential_fields"]]
    assert names == ["consumer_key", "consumer_secret", "token_id", "token_secret"]
    assert all(f["secret"] and f["help"] for f in netsuite["credential_fields"])

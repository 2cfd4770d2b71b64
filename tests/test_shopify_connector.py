"""The Shopify connector against the real sandbox on loopback (and a few transport-level units)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tether.connectors.base import Page, Window
from tether.connectors.http import HttpPolicy
from tether.connectors.shopify import ShopifyConnector, ShopifySettings
from tether.errors import AuthError, DataError, RateLimitedError, UnavailableError
from tether.sandbox.shopify import Scenario, ShopifySandbox, serve

ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)
TOKEN = "shpat_sandbox"
CREDS = {"store_url": "acme.myshopify.com", "access_token": TOKEN}


class FakeClock:
    """One clock for the sandbox's cost bucket and the connector's sleeps: waits cost no time."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def sandbox(clock: FakeClock, **switches: Any) -> ShopifySandbox:
    switches.setdefault("anchor", ANCHOR)
    switches.setdefault("restore_rate", 1e6)
    server = serve(Scenario(**switches))
    server.clock = clock.now
    return server


@pytest.fixture
def store(clock: FakeClock) -> Iterator[ShopifySandbox]:
    with sandbox(clock) as server:
        yield server


def connect(
    server: ShopifySandbox, clock: FakeClock, *, full: bool = False, **settings: Any
) -> ShopifyConnector:
    settings.setdefault("bulk", False)
    return ShopifyConnector(
        ShopifySettings(base_url=server.url, **settings),
        CREDS,
        full=full,
        policy=HttpPolicy(sleep=clock.sleep, wait_budget_s=settings.get("wait_budget_s", 60.0)),
        now=store_now,
    )


def store_now() -> datetime:
    """The connector's clock: an hour after the sandbox's anchor, whatever today's date is."""
    return ANCHOR + timedelta(hours=1)


def records(pages: list[Page]) -> list[dict[str, Any]]:
    return [r for page in pages for r in page.records]


def sales(found: list[dict[str, Any]]) -> list[str]:
    """The ids of the records the engine loads into sales_orders."""
    return [r["external_id"] for r in found if r["lifecycle"] == "sale"]


def expected_orders(server: ShopifySandbox, statuses: set[str]) -> list[str]:
    s = server.store
    return [
        f"gid://shopify/Order/{5_000_000_000 + i}"
        for i in range(s.count)
        if s.template(i).status in statuses
    ]


PAID = {"PAID", "PARTIALLY_REFUNDED"}


def test_incremental_pages_carry_the_cursor_of_their_last_record(
    store: ShopifySandbox, clock: FakeClock
) -> None:
    pages = list(connect(store, clock, page_size=40).fetch("sales_orders", None))

    assert len(pages) > 3
    for page in pages:
        last = page.records[-1]
        assert page.cursor == {"updated_at": last["updated_at"], "id": last["external_id"]}
    stamps = [r["updated_at"] for r in records(pages)]
    assert stamps == sorted(stamps)
    assert [r["external_id"] for r in records(pages)] == expected_orders(store, PAID)


def test_a_resumed_sync_starts_after_the_last_committed_page(
    store: ShopifySandbox, clock: FakeClock
) -> None:
    first = list(connect(store, clock, page_size=40).fetch("sales_orders", None))
    ids = [r["external_id"] for r in records(first)]
    committed = first[2].cursor  # the run crashed while page 3 was in flight
    assert committed is not None

    resumed = records(list(connect(store, clock, page_size=40).fetch("sales_orders", committed)))

    # The resumed run starts at the cursor's record (``updated_at >=`` minus the lookback):
    # it re-reads at most what the lookback covers and misses nothing. Incremental syncs fetch
    # every status (a refund must reach the state); the sales among them are the rest of ``ids``.
    start = ids.index(committed["id"])
    assert sales(resumed) == ids[start:]
    assert {r["lifecycle"] for r in resumed} == {"sale", "pending", "closed"}


def test_orders_arriving_after_a_sync_come_with_the_next_one(
    store: ShopifySandbox, clock: FakeClock
) -> None:
    pages = list(connect(store, clock).fetch("sales_orders", None))
    store.store.grow(40)

    later = records(list(connect(store, clock).fetch("sales_orders", pages[-1].cursor)))

    new = [oid for oid in sales(later) if oid != pages[-1].cursor["id"]]  # type: ignore[index]
    assert new == expected_orders(store, PAID)[-len(new) :]
    assert len(new) >= 30  # most of the 40 new orders are paid


def test_only_paid_and_partially_refunded_orders_are_synced(
    store: ShopifySandbox, clock: FakeClock
) -> None:
    assert expected_orders(store, {"REFUNDED", "PENDING", "VOIDED"}), "store lacks other statuses"

    synced = records(list(connect(store, clock).fetch("sales_orders", None)))

    assert {r["financial_status"] for r in synced} == {"paid", "partially_refunded"}
    assert len(synced) == len(expected_orders(store, PAID))


def test_pending_sales_are_the_orders_not_yet_paid(store: ShopifySandbox, clock: FakeClock) -> None:
    pending = records(list(connect(store, clock).fetch("pending_sales", None)))

    assert {r["financial_status"] for r in pending} <= {"pending", "authorized", "partially_paid"}
    assert len(pending) == len(expected_orders(store, {"PENDING", "AUTHORIZED", "PARTIALLY_PAID"}))


def test_orders_map_to_canonical_records_with_channel_and_lines(
    store: ShopifySandbox, clock: FakeClock
) -> None:
    synced = records(list(connect(store, clock).fetch("sales_orders", None)))

    assert {r["channel"] for r in synced} == {"online_store", "pos", "wholesale"}
    order = synced[0]
    assert order["order_number"].startswith("#")
    assert order["currency"] == "USD"
    assert order["total"] == pytest.approx(
        sum(line["quantity"] * line["unit_price"] for line in order["lines"])
    )
    skus = {line["sku"] for r in synced for line in r["lines"]}
    assert {"UNMAPPED-001", "UNMAPPED-002", "UNMAPPED-003"} & skus
    assert all(s.startswith(("SKU-", "UNMAPPED-")) for s in skus)


def test_orders_with_more_lines_than_a_page_get_all_their_lines(clock: FakeClock) -> None:
    with sandbox(clock, orders=60, max_lines=9) as server:
        few = records(list(connect(server, clock, lines_per_order=2).fetch("sales_orders", None)))
        many = records(list(connect(server, clock, lines_per_order=20).fetch("sales_orders", None)))

    assert max(len(r["lines"]) for r in few) > 2
    assert few == many


class Overeager(ShopifyConnector):
    """A connector whose page-size estimate is wrong, as after Shopify changes its cost model."""

    def orders_per_page(self) -> int:
        return 250


def test_a_page_over_the_cost_cap_is_halved_until_shopify_accepts_it(
    store: ShopifySandbox, clock: FakeClock
) -> None:
    settings = ShopifySettings(base_url=store.url, bulk=False, lines_per_order=10)
    connector = Overeager(settings, CREDS, policy=HttpPolicy(sleep=clock.sleep), now=store_now)

    pages = list(connector.fetch("sales_orders", None))

    assert [r["external_id"] for r in records(pages)] == expected_orders(store, PAID)
    # 250 -> 125 -> 62 -> 31 -> 15 (cost 2 + 15 x 37 = 557, under 1,000)
    assert max(len(p.records) for p in pages) <= 15


def test_throttling_is_waited_out_within_the_budget(clock: FakeClock) -> None:
    with sandbox(clock, throttle_burst=True, restore_rate=50.0) as server:
        pages = list(connect(server, clock, wait_budget_s=120).fetch("sales_orders", None))
        assert len(records(pages)) == len(expected_orders(server, PAID))

    assert pages[0].waited_s > 0
    assert sum(p.waited_s for p in pages) == pytest.approx(sum(clock.slept))


def test_throttling_answered_with_http_429_is_waited_out_too(clock: FakeClock) -> None:
    with sandbox(clock, throttle_burst=True, throttle_429_rate=1.0, restore_rate=100.0) as server:
        pages = list(connect(server, clock, wait_budget_s=120).fetch("sales_orders", None))
        assert len(records(pages)) == len(expected_orders(server, PAID))
    assert clock.slept


def test_a_sync_making_progress_finishes_however_long_it_waits_in_all(clock: FakeClock) -> None:
    # Each page waits ~14 s for the bucket (20 points/s); 30 s is the budget without progress.
    with sandbox(clock, restore_rate=20.0) as server:
        pages = list(connect(server, clock, wait_budget_s=30).fetch("sales_orders", None))
        assert len(records(pages)) == len(expected_orders(server, PAID))
    assert sum(clock.slept) > 30 * 3
    assert max(p.waited_s for p in pages) <= 30


def test_throttling_past_the_budget_stops_and_the_next_run_resumes(clock: FakeClock) -> None:
    # At 5 points/s a page waits ~55 s for the bucket: more than the 30 s without progress.
    with sandbox(clock, restore_rate=5.0) as server:
        fetched: list[Page] = []
        with pytest.raises(RateLimitedError) as raised:
            for page in connect(server, clock, wait_budget_s=30).fetch("sales_orders", None):
                fetched.append(page)

        message = raised.value.render()
        assert "Rate limited by Shopify" in message
        assert "without progress is spent" in message
        assert "resumes where it left off" in message
        assert TOKEN not in message
        assert fetched, "pages before the budget ran out are kept"

        clock.t += 3600  # the next scheduled run
        rest = list(
            connect(server, clock, wait_budget_s=1e6).fetch("sales_orders", fetched[-1].cursor)
        )

    ids = [r["external_id"] for r in records(fetched)] + sales(records(rest))
    assert list(dict.fromkeys(ids)) == expected_orders(server, PAID)


def test_a_bad_token_fails_at_once_as_auth_error(clock: FakeClock) -> None:
    with sandbox(clock, bad_token=True) as server, pytest.raises(AuthError) as raised:
        list(connect(server, clock).fetch("sales_orders", None))
    assert "401" in raised.value.message
    assert TOKEN not in raised.value.render()
    assert clock.slept == []


def test_server_errors_are_retried_then_reported_unavailable(clock: FakeClock) -> None:
    with sandbox(clock, error_rate_5xx=1.0) as server:
        with pytest.raises(UnavailableError) as raised:
            list(connect(server, clock).fetch("sales_orders", None))
        assert server.requests == 5  # the first try and four retries
    assert "503" in raised.value.message
    assert len(clock.slept) == 4


def test_occasional_server_errors_are_absorbed_by_retries(clock: FakeClock) -> None:
    with sandbox(clock, error_rate_5xx=0.3) as server:
        synced = records(list(connect(server, clock, page_size=20).fetch("sales_orders", None)))
        assert len(synced) == len(expected_orders(server, PAID))
    assert clock.slept


def test_a_malformed_body_is_a_data_error(clock: FakeClock) -> None:
    with sandbox(clock, malformed=1.0) as server, pytest.raises(DataError) as raised:
        list(connect(server, clock).fetch("sales_orders", None))
    assert "Malformed response from Shopify" in raised.value.message


def test_bulk_full_sync_returns_every_order_with_its_lines(
    store: ShopifySandbox, clock: FakeClock
) -> None:
    paged = records(list(connect(store, clock).fetch("sales_orders", None)))

    pages = list(connect(store, clock, bulk=True, bulk_page_size=100).fetch("sales_orders", None))

    assert records(pages) == paged
    assert all(len(p.records) <= 100 for p in pages) and len(pages) > 1
    assert pages[-1].cursor == {
        "updated_at": paged[-1]["updated_at"],
        "id": paged[-1]["external_id"],
    }
    assert sum(len(r["lines"]) for r in paged) > len(paged)


def test_full_resync_refetches_every_order_in_bulk_even_with_a_cursor(
    store: ShopifySandbox, clock: FakeClock
) -> None:
    cursor = {"updated_at": "2026-02-27T00:00:00Z", "id": "gid://shopify/Order/5000000290"}
    connector = connect(store, clock, full=True, bulk=True, bulk_delta_orders=100)

    found = records(list(connector.fetch("sales_orders", cursor)))

    # every status: a refunded order still in the state from before is routed out of it
    assert len(found) == store.store.count
    assert sales(found) == expected_orders(store, PAID)
    assert connector.last_fetch == "bulk"
    assert store.current_job is not None and store.current_job.status == "COMPLETED"


def test_products_are_the_store_variants(store: ShopifySandbox, clock: FakeClock) -> None:
    pages = list(connect(store, clock).fetch("products", None))
    products = records(pages)

    assert len(products) == 53
    assert products[0]["sku"] == "SKU-00000"
    assert {"UNMAPPED-001", "SKU-00049"} <= {p["sku"] for p in products}
    assert all(isinstance(p["price"], float) and p["title"] for p in products)

    later = records(list(connect(store, clock, lookback_s=0).fetch("products", pages[-1].cursor)))
    assert [p["sku"] for p in later] == [products[-1]["sku"]]


def test_channels_are_the_store_sales_channels(store: ShopifySandbox, clock: FakeClock) -> None:
    channels = records(list(connect(store, clock).fetch("channels", None)))

    assert channels == [
        {"external_id": "online_store", "name": "Online Store"},
        {"external_id": "pos", "name": "Point of Sale"},
        {"external_id": "wholesale", "name": "Wholesale"},
    ]


# -- transport-level units ---------------------------------------------------------------------


def mock_connector(handler: Any) -> ShopifyConnector:
    client = httpx.Client(
        base_url="https://acme.myshopify.com", transport=httpx.MockTransport(handler)
    )
    return ShopifyConnector(
        ShopifySettings(bulk=False), CREDS, client=client, policy=HttpPolicy(sleep=lambda s: None)
    )


def test_graphql_errors_become_a_data_error_with_shopifys_message() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"errors": [{"message": "Access denied for orders field."}]}
        )

    with pytest.raises(DataError) as raised:
        list(mock_connector(handler).fetch("sales_orders", None))

    assert "Access denied for orders field." in raised.value.message
    assert seen[0].url.path == "/admin/api/2025-10/graphql.json"
    assert seen[0].headers["X-Shopify-Access-Token"] == TOKEN


def test_requests_go_to_the_store_url_with_the_search_filter() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        empty = {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
        return httpx.Response(200, json={"data": {"orders": empty}})

    connector = ShopifyConnector(
        ShopifySettings(bulk=False),
        {"store_url": "https://acme.myshopify.com/", "access_token": TOKEN},
        now=lambda: ANCHOR,
        client=httpx.Client(
            base_url="https://acme.myshopify.com", transport=httpx.MockTransport(handler)
        ),
    )
    cursor = {"updated_at": "2026-02-01T10:00:00Z", "id": "gid://shopify/Order/1"}
    assert list(connector.fetch("sales_orders", cursor)) == []
    # an incremental sync asks for every status updated since (lookback included)
    assert b'"query":"updated_at:>=\'2026-02-01T09:55:00Z\'"' in bodies[0]


# -- the order lifecycle, windows and counts ---------------------------------------------------


def lifecycle_store(clock: FakeClock, **switches: Any) -> ShopifySandbox:
    server = sandbox(clock, **switches)
    server.store.set_clock(lambda: 0.0)  # changes are stamped a second apart after the anchor
    return server


def test_refunds_payments_and_voids_are_fetched_by_the_next_sync(clock: FakeClock) -> None:
    with lifecycle_store(clock) as server:
        first = list(connect(server, clock).fetch("sales_orders", None))
        s = server.store
        paid = [i for i in range(s.count) if s.status(i) == "PAID"]
        pending = [i for i in range(s.count) if s.status(i) == "PENDING"]
        s.refund(paid[0])
        s.refund_line(paid[1], 0, 1)
        s.pay(pending[0])
        s.void(pending[1])
        s.cancel(paid[3])

        later = records(list(connect(server, clock).fetch("sales_orders", first[-1].cursor)))

    by_id = {r["external_id"]: r for r in later}
    gid = "gid://shopify/Order/{}".format

    def at(i: int) -> dict[str, Any]:
        return by_id[gid(5_000_000_000 + i)]

    assert (at(paid[0])["financial_status"], at(paid[0])["lifecycle"]) == ("refunded", "closed")
    assert {line["current_quantity"] for line in at(paid[0])["lines"]} == {0}
    partial = at(paid[1])
    assert partial["lifecycle"] == "sale"
    assert partial["lines"][0]["current_quantity"] == partial["lines"][0]["quantity"] - 1
    assert at(pending[0])["lifecycle"] == "sale"
    assert at(pending[1])["lifecycle"] == "closed"
    assert at(paid[3])["cancelled_at"] and at(paid[3])["lifecycle"] == "closed"


def test_a_window_fetches_every_status_in_it_and_never_moves_the_cursor(clock: FakeClock) -> None:
    since, until = ANCHOR - timedelta(days=10), ANCHOR - timedelta(days=5)
    with lifecycle_store(clock) as server:
        for bulk in (False, True):
            connector = ShopifyConnector(
                ShopifySettings(base_url=server.url, bulk=bulk, bulk_delta_orders=10),
                CREDS,
                window=Window(since, until),
                policy=HttpPolicy(sleep=clock.sleep),
                now=store_now,
            )
            pages = list(connector.fetch("sales_orders", {"updated_at": "2026-02-28T00:00:00Z"}))
            found = records(pages)
            assert connector.last_fetch == ("bulk" if bulk else "paged")
            assert all(p.cursor is None for p in pages)
            stamps = {r["updated_at"] for r in found}
            assert min(stamps) >= "2026-02-19T00:00:00Z" and max(stamps) < "2026-02-24T00:00:00Z"
            s = server.store
            inside = [
                i
                for i in range(s.count)
                if since.timestamp() <= s.updated_epoch(i) < until.timestamp()
            ]
            assert len(found) == len(inside)  # every status
            assert len(sales(found)) == connector.count("sales_orders", Window(since, until))


def test_count_is_shopifys_orders_count_of_what_the_state_should_hold(clock: FakeClock) -> None:
    with lifecycle_store(clock) as server:
        connector = connect(server, clock)
        s = server.store
        assert connector.count("sales_orders", None) == len(expected_orders(server, PAID))
        assert connector.count("pending_sales", None) == len(
            expected_orders(server, {"PENDING", "AUTHORIZED", "PARTIALLY_PAID"})
        )
        paid = [i for i in range(s.count) if s.status(i) == "PAID"]
        s.refund(paid[0])
        s.cancel(paid[1])
        s.delete(paid[2])
        assert connector.count("sales_orders", None) == len(expected_orders(server, PAID)) - 3
        assert connector.count("products", None) is None


def test_a_large_delta_runs_in_bulk_a_small_one_pages(clock: FakeClock) -> None:
    with lifecycle_store(clock, orders=2_000) as server:
        first = list(connect(server, clock, bulk=True).fetch("sales_orders", None))
        cursor = first[-1].cursor
        server.store.busy_day(edited=40, new=20)
        small = connect(server, clock, bulk=True, bulk_delta_orders=100)
        few = records(list(small.fetch("sales_orders", cursor)))
        server.store.busy_day(edited=300, new=300, seed=12)
        large = connect(server, clock, bulk=True, bulk_delta_orders=100)
        many = records(list(large.fetch("sales_orders", cursor)))

    assert small.last_fetch == "paged" and large.last_fetch == "bulk"
    assert len(few) >= 60 and len(many) >= 600  # the lookback re-reads a few more
    assert len({r["external_id"] for r in many}) == len(many)


def test_paging_on_standard_limits_is_paced_by_the_bucket_and_never_throttled(
    clock: FakeClock,
) -> None:
    # Standard plan: 2,000 points, 100/s. 600 orders in ~24 pages of 964 requested points.
    with sandbox(clock, orders=600, restore_rate=0.0) as server:
        pages = list(connect(server, clock, wait_budget_s=60).fetch("sales_orders", None))
        assert len(records(pages)) == len(expected_orders(server, PAID))
        assert server.throttled == 0
    assert sum(clock.slept) > 0  # it waited for the bucket instead of hammering it


def test_a_window_over_products_never_moves_the_cursor(
    store: ShopifySandbox, clock: FakeClock
) -> None:
    connector = ShopifyConnector(
        ShopifySettings(base_url=store.url, bulk=False),
        CREDS,
        window=Window(ANCHOR - timedelta(days=30)),
        policy=HttpPolicy(sleep=clock.sleep),
        now=store_now,
    )
    pages = list(connector.fetch("products", {"updated_at": "2026-02-28T00:00:00Z", "id": "x"}))
    products = records(pages)
    assert products and all(p.cursor is None for p in pages)
    assert min(p["updated_at"] for p in products) >= "2026-01-30T00:00:00Z"
    assert len(products) < 53  # only the variants updated in the window

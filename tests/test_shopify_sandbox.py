"""The Shopify sandbox speaks the Admin GraphQL wire protocol (asserted with a bare HTTP client)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from tether.sandbox.shopify import Scenario, ShopifySandbox, serve
from tether.sandbox.shopify_search import SearchSyntaxError, parse_search, parse_time

PATH = "/admin/api/2025-10/graphql.json"
TOKEN = {"X-Shopify-Access-Token": "shpat_sandbox"}
ORDERS = """
query($first: Int!, $lines: Int!, $q: String) {
  orders(first: $first, sortKey: UPDATED_AT, query: $q) {
    edges { cursor node { id displayFinancialStatus updatedAt
      lineItems(first: $lines) { edges { node { sku originalUnitPriceSet { shopMoney { amount } } } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture
def server() -> Iterator[ShopifySandbox]:
    with serve(Scenario(anchor=datetime(2026, 3, 1, tzinfo=UTC))) as running:
        yield running


def post(
    server: ShopifySandbox, query: str, headers: dict[str, str] = TOKEN, **variables: Any
) -> httpx.Response:
    return httpx.post(
        server.url + PATH, json={"query": query, "variables": variables}, headers=headers
    )


def test_a_wrong_token_gets_shopifys_401(server: ShopifySandbox) -> None:
    response = post(server, "{ shop { name } }", headers={"X-Shopify-Access-Token": "nope"})

    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_every_answer_reports_its_cost_and_the_bucket(server: ShopifySandbox) -> None:
    body = post(server, ORDERS, first=10, lines=5).json()

    cost = body["extensions"]["cost"]
    # 2 + 10 orders x (1 + lineItems(2 + 5 x (1 + 2)))
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 2 + 5 * 3)
    assert cost["actualQueryCost"] < cost["requestedQueryCost"]  # orders have 1..4 lines
    assert cost["throttleStatus"]["maximumAvailable"] == 2000
    assert cost["throttleStatus"]["restoreRate"] == 100


def test_a_query_over_the_cost_cap_is_refused(server: ShopifySandbox) -> None:
    body = post(server, ORDERS, first=250, lines=10).json()

    cost = 2 + 250 * (1 + 2 + 10 * 3)
    assert body["errors"] == [
        {
            "message": f"Query cost is {cost}, which exceeds the single query max cost limit (1000).",
            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": 1000},
        }
    ]


def test_an_empty_bucket_answers_throttled() -> None:
    with serve(Scenario(throttle_burst=True, restore_rate=1.0)) as server:
        response = post(server, ORDERS, first=5, lines=1)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"


def test_unknown_fields_get_a_graphql_error(server: ShopifySandbox) -> None:
    body = post(server, "{ orders(first: 1) { edges { node { id colour } } } }").json()
    assert body["errors"][0]["message"] == "Cannot query field 'colour' on type 'Order'."


def test_the_search_filter_and_cursor_paging(server: ShopifySandbox) -> None:
    q = "updated_at:>='2026-02-01T00:00:00Z' AND (financial_status:paid OR financial_status:refunded)"
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        query = ORDERS.replace("$q: String)", "$q: String, $after: String)").replace(
            "query: $q)", "query: $q, after: $after)"
        )
        page = post(server, query, first=25, lines=1, q=q, after=after).json()["data"]["orders"]
        seen.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert {o["displayFinancialStatus"] for o in seen} == {"PAID", "REFUNDED"}
    assert min(o["updatedAt"] for o in seen) >= "2026-02-01T00:00:00Z"
    assert len({o["id"] for o in seen}) == len(seen)


def test_bulk_operation_runs_and_serves_jsonl_with_children_after_parents(
    server: ShopifySandbox,
) -> None:
    bulk = '{ orders(query: \\"financial_status:paid\\") { edges { node { id lineItems { edges { node { id sku } } } } } } }'
    run = post(
        server,
        f'mutation {{ bulkOperationRunQuery(query: "{bulk}") {{ bulkOperation {{ id status }} userErrors {{ message }} }} }}',
    ).json()["data"]["bulkOperationRunQuery"]
    assert run["userErrors"] == []
    assert run["bulkOperation"]["status"] == "CREATED"

    poll = "query($id: ID!) { node(id: $id) { ... on BulkOperation { status objectCount url } } }"
    for _ in range(100):
        node = post(server, poll, id=run["bulkOperation"]["id"]).json()["data"]["node"]
        if node["status"] == "COMPLETED":
            break
        time.sleep(0.02)
    rows = [orjson.loads(line) for line in httpx.get(node["url"]).content.splitlines()]

    assert len(rows) == int(node["objectCount"])
    parents: set[str] = set()
    current = None
    for row in rows:
        if "__parentId" in row:
            assert row["__parentId"] == current
            assert row["sku"]
        else:
            current = row["id"]
            parents.add(current)
    store = server.store
    assert len(parents) == sum(store.template(i).status == "PAID" for i in range(store.count))


def test_search_syntax() -> None:
    known = frozenset({"updated_at", "financial_status"})
    search = parse_search(
        "updated_at:>='2026-01-01T00:00:00Z' updated_at:<=\"2026-02-01\" "
        "AND (financial_status:paid OR -financial_status:pending)",
        known,
    )
    assert search.lower_bound("updated_at") == parse_time("2026-01-01T00:00:00Z")
    assert search.upper_bound("updated_at") == parse_time("2026-02-01")
    values = {"updated_at": parse_time("2026-01-15T00:00:00Z"), "financial_status": "refunded"}
    assert search.matches(values.get)
    values["financial_status"] = "pending"
    assert not search.matches(values.get)
    assert parse_search("colour:red", known).warnings
    with pytest.raises(SearchSyntaxError):
        parse_search("(financial_status:paid", known)


COUNT = (
    "query($q: String, $limit: Int) { ordersCount(query: $q, limit: $limit) { count precision } }"
)


def test_orders_count_counts_the_search_with_shopifys_limit(server: ShopifySandbox) -> None:
    store = server.store
    paid = sum(store.status(i) == "PAID" for i in range(store.count))

    exact = post(server, COUNT, q="financial_status:paid", limit=None).json()["data"]
    capped = post(server, COUNT, q="financial_status:paid", limit=10).json()["data"]
    default = post(server, "{ ordersCount { count precision } }").json()["data"]

    assert exact["ordersCount"] == {"count": paid, "precision": "EXACT"}
    assert capped["ordersCount"] == {"count": 10, "precision": "AT_LEAST"}
    assert default["ordersCount"] == {"count": 300, "precision": "EXACT"}  # under 10,000


def test_plans_serve_their_published_limits() -> None:
    with serve(Scenario(plan="plus")) as server:
        body = post(server, ORDERS, first=1, lines=1).json()
    status = body["extensions"]["cost"]["throttleStatus"]
    assert (status["maximumAvailable"], status["restoreRate"]) == (20000, 1000)
    with pytest.raises(ValueError, match="unknown Shopify plan"):
        Scenario(plan="gold").limits()


LIFECYCLE = """
query($q: String, $after: String) {
  orders(first: 15, sortKey: UPDATED_AT, query: $q, after: $after) {
    edges { node { id updatedAt displayFinancialStatus cancelledAt
      lineItems(first: 10) { edges { node { quantity currentQuantity } } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def changed_orders(server: ShopifySandbox, since: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = post(server, LIFECYCLE, q=f"updated_at:>='{since}'", after=after).json()
        assert "data" in page, page
        orders = page["data"]["orders"]
        seen.extend(edge["node"] for edge in orders["edges"])
        if not orders["pageInfo"]["hasNextPage"]:
            return seen
        after = orders["pageInfo"]["endCursor"]


def test_lifecycle_changes_move_orders_to_the_end_of_the_updated_at_order() -> None:
    # Plus limits: the test reads the store twice over, more than Standard's bucket holds.
    with serve(Scenario(anchor=datetime(2026, 3, 1, tzinfo=UTC), plan="plus")) as server:
        check_lifecycle_order(server)


def check_lifecycle_order(server: ShopifySandbox) -> None:
    store = server.store
    store.set_clock(lambda: 0.0)  # the store's clock stands still: stamps a second apart
    paid = [i for i in range(store.count) if store.status(i) == "PAID"]
    pending = [i for i in range(store.count) if store.status(i) == "PENDING"]
    store.refund(paid[0])
    store.refund_line(paid[1], 0, 1)
    store.pay(pending[0])
    store.void(pending[1])
    store.delete(paid[2])
    store.grow(2)

    seen = changed_orders(server, "2026-03-01T00:00:00Z")

    gid = "gid://shopify/Order/{}".format
    assert [o["id"] for o in seen] == [
        gid(5_000_000_000 + i) for i in (paid[0], paid[1], pending[0], pending[1], 300, 301)
    ]
    assert [o["updatedAt"] for o in seen] == sorted(o["updatedAt"] for o in seen)
    refunded, partial, now_paid, voided = seen[:4]
    assert refunded["displayFinancialStatus"] == "REFUNDED"
    assert {line["node"]["currentQuantity"] for line in refunded["lineItems"]["edges"]} == {0}
    first = partial["lineItems"]["edges"][0]["node"]
    assert partial["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert first["currentQuantity"] == first["quantity"] - 1
    assert now_paid["displayFinancialStatus"] == "PAID"
    assert voided["displayFinancialStatus"] == "VOIDED" and voided["cancelledAt"]
    # the deleted order is gone from every query, the count included
    everything = changed_orders(server, "2025-01-01T00:00:00Z")
    assert gid(5_000_000_000 + paid[2]) not in {o["id"] for o in everything}
    assert len(everything) == 301
    assert post(server, "{ ordersCount { count } }").json()["data"]["ordersCount"]["count"] == 301


def test_shopify_refuses_impossible_transitions(server: ShopifySandbox) -> None:
    from tether.sandbox.shopify_store import TransitionError

    store = server.store
    pending = next(i for i in range(store.count) if store.status(i) == "PENDING")
    with pytest.raises(TransitionError, match="cannot refund"):
        store.refund(pending)
    store.pay(pending)
    with pytest.raises(TransitionError, match="cannot pay"):
        store.pay(pending)


def test_a_living_store_gets_new_and_changed_orders_while_it_runs() -> None:
    scenario = Scenario(orders=200, live_orders_per_minute=600, live_interval_s=0.05)
    with serve(scenario) as server:
        deadline = time.monotonic() + 30
        while server.live_ticks < 2:
            assert time.monotonic() < deadline, "the store never changed"
            time.sleep(0.02)
        with server.lock:
            grown, changed = server.store.count - 200, len(server.store.changes)
    assert grown >= 2 and changed >= 2  # at least one order per tick (600/min x 0.05 s = 0.5)
    assert server.live is not None
    server.live.join(timeout=5)
    assert not server.live.is_alive()  # stopping the server stops the store's life too

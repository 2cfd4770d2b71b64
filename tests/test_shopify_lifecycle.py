"""The order lifecycle end to end: `tether sync` against a Shopify sandbox whose orders are paid,
refunded, partly refunded, voided, cancelled and edited between syncs — `data.*` ends equal to
the store, with 0 duplicates, also through kill -9 at random points."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import Result, WorkspaceBuilder

from tether.sandbox import shopify as sandbox
from tether.sandbox.shopify_store import LINE_BASE, ORDER_BASE, Store

CREDENTIALS = {"store_url": "acme.myshopify.com", "access_token": "shpat_sandbox"}
SALE = {"PAID", "PARTIALLY_REFUNDED"}
PENDING = {"PENDING", "AUTHORIZED", "PARTIALLY_PAID"}


def order_rows(store: Store, i: int) -> list[tuple[str, str, float, float]]:
    """(order, line, ordered quantity, current quantity) of each line of order ``i``."""
    order = f"gid://shopify/Order/{ORDER_BASE + i}"
    return [
        (order, f"gid://shopify/LineItem/{LINE_BASE + i * 16 + j}", float(quantity), float(now))
        for j, ((_sku, quantity, _price), now) in enumerate(
            zip(store.template(i).lines, store.current_quantities(i), strict=True)
        )
    ]


def truth(
    store: Store,
    statuses: set[str],
    deleted: list[tuple[str, str, float, float]] = (),  # type: ignore[assignment]
) -> list[tuple[str, str, float, float]]:
    """The lines of the orders with ``statuses`` that are not cancelled: what `data.*` must
    hold. ``deleted``: rows of an order deleted in Shopify, which stay (Shopify's API keeps no
    trace of a deleted order; docs/shopify.md)."""
    rows = list(deleted)
    for i in range(store.count):
        if store.exists(i) and not store.cancelled(i) and store.status(i) in statuses:
            rows.extend(order_rows(store, i))
    return sorted(rows)


def stored_sales(ws: WorkspaceBuilder) -> list[tuple[Any, ...]]:
    return ws.query(
        "SELECT order_external_id, external_id, quantity, current_quantity "
        "FROM data.sales_order_lines ORDER BY ALL"
    )


def stored_pending(ws: WorkspaceBuilder) -> list[tuple[Any, ...]]:
    return ws.query(
        "SELECT order_external_id, external_id, quantity, current_quantity "
        "FROM data.pending_sales ORDER BY ALL"
    )


def assert_consistent(ws: WorkspaceBuilder) -> None:
    """No duplicate, no order in both tables, no line without its order (any commit point)."""
    assert ws.query("SELECT count(*) - count(DISTINCT external_id) FROM data.sales_orders") == [
        (0,)
    ]
    assert ws.query(
        "SELECT count(*) - count(DISTINCT (order_external_id, external_id)) "
        "FROM data.sales_order_lines"
    ) == [(0,)]
    assert ws.query("SELECT count(*) - count(DISTINCT external_id) FROM data.pending_sales") == [
        (0,)
    ]
    assert ws.query(
        "SELECT count(*) FROM data.sales_orders s "
        "JOIN (SELECT DISTINCT order_external_id FROM data.pending_sales) p "
        "ON p.order_external_id = s.external_id"
    ) == [(0,)]
    assert ws.query(
        "SELECT count(*) FROM (SELECT DISTINCT order_external_id FROM data.sales_order_lines) l "
        "ANTI JOIN data.sales_orders s ON s.external_id = l.order_external_id"
    ) == [(0,)]


@pytest.fixture
def shop(workspace: WorkspaceBuilder) -> Iterator[sandbox.ShopifySandbox]:
    scenario = sandbox.Scenario(orders=1_500, unmapped_sku_rate=0, unknown_channel_rate=0)
    with sandbox.serve(scenario) as server:
        workspace.integration(
            "shop",
            "shopify",
            ["sales_orders", "pending_sales"],
            credentials=CREDENTIALS,
            settings={"base_url": server.url, "history_days": 120, "bulk_page_size": 100},
        )
        workspace.mappings("sku", [(f"P{i}", f"SKU-{i:05d}", "") for i in range(50)])
        workspace.mappings("channel", [("web", "online_store", ""), ("store", "pos", "")])
        workspace.apply()
        yield server


def change_everything(store: Store) -> tuple[dict[str, int], list[tuple[str, str, float, float]]]:
    """At least one of every transition, then a busy day on top; returns what the busy day
    did and the rows of the order deleted."""
    paid = [i for i in range(store.count) if store.status(i) == "PAID"]
    pending = [i for i in range(store.count) if store.status(i) in PENDING]
    store.refund(paid[0])
    store.refund_line(paid[1], 0, 1)
    store.edit(paid[2], 0, 0)
    store.cancel(paid[3])
    deleted = order_rows(store, paid[4])
    store.delete(paid[4])
    store.pay(pending[0])
    store.void(pending[1])
    return store.busy_day(edited=400, new=200), deleted


def test_refunds_payments_voids_and_edits_reach_the_state(
    workspace: WorkspaceBuilder, tether: Callable[..., Result], shop: sandbox.ShopifySandbox
) -> None:
    first = tether("-w", str(workspace.root), "sync", "shop")
    assert first.exit_code == 0, first.output
    assert stored_sales(workspace) == truth(shop.store, SALE)
    assert stored_pending(workspace) == truth(shop.store, PENDING)

    done, deleted = change_everything(shop.store)
    assert done["paid"] and done["refunded"] and done["partially_refunded"] and done["voided"]
    # sales_orders alone: orders paid since move out of pending_sales in the same transaction
    sales = tether("-w", str(workspace.root), "sync", "shop", "-c", "sales_orders")
    assert sales.exit_code == 0, sales.output
    assert_consistent(workspace)
    assert stored_sales(workspace) == truth(shop.store, SALE, deleted)
    pending = tether("-w", str(workspace.root), "sync", "shop", "-c", "pending_sales")
    assert pending.exit_code == 0, pending.output

    assert stored_pending(workspace) == truth(shop.store, PENDING)
    assert stored_sales(workspace) == truth(shop.store, SALE, deleted)
    orders = workspace.query("SELECT external_id, financial_status FROM data.sales_orders")
    assert {status for _, status in orders} == {"paid", "partially_refunded"}
    assert {oid for oid, _ in orders} == {row[0] for row in truth(shop.store, SALE, deleted)}
    # demand after refunds: what a forecaster reads is less than what was ordered
    ((ordered, current),) = workspace.query(
        "SELECT sum(quantity), sum(current_quantity) FROM data.sales_order_lines"
    )
    assert current < ordered
    skipped = workspace.query(
        "SELECT count(*) FROM sync_items WHERE status = 'skipped' "
        "AND error_message LIKE 'Order is refunded%'"
    )
    assert skipped[0][0] >= done["refunded"]


RUNNER = """
from tether.cli import main
main(["-w", {root!r}, "sync", "shop"])
"""


def test_kill_9_at_random_points_still_ends_equal_to_the_store(
    workspace: WorkspaceBuilder, tether: Callable[..., Result], shop: sandbox.ShopifySandbox
) -> None:
    first = tether("-w", str(workspace.root), "sync", "shop")
    assert first.exit_code == 0, first.output
    shop.scenario.bulk_delay_ms = 800  # each sync's bulk operation runs a while: kills land in it
    _, deleted = change_everything(shop.store)
    chance = random.Random(20261203)
    env = {**os.environ, "TETHER_NO_DAEMON": "1"}
    code = RUNNER.format(root=str(workspace.root))
    kills = 0
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        time.sleep(chance.uniform(0.5, 2.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        assert_consistent(workspace)  # whatever committed is whole
        shop.store.busy_day(edited=30, new=10, seed=chance.randrange(1 << 30))
    assert kills >= 3, f"only {kills} syncs were still running when killed"

    last = tether("-w", str(workspace.root), "sync", "shop")
    assert last.exit_code == 0, last.output

    assert_consistent(workspace)
    assert stored_sales(workspace) == truth(shop.store, SALE, deleted)
    assert stored_pending(workspace) == truth(shop.store, PENDING)

"""`tether sync` end to end against the Shopify sandbox: a bulk first sync, then an incremental one."""

from __future__ import annotations

from typing import Any

from tether.sandbox import shopify as sandbox

CREDENTIALS = {"store_url": "acme.myshopify.com", "access_token": "shpat_sandbox"}


def paid_orders(server: sandbox.ShopifySandbox) -> list[tuple[str, str]]:
    store = server.store
    return [
        (f"gid://shopify/Order/{5_000_000_000 + i}", store.template(i).channel)
        for i in range(store.count)
        if store.template(i).status in ("PAID", "PARTIALLY_REFUNDED")
    ]


def test_tether_sync_loads_shopify_orders_and_resumes_incrementally(
    workspace: Any, tether: Any
) -> None:
    with sandbox.serve(sandbox.Scenario(orders=200, restore_rate=1e6)) as srv:
        workspace.integration(
            "shop",
            "shopify",
            ["sales_orders", "products"],
            credentials=CREDENTIALS,
            settings={"base_url": srv.url, "history_days": 120},
        )
        workspace.mappings("sku", [(f"P{i}", f"SKU-{i:05d}", "") for i in range(50)])
        workspace.mappings("channel", [("web", "online_store", ""), ("store", "pos", "")])
        workspace.apply()

        first = tether("-w", str(workspace.root), "sync", "shop")
        srv.store.grow(30)
        second = tether("-w", str(workspace.root), "sync", "shop")

    # Unmapped SKUs / the unknown "wholesale" channel make the executions partial, not failed.
    assert first.exit_code == 0, first.output
    assert "manual (full)" in first.output and "partial" in first.output
    assert second.exit_code == 0, second.output
    expected = {oid for oid, channel in paid_orders(srv) if channel != "wholesale"}
    orders = workspace.query("select external_id from data.sales_orders")
    assert {o for (o,) in orders} == expected
    assert len(orders) == len(expected)  # the second sync upserted, never duplicated
    unmapped = workspace.query(
        "select distinct channel from sync_item_errors where code = 'UNMAPPED_CHANNEL'"
    )
    assert unmapped == [("wholesale",)]
    products = workspace.query("select count(*) from data.products")
    assert products == [(50,)]  # the three UNMAPPED-00x variants are not mapped

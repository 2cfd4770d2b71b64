"""`tether sync` end to end against the Brewman sandbox: orders and stock land in DuckDB."""

from __future__ import annotations

from typing import Any

from tether.sandbox import brewman as sandbox

CREDENTIALS = {"api_token": sandbox.API_TOKEN, "tenant_id": sandbox.TENANT_ID}


def test_tether_sync_loads_orders_by_windows_and_stock(workspace: Any, tether: Any) -> None:
    scenario = sandbox.Scenario(
        skus=6, unmapped_skus=0, orders=120, days=30, busy_day_orders=40, unmapped_channel=True
    )
    with sandbox.serve(scenario) as srv:
        workspace.integration(
            "brewery",
            "brewman",
            ["sales_orders", "warehouse_inventory"],
            credentials=CREDENTIALS,
            settings={
                "base_url": srv.url,
                "history_days": 40,
                "window_days": 10,
                "maximum_results": 25,
            },
        )
        workspace.mappings("sku", [(f"B{i}", f"SKU-{i:05d}", "") for i in range(6)])
        workspace.mappings("channel", [(c, c, "") for c in sandbox.CHANNELS])
        workspace.mappings("warehouse", [("EAST", "WH-EAST", ""), ("WEST", "WH-WEST", "")])
        workspace.apply()

        result = tether("-w", str(workspace.root), "sync", "brewery")

    assert result.exit_code == 0, result.output
    orders = workspace.query("select external_id from data.sales_orders")
    festival = [o for o in srv.brewery.orders if o["header"]["outletTypeId"] == "festival"]
    assert len(orders) == 160 - len(festival)  # all but the unmapped channel's orders
    assert len({o for (o,) in orders}) == len(orders)
    unmapped = workspace.query(
        "select distinct code, channel from sync_item_errors where code = 'UNMAPPED_CHANNEL'"
    )
    assert unmapped == [("UNMAPPED_CHANNEL", "festival")]
    stock = workspace.query("select warehouse, sku from data.inventory_levels order by 1, 2")
    assert stock == [(wh, f"B{i}") for wh in ("EAST", "WEST") for i in range(6)]

"""`tether sync` end to end against the TrackStar sandbox: rows in DuckDB, unmapped warehouses."""

from __future__ import annotations

from typing import Any

from tether.sandbox import trackstar as sandbox


def test_tether_sync_loads_inventory_and_flags_the_unmapped_warehouse(
    workspace: Any, tether: Any
) -> None:
    with sandbox.serve(sandbox.Scenario(skus=5, unmapped_skus=0, unmapped_warehouse=True)) as srv:
        workspace.integration(
            "ts_main",
            "trackstar",
            ["warehouse_inventory"],
            credentials={"api_key": sandbox.API_KEY, "access_token": sandbox.ACCESS_TOKEN},
            settings={"base_url": srv.url},
        )
        workspace.mappings("sku", [(f"S{i}", f"SKU-{i:05d}", "") for i in range(5)])
        workspace.mappings("warehouse", [("EAST", "WH-EAST", ""), ("WEST", "WH-WEST", "")])
        workspace.apply()

        result = tether("-w", str(workspace.root), "sync", "ts_main")

    assert result.exit_code == 0, result.output
    assert "warehouse_inventory" in result.output and "partial" in result.output
    rows = workspace.query(
        "select warehouse, sku, on_hand, available from data.inventory_levels order by 1, 2"
    )
    assert [(w, s) for w, s, _, _ in rows] == [
        (wh, f"S{i}") for wh in ("EAST", "WEST") for i in range(5)
    ]
    raw = srv.catalogue.record("inventory", 2)["inventory_by_warehouse_id"]["WH-WEST"]
    assert ("WEST", "S2", float(raw["onhand"]), float(raw["fulfillable"])) in rows
    errors = workspace.query("select code, warehouse, message from sync_item_errors")
    assert errors == [
        (
            "UNMAPPED_WAREHOUSE",
            "WH-NORTH",
            "Unmapped warehouse 'WH-NORTH': no row in mappings/warehouses.csv",
        )
    ]


def test_tether_sync_reports_a_bad_access_token_as_auth_failed(workspace: Any, tether: Any) -> None:
    with sandbox.serve(sandbox.Scenario(skus=3)) as srv:
        workspace.integration(
            "ts_main",
            "trackstar",
            ["products"],
            credentials={"api_key": sandbox.API_KEY, "access_token": "expired-token"},
            settings={"base_url": srv.url},
        )
        workspace.apply()
        result = tether("-w", str(workspace.root), "sync", "ts_main")

    assert "AUTH_FAILED" in result.output
    assert "expired-token" not in result.output
    failed = workspace.query("select status, error from executions")
    assert failed[0][0] == "failed" and "401" in failed[0][1]

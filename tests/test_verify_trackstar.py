"""`tether verify` / `tether sync --since` against the TrackStar sandbox: TrackStar has no count
(``total_count`` is the page's size), so verify pages through the window's list."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from tether.sandbox import trackstar as sandbox

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def test_verify_counts_orders_updated_in_the_window_and_a_backfill_restores_a_lost_row(
    workspace: Any, tether: Any
) -> None:
    scenario = sandbox.Scenario(skus=20, orders=1500, unmapped_skus=1, anchor=ANCHOR)
    with sandbox.serve(scenario) as srv, time_machine.travel(ANCHOR + timedelta(hours=1)):
        workspace.integration(
            "ts_main",
            "trackstar",
            ["sales_orders", "warehouse_inventory"],
            credentials={"api_key": sandbox.API_KEY, "access_token": sandbox.ACCESS_TOKEN},
            settings={"base_url": srv.url, "page_size": 500},
        )
        workspace.mappings("sku", [(f"S{i}", f"SKU-{i:05d}", "") for i in range(20)])
        workspace.mappings("channel", [(c, c, "") for c in sandbox.CHANNELS])
        workspace.mappings("warehouse", [("EAST", "WH-EAST", ""), ("WEST", "WH-WEST", "")])
        workspace.apply()
        root = str(workspace.root)
        assert tether("-w", root, "sync", "ts_main").exit_code == 0
        window = ["--since", "2025-12-01", "--until", "2025-12-15"]

        srv.requests.clear()
        first = tether("-w", root, "verify", "ts_main", "--json", *window)
        assert first.exit_code == 0, first.output
        answer = json.loads(first.stdout)
        orders = next(c for c in answer["capabilities"] if c["capability"] == "sales_orders")
        truth = [
            i
            for i in range(1500)
            if "2025-12-01" <= srv.catalogue.dates("orders", i)[1] < "2025-12-15"
        ]
        assert (orders["status"], orders["window_field"]) == ("match", "updated_at")
        assert orders["source"] == len(truth) == orders["loaded"] + orders["failed"]
        assert orders["failed"] > 0  # lines in the unmapped warehouse / SKU: known, not missing
        stock = next(c for c in answer["capabilities"] if c["capability"] == "warehouse_inventory")
        assert (stock["status"], stock["window_field"]) == ("match", None)
        listed = [r for r in srv.requests if r.path == "/wms/orders"]
        assert all(
            r.params.get("updated_date[gte]") == "2025-12-01T00:00:00Z"
            and r.params.get("updated_date[lt]") == "2025-12-15T00:00:00Z"
            for r in listed
        )

        (lost,) = workspace.query(
            "select external_id from data.sales_orders where updated_at >= '2025-12-02' "
            "and updated_at < '2025-12-14' limit 1"
        )
        _delete(workspace, lost[0])
        cursor = workspace.query("select cursor from sync_state where domain_type = 'sales_orders'")
        missing = tether("-w", root, "verify", "ts_main", *window)
        assert missing.exit_code == 1
        assert "1 record(s) at the source are not in the state" in missing.stdout

        srv.requests.clear()
        backfill = tether("-w", root, "sync", "ts_main", "-c", "sales_orders", *window)
        assert backfill.exit_code == 0, backfill.output
        assert "backfill" in backfill.stdout
        assert all("page_token" not in r.params or r.params.get("updated_date[lt]")
                   for r in srv.requests)  # fmt: skip
        assert (
            workspace.query("select cursor from sync_state where domain_type = 'sales_orders'")
            == cursor
        )
        assert workspace.query(
            "select count(*) from data.sales_orders where external_id = ?", [lost[0]]
        ) == [(1,)]
        assert tether("-w", root, "verify", "ts_main", *window).exit_code == 0


def _delete(workspace: Any, external_id: str) -> None:
    import duckdb

    con = duckdb.connect(str(workspace.state_path))
    try:
        con.execute("DELETE FROM data.sales_orders WHERE external_id = ?", [external_id])
    finally:
        con.close()

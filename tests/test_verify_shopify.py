"""`tether verify` / `tether sync --since` against the Shopify sandbox: ``ordersCount`` with the
sync's search over the window against the state, a lost row found and brought back by a
backfill that leaves the cursor alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from tether.sandbox import shopify as sandbox

ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)
TOKEN = "shpat_verify_test"


def test_shopify_verify_finds_a_lost_order_and_a_backfill_of_its_window_restores_it(
    workspace: Any, tether: Any
) -> None:
    scenario = sandbox.Scenario(
        orders=400, skus=20, anchor=ANCHOR, access_token=TOKEN, refund_rate=0.0,
        pending_rate=0.0, unknown_channel_rate=0.05, bulk_delay_ms=0,
    )  # fmt: skip
    with sandbox.serve(scenario) as srv, time_machine.travel(ANCHOR + timedelta(hours=1)):
        workspace.integration(
            "shop",
            "shopify",
            ["sales_orders"],
            credentials={"store_url": "verify-test.myshopify.com", "access_token": TOKEN},
            settings={"base_url": srv.url, "history_days": 120},
        )
        workspace.mappings("sku", [(f"SKU-{n:05d}", f"SKU-{n:05d}", "") for n in range(20)])
        workspace.mappings("channel", [("web", "online_store", ""), ("retail", "pos", "")])
        workspace.apply()
        root = str(workspace.root)
        assert tether("-w", root, "sync", "shop").exit_code == 0

        first = tether("-w", root, "verify", "shop", "--since", "2026-02-01", "--json")
        assert first.exit_code == 0, first.output
        (orders,) = json.loads(first.stdout)["capabilities"]
        in_window = workspace.query(
            "select count(*) from data.sales_orders where updated_at >= '2026-02-01'"
        )[0][0]
        assert (orders["status"], orders["window_field"]) == ("match", "updated_at")
        assert orders["loaded"] == in_window and orders["failed"] > 0  # the wholesale channel
        assert orders["source"] == in_window + orders["failed"]

        (lost,) = workspace.query(
            "select external_id, updated_at from data.sales_orders "
            "where updated_at >= '2026-02-10' order by updated_at limit 1"
        )
        con_cursor = "select cursor from sync_state where domain_type = 'sales_orders'"
        cursor = workspace.query(con_cursor)
        _delete(workspace, lost[0])
        missing = tether("-w", root, "verify", "shop", "--since", "2026-02-01")
        assert missing.exit_code == 1
        assert "1 record(s) at the source are not in the state" in missing.stdout

        since = (lost[1] - timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        until = (lost[1] + timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        backfill = tether("-w", root, "sync", "shop", "--since", since, "--until", until, "--json")
        assert backfill.exit_code == 0, backfill.output
        (execution,) = json.loads(backfill.stdout)["executions"]
        assert execution["trigger"] == "backfill"
        assert 1 <= execution["records_fetched"] < 50  # the two hours only
        assert workspace.query(con_cursor) == cursor
        assert tether("-w", root, "verify", "shop", "--since", "2026-02-01").exit_code == 0


def _delete(workspace: Any, external_id: str) -> None:
    import duckdb

    con = duckdb.connect(str(workspace.state_path))
    try:
        con.execute("DELETE FROM data.sales_orders WHERE external_id = ?", [external_id])
        con.execute("DELETE FROM data.sales_order_lines WHERE order_external_id = ?", [external_id])
    finally:
        con.close()


def test_shopify_verify_sees_refunds_and_payments_a_sync_has_not_read_and_passes_after_backfill(
    workspace: Any, tether: Any
) -> None:
    scenario = sandbox.Scenario(
        orders=400, skus=20, anchor=ANCHOR, access_token=TOKEN, unknown_channel_rate=0.0,
        unmapped_sku_rate=0.0, refund_rate=0.05, pending_rate=0.1, bulk_delay_ms=0,
    )  # fmt: skip
    with sandbox.serve(scenario) as srv, time_machine.travel(ANCHOR + timedelta(hours=1)):
        workspace.integration(
            "shop",
            "shopify",
            ["sales_orders", "pending_sales"],
            credentials={"store_url": "verify-test.myshopify.com", "access_token": TOKEN},
            settings={"base_url": srv.url, "history_days": 120},
        )
        workspace.mappings("sku", [(f"SKU-{n:05d}", f"SKU-{n:05d}", "") for n in range(20)])
        workspace.mappings("channel", [("web", "online_store", ""), ("retail", "pos", "")])
        workspace.apply()
        root = str(workspace.root)
        assert tether("-w", root, "sync", "shop").exit_code == 0
        verified = tether("-w", root, "verify", "shop", "--since", "30d", "--json")
        assert verified.exit_code == 0, verified.output
        pending = next(
            c for c in json.loads(verified.stdout)["capabilities"]
            if c["capability"] == "pending_sales"
        )  # fmt: skip
        assert pending["window_field"] is None and "keeps no updated_at" in pending["note"]

        store = srv.store
        paid = [i for i in range(store.count) if store.status(i) == "PAID"][:12]
        waiting = [i for i in range(store.count) if store.status(i) == "PENDING"][:5]
        for i in paid:
            store.refund(i)
        for i in waiting:
            store.pay(i)

        stale = tether("-w", root, "verify", "shop", "--since", "30d", "--json")
        assert stale.exit_code == 1
        checks = {c["capability"]: c for c in json.loads(stale.stdout)["capabilities"]}
        # 12 refunded orders are still in the state as sales, 5 paid ones still pending.
        assert checks["pending_sales"]["difference"] == -5
        assert checks["sales_orders"]["status"] in ("extra", "missing")

        cursor_sql = "select domain_type, cursor from sync_state order by 1"
        cursor = workspace.query(cursor_sql)
        backfill = tether("-w", root, "sync", "shop", "--since", "2h")
        assert backfill.exit_code == 0, backfill.output
        assert workspace.query(cursor_sql) == cursor
        after = tether("-w", root, "verify", "shop", "--since", "30d")
        assert after.exit_code == 0, after.stdout
        assert "Complete: every count matches." in after.stdout

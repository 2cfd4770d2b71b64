"""The sync engine through `tether sync / executions / items / errors / retry / reset`.

Connector: the deterministic fake of tests/sync_support.py (real sandbox end to end in
tests/test_sync_shopify_e2e.py). Assertions are what a user sees: exit codes, output, JSON, and
rows in the DuckDB state.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Result, WorkspaceBuilder
from sync_support import (
    MAPPED_CHANNELS,
    MAPPED_SKUS,
    MAPPED_WAREHOUSES,
    FakeConnector,
    register_fake,
)


class Shop:
    """A workspace with one applied `fake` integration and the CLI pointed at it."""

    def __init__(self, ws: WorkspaceBuilder, tether: Callable[..., Result]) -> None:
        self.ws = ws
        self._tether = tether

    def setup(self, capabilities: list[str] | None = None, **settings: Any) -> Shop:
        self.ws.integration(
            "shop",
            "fake",
            capabilities or ["sales_orders"],
            settings={"records": 12, "page_size": 5, **settings},
        )
        self.ws.apply()
        return self

    def reconfigure(self, **settings: Any) -> None:
        caps = self.ws.query("SELECT capabilities FROM integrations WHERE id = 'shop'")[0][0]
        self.setup(list(caps), **settings)

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self._tether("-w", str(self.ws.root), *args, input=input)

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code in (0, 1), result.output
        return json.loads(result.stdout)

    def q(self, sql: str) -> list[tuple[Any, ...]]:
        return self.ws.query(sql)


@pytest.fixture
def shop(workspace: WorkspaceBuilder, tether: Callable[..., Result], monkeypatch: Any) -> Shop:
    register_fake(monkeypatch)
    workspace.mappings("sku", MAPPED_SKUS)
    workspace.mappings("channel", MAPPED_CHANNELS)
    workspace.mappings("warehouse", MAPPED_WAREHOUSES)
    return Shop(workspace, tether)


def data_orders(shop: Shop) -> list[str]:
    return [r[0] for r in shop.q("SELECT external_id FROM data.sales_orders ORDER BY 1")]


def test_sync_loads_orders_and_records_item_statuses(shop: Shop) -> None:
    shop.setup(unmapped_sku_every=4, all_unmapped_every=5, bad_channel_every=7)
    result = shop("sync", "shop")
    assert result.exit_code == 0, result.output
    assert "partial" in result.stdout
    assert "tether errors 1" in result.stdout

    (execution,) = shop.json("executions", "shop")["executions"]
    assert execution["status"] == "partial"
    assert execution["records_fetched"] == 12
    # orders 0 (all unmapped), 5, 10 (all unmapped), 7 (channel) fail; 4, 8 partially mapped
    assert (execution["success"], execution["failed"], execution["partial_mapped"]) == (6, 4, 2)
    assert execution["full_resync"] is True

    statuses = dict(shop.q("SELECT external_id, status FROM sync_items"))
    assert statuses["order-7"] == "failed"
    assert statuses["order-4"] == "partial_mapped"
    assert statuses["order-1"] == "success"
    # loaded orders (with the mapped lines of partial ones) are in data.*; failed ones are not
    assert "order-7" not in data_orders(shop) and "order-4" in data_orders(shop)
    lines = shop.q(
        "SELECT sku, sku_external_id FROM data.sales_order_lines "
        "WHERE order_external_id = 'order-4' ORDER BY external_id"
    )
    assert lines == [("SKU-00004", "SKU-00004")]  # the UNMAPPED-001 line is an item error
    error = shop.q(
        "SELECT code, sku, e.external_id FROM sync_item_errors e JOIN sync_items s "
        "ON s.id = e.item_id WHERE s.external_id = 'order-4'"
    )
    assert error == [("UNMAPPED_SKU", "UNMAPPED-001", "line-4-1")]


def test_each_page_is_one_transaction_and_the_next_run_resumes(shop: Shop) -> None:
    shop.setup(page_size=3, fail_after_pages=2)
    result = shop("sync", "shop")
    assert result.exit_code == 1
    assert "CONNECTION_TIMEOUT" in result.stdout

    (execution,) = shop.json("executions")["executions"]
    assert execution["status"] == "failed"
    assert execution["records_fetched"] == 6
    assert data_orders(shop) == sorted(f"order-{i}" for i in range(6))
    assert shop.q("SELECT count(*) FROM sync_items") == [(6,)]
    assert shop.q("SELECT cursor::VARCHAR FROM sync_state") == [('{"offset":6}',)]

    shop.reconfigure(page_size=3)
    assert shop("sync", "shop").exit_code == 0
    assert FakeConnector.fetched[-1] == ("sales_orders", {"offset": 6})
    assert data_orders(shop) == sorted(f"order-{i}" for i in range(12))
    newest = shop.json("executions")["executions"][0]
    assert (newest["status"], newest["records_fetched"], newest["full_resync"]) == (
        "success",
        6,
        False,
    )


def test_records_read_twice_in_one_sync_are_stored_once(shop: Shop) -> None:
    shop.setup(page_size=5, overlap=2)  # pages 0-4, 3-7, 6-10, 9-11: a lookback re-reads
    assert shop("sync", "shop").exit_code == 0
    assert shop.q("SELECT count(*) FROM sync_items") == [(18,)]
    assert shop.q("SELECT count(*), count(DISTINCT external_id) FROM data.sales_orders") == [
        (12, 12)
    ]
    assert shop.q("SELECT count(*) FROM data.sales_order_lines") == [(24,)]


def test_a_record_read_twice_in_one_sync_leaves_one_open_item(shop: Shop) -> None:
    shop.setup(page_size=5, overlap=2, bad_channel_every=7)  # order-7: pages 3-7 and 6-10
    assert shop("sync", "shop").exit_code == 0
    assert shop.q(
        "SELECT count(*), count(*) FILTER (WHERE resolved_by IS NULL) FROM sync_items "
        "WHERE external_id = 'order-7'"
    ) == [(2, 1)]
    (execution,) = shop.json("executions")["executions"]
    assert shop.q("SELECT DISTINCT resolved_by FROM sync_items WHERE resolved_by IS NOT NULL") == [
        (execution["id"],)
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="the fetch worker forks on Linux")
def test_a_killed_fetch_worker_fails_the_execution_and_keeps_its_pages(
    shop: Shop, monkeypatch: Any
) -> None:
    monkeypatch.setenv("TETHER_FETCH_WORKER", "process")
    shop.setup(fail_after_pages=2, failure="killed")

    result = shop("sync", "shop")

    assert result.exit_code == 1, result.output
    (execution,) = shop.json("executions")["executions"]
    assert execution["status"] == "failed"
    assert "was killed by signal 9 (SIGKILL)" in execution["error"]
    assert "Pages saved before it are kept" in execution["error"]
    assert len(data_orders(shop)) == 10  # the two pages before the kill
    assert shop.q("SELECT cursor->>'offset' FROM sync_state") == [("10",)]


def test_rate_limit_ends_partial_with_the_cursor_kept(shop: Shop) -> None:
    shop.setup(fail_after_pages=1, failure="rate_limited")
    result = shop("sync", "shop")
    assert result.exit_code == 0, result.output
    (execution,) = shop.json("executions")["executions"]
    assert (execution["status"], execution["error_code"]) == ("partial", "RATE_LIMITED")
    assert execution["rate_limit_wait_s"] == 0.5
    assert "wait budget" in execution["error"]
    assert shop.q("SELECT cursor::VARCHAR FROM sync_state") == [('{"offset":5}',)]


def test_auth_failure_fails_at_once_with_auth_failed(shop: Shop) -> None:
    shop.setup(fail_after_pages=0, failure="auth")
    result = shop("sync", "shop")
    assert result.exit_code == 1
    assert "AUTH_FAILED" in result.stdout and "401" in result.stdout
    (execution,) = shop.json("executions", "--status", "failed")["executions"]
    assert execution["records_fetched"] == 0


def test_dry_run_records_items_but_writes_no_data_and_no_cursor(shop: Shop) -> None:
    shop.setup(unmapped_sku_every=4)
    result = shop("sync", "shop", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "DRY RUN" in result.stdout
    (execution,) = shop.json("executions")["executions"]
    assert execution["dry_run"] is True
    assert (execution["mapped"], execution["partial_mapped"], execution["success"]) == (9, 3, 0)
    assert shop.q("SELECT count(*) FROM data.sales_orders") == [(0,)]
    assert shop.q("SELECT count(*) FROM data.sales_order_lines") == [(0,)]
    assert shop.q("SELECT count(*) FROM sync_state") == [(0,)]
    # a dry run's failures are not retried into the data
    assert shop.json("retry", "shop")["items_retried"] == 0


def test_retry_after_a_mapping_fix_loads_old_failures_without_refetching(shop: Shop) -> None:
    shop.setup(unmapped_sku_every=4, bad_channel_every=7)
    shop("sync", "shop")
    errors = shop.json("errors", "shop")
    assert [r["sku"] for r in errors["unmapped_skus"]] == ["UNMAPPED-001"]
    assert errors["unmapped_skus"][0]["items"] == 2  # orders 4 and 8 (order 0: channel first)
    assert [r["channel"] for r in errors["unmapped_channels"]] == ["marketplace"]

    shop.ws.mappings("sku", [("SKU-99999", "UNMAPPED-001", "")])
    shop.ws.apply()
    fetches = len(FakeConnector.fetched)
    result = shop("retry", "shop")
    assert result.exit_code == 0, result.output
    assert "2 now loaded" in result.stdout and "2 still failing" in result.stdout
    assert len(FakeConnector.fetched) == fetches  # the source was not called

    lines = shop.q("SELECT sku FROM data.sales_order_lines WHERE sku_external_id = 'UNMAPPED-001'")
    assert lines == [("SKU-99999",)] * 2
    # old items are resolved by the retry execution; history stays
    retry_execution = shop.json("executions")["executions"][0]
    assert retry_execution["trigger"] == "retry"
    resolved = shop.q("SELECT count(*) FROM sync_items WHERE resolved_by IS NOT NULL")
    assert resolved == [(4,)]
    ledger = {e["key"]: e["state"] for e in shop.json("errors", "shop")["ledger"]}
    assert ledger == {"UNMAPPED-001": "resolved", "marketplace": "persisting"}
    assert shop.json("errors", "shop")["unmapped_skus"] == []


def test_retry_never_loads_an_old_stock_level_over_a_newer_one(shop: Shop) -> None:
    from datetime import UTC, datetime

    from tether.config.project import load_project
    from tether.engine.sync import run_sync
    from tether.state.db import open_for_write

    # Monday: rows 0, 3, 6, 9 fail (unmapped SKU); their levels are kept for a retry.
    shop.setup(["warehouse_inventory"], records=10, unmapped_sku_every=3)
    assert shop("sync", "shop").exit_code == 0
    failed = ["WH-EAST|0", "WH-EAST|3", "WH-EAST|6", "WH-EAST|9"]
    assert shop.q("SELECT count(*) FROM data.inventory_levels") == [(6,)]
    # The mapping is fixed; Tuesday's scheduled sync (no re-mapping first) loads newer levels.
    shop.ws.mappings("sku", [("SKU-99999", "UNMAPPED-001", "")])
    shop.reconfigure(records=10, unmapped_sku_every=3, version=2)
    workspace = load_project(shop.ws.root)
    with open_for_write(workspace.state_path, "sync") as con:
        tick = datetime(2026, 1, 2, 6, tzinfo=UTC)
        # full: stock levels are read whole every run (a snapshot, no cursor)
        run_sync(con, workspace, "shop", trigger="scheduled", scheduled_for=tick, full=True)
    newer = shop.q(
        "SELECT external_id, on_hand, execution_id FROM data.inventory_levels ORDER BY on_hand"
    )
    assert [(key, level) for key, level, _ in newer if key in failed] == [
        ("WH-EAST|0", 1000.0), ("WH-EAST|3", 1003.0), ("WH-EAST|6", 1006.0), ("WH-EAST|9", 1009.0)
    ]  # fmt: skip

    result = shop("retry", "shop")

    assert result.exit_code == 0, result.output
    assert shop.q("SELECT external_id, on_hand, execution_id FROM data.inventory_levels "
                  "ORDER BY on_hand") == newer  # fmt: skip
    skipped = shop.q(
        "SELECT error_message FROM sync_items WHERE status = 'skipped' AND execution_id = 3"
    )
    assert skipped == [("Newer rows already loaded by execution 2",)] * 2  # Monday's 2 pages
    open_items = shop.q(
        "SELECT count(*) FROM sync_items WHERE status IN ('failed', 'partial_mapped') "
        "AND resolved_by IS NULL"
    )
    assert open_items == [(0,)]


def test_a_manual_sync_re_maps_stored_failures_before_fetching(shop: Shop) -> None:
    shop.setup(bad_channel_every=7)
    shop("sync", "shop")
    shop.ws.mappings("channel", [("market", "marketplace", "")])
    shop.ws.apply()
    result = shop.json("sync", "shop")
    assert result["remapped"] == {"items": 2, "loaded": 2}
    assert shop.q("SELECT channel FROM data.sales_orders WHERE external_id = 'order-7'") == [
        ("market",)
    ]
    assert shop.q("SELECT count(*) FROM data.sales_orders") == [(12,)]


def test_a_refetched_record_takes_over_its_old_failed_item(shop: Shop) -> None:
    shop.setup(bad_channel_every=7)
    shop("sync", "shop")
    # a full re-sync fetches order-7 again (still failing): one open item, not two
    shop("sync", "shop", "--full", "--no-dry-run")
    open_items = shop.q(
        "SELECT count(*) FROM sync_items WHERE external_id = 'order-7' AND resolved_by IS NULL"
    )
    assert open_items == [(1,)]
    assert shop.q("SELECT count(*) FROM data.sales_orders") == [(10,)]


def test_reset_deletes_history_and_the_next_sync_is_a_full_resync(shop: Shop) -> None:
    shop.setup(unmapped_sku_every=4)
    shop("sync", "shop")
    refused = shop("reset", "shop")
    assert refused.exit_code == 1
    assert "--yes" in refused.output
    wrong = shop("reset", "shop")  # stdin is not a TTY in tests: refused before asking
    assert wrong.exit_code == 1

    result = shop.json("reset", "shop", "--yes")
    assert result == {
        "integration": "shop",
        "executions_deleted": 1,
        "items_deleted": 12,
        "cursors_deleted": 1,
        "runs_deleted": 1,
    }
    for table in ("executions", "sync_items", "sync_item_errors", "sync_state", "runs"):
        assert shop.q(f"SELECT count(*) FROM {table}") == [(0,)], table
    assert shop.q("SELECT action FROM audit_log WHERE action IN ('sync', 'reset') ORDER BY id") == [
        ("sync",),
        ("reset",),
    ]
    assert shop("sync", "shop").exit_code == 0
    (execution,) = shop.json("executions")["executions"]
    assert execution["full_resync"] is True
    assert FakeConnector.fetched[-1] == ("sales_orders", None)
    # data was upserted, never duplicated
    assert shop.q("SELECT count(*), count(DISTINCT external_id) FROM data.sales_orders") == [
        (12, 12)
    ]
    assert shop.q("SELECT count(*) FROM data.sales_order_lines") == [(21,)]


def test_reset_needs_the_admin_role(shop: Shop) -> None:
    from tether.state.db import current_user

    shop.setup()
    toml = shop.ws.root / "tether.toml"
    text = toml.read_text()
    toml.write_text(
        text[: text.index("[access]")]
        + f'[access]\nadmins = []\noperators = ["{current_user()}"]\n'
    )
    assert shop("sync", "shop").exit_code == 0  # operators may sync
    result = shop("reset", "shop", "--yes")
    assert result.exit_code == 1
    assert "'reset' needs the admin role" in result.stderr
    assert shop.q("SELECT count(*) FROM executions") == [(1,)]


def test_items_are_keyset_paged_filtered_and_searchable(shop: Shop) -> None:
    shop.setup(records=30, page_size=7, unmapped_sku_every=3)
    shop("sync", "shop")
    seen: list[int] = []
    after: int | None = None
    while True:
        args = ["items", "1", "--limit", "8"] + (["--after", str(after)] if after else [])
        page = shop.json(*args)
        assert page["total"] == 30
        seen += [i["id"] for i in page["items"]]
        after = page["next_after_id"]
        if after is None:
            break
    assert seen == sorted(seen) and len(set(seen)) == 30

    failed = shop.json("items", "1", "--status", "partial_mapped")
    assert failed["total"] == 10
    assert {i["status"] for i in failed["items"]} == {"partial_mapped"}
    found = shop.json("items", "1", "--search", "unmapped-001", "--limit", "3")
    assert found["total"] == 10 and len(found["items"]) == 3
    assert shop.json("items", "1", "--search", "ORDER-21")["items"][0]["external_id"] == "order-21"

    text = shop("items", "1", "--status", "partial_mapped", "--limit", "2")
    assert "2 of 10 matching item(s); next page: --after" in text.stdout

    detail = shop.json("items", "1", "--item", str(failed["items"][0]["id"]))
    assert detail["errors"][0]["code"] == "UNMAPPED_SKU"
    assert detail["payload"]["external_id"] == failed["items"][0]["external_id"]


def test_aggregate_items_show_their_per_record_errors(shop: Shop) -> None:
    shop.setup(["warehouse_inventory"], unmapped_sku_every=4)
    shop("sync", "shop")
    items = shop.json("items", "1")["items"]
    assert [(i["external_id"], i["records"], i["aggregate"]) for i in items] == [
        ("page-1", 5, True),
        ("page-2", 5, True),
        ("page-3", 2, True),
    ]
    detail = shop("items", "1", "--item", str(items[0]["id"]))
    assert "Unmapped SKU 'UNMAPPED-001'" in detail.stdout
    assert "WH-EAST|4" in detail.stdout
    assert shop.q("SELECT count(*) FROM data.inventory_levels") == [(9,)]


def test_clear_errors_for_unknown_things(shop: Shop) -> None:
    shop.setup()
    result = shop("sync", "nope")
    assert result.exit_code == 1
    assert "Unknown integration 'nope'" in result.stderr and "shop" in result.stderr
    result = shop("items", "999")
    assert result.exit_code == 1 and "Unknown execution 999" in result.stderr
    result = shop("sync", "shop", "--capability", "pricing")
    assert result.exit_code == 1 and "has no capability 'pricing'" in result.stderr
    result = shop("errors", "nope")
    assert result.exit_code == 1 and "Applied integrations: shop" in result.stderr


def test_a_scheduled_tick_runs_once_and_cancel_stops_after_the_page(shop: Shop) -> None:
    from datetime import UTC, datetime

    from tether.config.project import load_project
    from tether.engine.sync import DuplicateRunError, run_sync
    from tether.state.db import open_for_write

    shop.setup()
    workspace = load_project(shop.ws.root)
    tick = datetime(2026, 1, 1, 6, tzinfo=UTC)
    cancel = threading.Event()

    def stop_after_first_page(event: dict[str, Any]) -> None:
        if event["event"] == "page":
            cancel.set()

    with open_for_write(workspace.state_path, "sync") as con:
        result = run_sync(
            con,
            workspace,
            "shop",
            trigger="scheduled",
            scheduled_for=tick,
            actor="scheduler",
            progress=stop_after_first_page,
            cancel=cancel,
        )
        assert result.cancelled and result.statuses == ["cancelled"]
        with pytest.raises(DuplicateRunError, match="never launched twice"):
            run_sync(con, workspace, "shop", trigger="scheduled", scheduled_for=tick)
    assert shop.q("SELECT count(*) FROM sync_items") == [(5,)]
    assert shop.q("SELECT status, trigger FROM executions") == [("cancelled", "scheduled")]
    assert shop.q("SELECT count(*) FROM runs") == [(1,)]


def test_items_page_and_count_agree_on_a_large_execution(
    workspace: Any, tether: Callable[..., Any]
) -> None:
    """Windowed keyset pages return every match exactly once; the count is capped past 10,000."""
    import json

    from tether.state.db import open_for_write

    workspace.integration("shop", "shopify", ["sales_orders"],
                          credentials={"store_url": "a.myshopify.com", "access_token": "t"})  # fmt: skip
    workspace.apply()
    with open_for_write(workspace.state_path, "test") as con:
        con.execute("INSERT INTO runs (id, integration_id, trigger) VALUES (1, 'shop', 'manual')")
        con.execute(
            "INSERT INTO executions (id, run_id, integration_id, domain_type, trigger, status, "
            "started_at) VALUES (1, 1, 'shop', 'sales_orders', 'manual', 'partial', now())"
        )
        con.execute(
            "INSERT INTO sync_items (id, execution_id, integration_id, domain_type, external_id, "
            "status, error_message, fetched_at) SELECT range + 1, 1, 'shop', 'sales_orders', "
            "'Order/' || range, CASE WHEN range % 1000 = 3 THEN 'failed' ELSE 'success' END, "
            "CASE WHEN range % 1000 = 3 THEN 'Unmapped SKU ''X''' END, now() FROM range(300000)"
        )
    root = str(workspace.root)
    seen: list[int] = []
    after: list[str] = []
    while True:
        page = json.loads(
            tether("-w", root, "items", "1", "--status", "failed", "--search", "unmapped sku",
                   "--limit", "40", *after, "--json").stdout
        )  # fmt: skip
        seen += [i["id"] for i in page["items"]]
        assert page["total"] == 300 and page["total_capped"] is False
        if page["next_after_id"] is None:
            break
        after = ["--after", str(page["next_after_id"])]
    assert seen == [n + 1 for n in range(300_000) if n % 1000 == 3]
    everything = json.loads(tether("-w", root, "items", "1", "--limit", "5", "--json").stdout)
    assert everything["total"] == 10_000 and everything["total_capped"] is True

"""`tether sync` against the Amazon SP-API sandbox over loopback: paid orders and their items in
DuckDB, FBA and merchant-fulfilled orders as separate channels, the incremental cursor, a revoked
refresh token, and resuming at the saved NextToken after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from conftest import WorkspaceBuilder

from tether.sandbox import amazon as sandbox

CREDENTIALS = {
    "lwa_client_id": sandbox.CLIENT_ID,
    "lwa_client_secret": sandbox.CLIENT_SECRET,
    "refresh_token": sandbox.REFRESH_TOKEN,
}
FAST = {"orders_rate": 1000.0, "orders_burst": 1000, "items_rate": 1000.0, "items_burst": 1000}
PAID = ("Unshipped", "PartiallyShipped", "Shipped")


def _setup(
    workspace: WorkspaceBuilder,
    srv: sandbox.AmazonServer,
    credentials: dict[str, str] = CREDENTIALS,
    **settings: Any,
) -> None:
    workspace.integration(
        "amz",
        "amazon",
        ["sales_orders"],
        credentials=credentials,
        settings={"base_url": srv.url, "token_url": f"{srv.url}/auth/o2/token", **FAST, **settings},
    )
    workspace.mappings("sku", [(f"S{i}", f"SKU-{i:05d}", "") for i in range(200)])
    workspace.mappings("channel", [("FBA", "Amazon.com:AFN", ""), ("FBM", "Amazon.com:MFN", "")])
    workspace.apply()


def _server(**switches: Any) -> sandbox.AmazonServer:
    srv = sandbox.serve(sandbox.Scenario(**{**FAST, **switches}))
    assert isinstance(srv, sandbox.AmazonServer)
    return srv


def _paid(srv: sandbox.AmazonServer) -> list[dict[str, Any]]:
    every = [srv.store.order(i) for i in range(srv.scenario.orders)]
    return [o for o in every if o["OrderStatus"] in PAID]


def test_first_sync_loads_paid_orders_with_items_and_keeps_fba_apart(
    workspace: WorkspaceBuilder, tether: Any
) -> None:
    with _server(orders=80, unmapped_rate=0.05) as srv:
        _setup(workspace, srv)
        result = tether("-w", str(workspace.root), "sync", "amz")
        paid = _paid(srv)
        items = {
            o["AmazonOrderId"]: srv.store.items(srv.store.index_of(o["AmazonOrderId"]) or 0)
            for o in paid
        }

    assert result.exit_code == 0, result.output
    # An order none of whose items maps to a SKU fails as an item; every other one is loaded.
    unusable = {
        k for k, its in items.items() if all(i["SellerSKU"].startswith("UNMAPPED") for i in its)
    }
    paid = [o for o in paid if o["AmazonOrderId"] not in unusable]
    rows = workspace.query("select external_id, channel from data.sales_orders")
    assert sorted(r[0] for r in rows) == sorted(o["AmazonOrderId"] for o in paid)
    failed = workspace.query("select external_id from sync_items where status = 'failed'")
    assert {r[0] for r in failed} == unusable
    fba = {o["AmazonOrderId"] for o in paid if o["FulfillmentChannel"] == "AFN"}
    assert {r[0] for r in rows if r[1] == "FBA"} == fba
    assert {r[0] for r in rows if r[1] == "FBM"} == {o["AmazonOrderId"] for o in paid} - fba
    lines = workspace.query("select count(*) from data.sales_order_lines")[0][0]
    mapped = sum(
        1
        for o in paid
        for i in items[o["AmazonOrderId"]]
        if not i["SellerSKU"].startswith("UNMAPPED")
    )
    assert lines == mapped
    errors = workspace.query("select distinct code from sync_item_errors")
    assert errors == [("UNMAPPED_SKU",)]


def test_second_sync_reads_only_what_changed_since_the_cursor(
    workspace: WorkspaceBuilder, tether: Any
) -> None:
    with _server(orders=60, unmapped_rate=0.0) as srv:
        _setup(workspace, srv)
        assert tether("-w", str(workspace.root), "sync", "amz").exit_code == 0
        cursor = workspace.query("select cursor->>'updated_since' from sync_state")[0][0]
        srv.requests.clear()
        result = tether("-w", str(workspace.root), "sync", "amz")

    assert result.exit_code == 0, result.output
    assert cursor == max(o["LastUpdateDate"] for o in _paid(srv))
    asked = [r.params["LastUpdatedAfter"] for r in srv.requests if r.path == "/orders/v0/orders"]
    assert asked and all("2025-12-31T23:50:00Z" <= a < cursor for a in asked)
    count = workspace.query("select count(*), count(distinct external_id) from data.sales_orders")
    assert count[0][0] == count[0][1] == len(_paid(srv))


def test_a_revoked_refresh_token_is_auth_failed(workspace: WorkspaceBuilder, tether: Any) -> None:
    with _server(orders=5) as srv:
        _setup(workspace, srv, {**CREDENTIALS, "refresh_token": "Atzr|revoked-xyz"})
        result = tether("-w", str(workspace.root), "sync", "amz")

    assert result.exit_code != 0
    assert "AUTH_FAILED" in result.output and "invalid_grant" in result.output
    assert "revoked-xyz" not in result.output
    assert workspace.query("select status from executions") == [("failed",)]


def test_kill_9_mid_sync_resumes_at_the_saved_next_token(
    workspace: WorkspaceBuilder, tether: Any
) -> None:
    with _server(orders=120, unmapped_rate=0.0, slow_s=0.01) as srv:
        _setup(workspace, srv, page_size=10)
        env = {**os.environ, "TETHER_NO_DAEMON": "1"}
        command = [sys.executable, "-m", "tether", "-w", str(workspace.root), "sync", "amz"]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while sum(1 for r in srv.requests if r.path == "/orders/v0/orders") < 4:
                assert proc.poll() is None, "the sync ended before it could be killed"
                assert time.monotonic() < deadline
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        saved = workspace.query("select cursor->'next'->>'token' from sync_state")[0][0]
        assert saved  # a page committed mid-run saved where the next one starts
        srv.requests.clear()
        result = tether("-w", str(workspace.root), "sync", "amz")
        resumed = next(r for r in srv.requests if r.path == "/orders/v0/orders")

    assert result.exit_code == 0, result.output
    assert resumed.params.get("NextToken") == saved
    count = workspace.query("select count(*), count(distinct external_id) from data.sales_orders")
    assert count[0][0] == count[0][1] == len(_paid(srv))
    statuses = workspace.query("select status from executions order by id")
    assert statuses == [("interrupted",), ("success",)]

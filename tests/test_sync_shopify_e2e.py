"""`tether sync` end to end: the Shopify sandbox on loopback, the real connector, SOPS credentials,
the CLI, and the DuckDB state — the loop an operator goes through."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import Result, WorkspaceBuilder

from tether.sandbox import shopify as sandbox

TOKEN = "shpat_sandbox_e2e_secret"
CATALOGUE = [(f"SKU-{n:05d}", f"SKU-{n:05d}", "") for n in range(40)]


@pytest.fixture
def store() -> Iterator[Any]:
    scenario = sandbox.Scenario(
        orders=400, skus=40, access_token=TOKEN, unmapped_sku_rate=0.05,
        unknown_channel_rate=0.05, bulk_delay_ms=0,
    )  # fmt: skip
    with sandbox.serve(scenario) as server:
        yield server


def setup(ws: WorkspaceBuilder, url: str, token: str = TOKEN, **settings: Any) -> None:
    ws.integration(
        "shopify_us",
        "shopify",
        ["sales_orders", "products"],
        credentials={"store_url": "acme.myshopify.com", "access_token": token},
        settings={"base_url": url, "history_days": 365, **settings},
    )
    ws.mappings("sku", CATALOGUE)
    ws.mappings("channel", [("web", "online_store", ""), ("retail", "pos", "")])
    ws.apply()


def run(tether: Callable[..., Result], ws: WorkspaceBuilder, *args: str) -> Any:
    result = tether("-w", str(ws.root), *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_sync_fix_mappings_retry_then_incremental_without_duplicates(
    workspace: WorkspaceBuilder, tether: Callable[..., Result], store: Any
) -> None:
    setup(workspace, store.url)
    first = run(tether, workspace, "sync", "shopify_us")
    orders, products = first["executions"]
    assert orders["domain_type"] == "sales_orders" and orders["full_resync"]
    assert orders["status"] == "partial"
    assert orders["failed"] > 0 and orders["partial_mapped"] + orders["failed"] < 100
    loaded = workspace.query("SELECT count(*) FROM data.sales_orders")[0][0]
    assert loaded == orders["success"] + orders["partial_mapped"]
    # only paid and partially refunded orders come from Shopify
    statuses = workspace.query("SELECT DISTINCT financial_status FROM data.sales_orders")
    assert set(statuses) <= {("paid",), ("partially_refunded",)}
    assert products["status"] == "partial"  # the catalogue has the unmapped variants too

    analysis = run(tether, workspace, "errors", "shopify_us")
    unmapped = {r["sku"] for r in analysis["unmapped_skus"]}
    assert unmapped <= {"UNMAPPED-001", "UNMAPPED-002", "UNMAPPED-003"} and unmapped
    assert [r["channel"] for r in analysis["unmapped_channels"]] == ["wholesale"]
    assert {e["state"] for e in analysis["ledger"]} == {"new"}

    # the fix-the-mapping loop: edit CSVs → apply → retry (no refetch)
    workspace.mappings("sku", [(f"X-{s}", s, "") for s in sorted(unmapped)])
    workspace.mappings("channel", [("b2b", "wholesale", "shopify_us")])
    workspace.apply()
    requests_before = store.requests
    retried = run(tether, workspace, "retry", "shopify_us")
    assert (
        retried["items_retried"]
        == orders["failed"] + orders["partial_mapped"] + (products["failed"])
    )
    assert retried["still_failed"] == 0
    assert store.requests == requests_before  # the source was not called
    after = run(tether, workspace, "errors", "shopify_us")
    assert after["unmapped_skus"] == [] and after["unmapped_channels"] == []
    assert {e["state"] for e in after["ledger"]} == {"resolved"}
    total = orders["records_fetched"]
    assert workspace.query(
        "SELECT count(*), count(DISTINCT external_id) FROM data.sales_orders"
    ) == [(total, total)]

    # an incremental sync afterwards re-reads the lookback window and duplicates nothing
    second = run(tether, workspace, "sync", "shopify_us", "--capability", "sales_orders")
    (incremental,) = second["executions"]
    assert incremental["status"] == "success" and not incremental["full_resync"]
    assert workspace.query(
        "SELECT count(*), count(DISTINCT external_id) FROM data.sales_orders"
    ) == [(total, total)]
    lines = workspace.query(
        "SELECT count(*), count(DISTINCT external_id) FROM data.sales_order_lines"
    )[0]
    assert lines[0] == lines[1]


def test_dry_run_then_reset_and_full_resync(
    workspace: WorkspaceBuilder, tether: Callable[..., Result], store: Any
) -> None:
    setup(workspace, store.url)
    dry = run(tether, workspace, "sync", "shopify_us", "--dry-run", "-c", "sales_orders")
    assert dry["executions"][0]["dry_run"] and dry["executions"][0]["mapped"] > 0
    assert workspace.query("SELECT count(*) FROM data.sales_orders") == [(0,)]
    assert workspace.query("SELECT count(*) FROM sync_state") == [(0,)]

    run(tether, workspace, "sync", "shopify_us", "-c", "sales_orders")
    before = workspace.query("SELECT count(*) FROM data.sales_orders")[0][0]
    reset = run(tether, workspace, "reset", "shopify_us", "--yes")
    assert reset["executions_deleted"] == 2 and reset["cursors_deleted"] == 1
    again = run(tether, workspace, "sync", "shopify_us", "-c", "sales_orders")
    assert again["executions"][0]["full_resync"]
    assert workspace.query(
        "SELECT count(*), count(DISTINCT external_id) FROM data.sales_orders"
    ) == [(before, before)]


def test_a_revoked_token_fails_with_auth_failed_and_never_shows_the_secret(
    workspace: WorkspaceBuilder, tether: Callable[..., Result], store: Any
) -> None:
    setup(workspace, store.url, token="shpat_revoked_0123456789")
    result = tether("-w", str(workspace.root), "sync", "shopify_us")
    assert result.exit_code == 1
    assert "AUTH_FAILED" in result.stdout
    listed = tether("-w", str(workspace.root), "executions", "shopify_us", "--json")
    executions = json.loads(listed.stdout)["executions"]
    assert {(e["status"], e["error_code"], e["records_fetched"]) for e in executions} == {
        ("failed", "AUTH_FAILED", 0)
    }
    for text in (result.output, listed.stdout):
        assert "shpat_revoked_0123456789" not in text
    dump = workspace.query("SELECT string_agg(error, ' ') FROM executions")[0][0]
    assert "shpat_revoked" not in dump


def test_a_sync_through_the_daemon_forks_its_fetch_worker_from_the_daemon(
    workspace: WorkspaceBuilder, tether: Callable[..., Result], store: Any, monkeypatch: Any
) -> None:
    # The daemon is a threaded process (API, scheduler, syncs): its syncs fork their fetch
    # workers from there, and must load exactly what a sync without the daemon loads.
    from daemon_support import running_daemon

    monkeypatch.setenv("TETHER_FETCH_WORKER", "process")
    setup(workspace, store.url)
    with running_daemon(workspace) as daemon:
        through_daemon = run(tether, workspace, "sync", "shopify_us")
        holder = (workspace.root / "state" / "tether.lock").read_text()
        assert '"operation": "daemon"' in holder and daemon.workspace.socket_path.exists()
        # what the service's connector imports to fetch was imported once, before any fork
        assert run(tether, workspace, "daemon", "health")["preloaded"] == ["httpx"]
        text = tether("-w", str(workspace.root), "daemon", "health").stdout
        assert "connector modules preloaded: httpx" in text
    orders, products = through_daemon["executions"]
    assert orders["status"] == "partial" and orders["records_fetched"] > 0
    loaded = workspace.query("SELECT count(*) FROM data.sales_orders")[0][0]
    assert loaded == orders["success"] + orders["partial_mapped"]
    assert workspace.query("SELECT count(*) FROM data.products")[0][0] > 0
    without_daemon = run(tether, workspace, "sync", "shopify_us", "--full")
    # a full re-sync reads every order, whatever its status (refunded ones are routed out)
    assert [e["records_fetched"] for e in without_daemon["executions"]] == [
        store.store.count,
        products["records_fetched"],
    ]
    assert workspace.query("SELECT count(*) FROM data.sales_orders")[0][0] == loaded

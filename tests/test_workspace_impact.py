"""Plan after syncs: a mapping change shows its data impact; a destroy says what history it drops;
and no credential ever lands in the state file, even after a real sync."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import WorkspaceBuilder, run_tether

from tether.sandbox import shopify as sandbox

TOKEN = "shpat_impact_TOPSECRET"


@pytest.fixture
def synced(workspace: WorkspaceBuilder) -> Iterator[WorkspaceBuilder]:
    scenario = sandbox.Scenario(
        orders=200, skus=20, access_token=TOKEN, unmapped_sku_rate=0.08,
        unknown_channel_rate=0.0, bulk_delay_ms=0,
    )  # fmt: skip
    with sandbox.serve(scenario) as server:
        workspace.integration(
            "shop", "shopify", ["sales_orders"],
            credentials={"store_url": "acme.myshopify.com", "access_token": TOKEN},
            settings={"base_url": server.url},
        )  # fmt: skip
        workspace.mappings("sku", [(f"T-{n}", f"SKU-{n:05d}", "") for n in range(20)])
        workspace.mappings("channel", [("web", "online_store", ""), ("retail", "pos", "")])
        workspace.apply()
        result = run_tether("-w", str(workspace.root), "sync", "shop", "--json")
        assert result.exit_code == 0, result.output
        yield workspace


def unmapped(ws: WorkspaceBuilder) -> list[dict[str, Any]]:
    result = run_tether("-w", str(ws.root), "errors", "shop", "--json")
    rows: list[dict[str, Any]] = json.loads(result.stdout)["unmapped_skus"]
    return rows


def test_plan_shows_what_a_mapping_fix_will_recover(synced: WorkspaceBuilder) -> None:
    missing = unmapped(synced)
    assert missing, "the sandbox store has unmapped SKUs"
    first = missing[0]
    synced.mappings("sku", [("T-NEW", first["sku"], "")])
    plan = run_tether("-w", str(synced.root), "plan")
    assert plan.exit_code == 0
    items = first["items"]
    noun = "item" if items == 1 else "items"
    assert (
        f"impact: maps 1 SKU that failed {items} {noun} in 1 execution of shop; "
        "`tether retry shop` re-maps them." in plan.stdout
    )
    doc = json.loads(run_tether("-w", str(synced.root), "plan", "--json").stdout)
    assert doc["impact"] == [
        {"kind": "sku", "integration": "shop", "keys": 1, "items": items, "executions": 1}
    ]


def test_destroy_says_how_much_history_it_drops(synced: WorkspaceBuilder) -> None:
    (synced.root / "integrations" / "shop.yaml").unlink()
    executions, items = synced.query(
        "SELECT (SELECT count(*) FROM executions), (SELECT count(*) FROM sync_items)"
    )[0]
    plan = run_tether("-w", str(synced.root), "plan")
    assert f"drops sync history: {executions} executions, {items} items" in plan.stdout
    assert run_tether("-w", str(synced.root), "apply", "--auto-approve").exit_code == 0
    assert synced.query("SELECT count(*) FROM executions") == [(0,)]
    assert synced.query("SELECT count(*) FROM data.sales_orders")[0][0] > 0, "data is kept"
    assert [r[0] for r in synced.query("SELECT action FROM audit_log ORDER BY id")][-1] == "apply"


def test_no_credential_reaches_the_state_file_after_a_sync(synced: WorkspaceBuilder) -> None:
    raw = synced.state_path.read_bytes()
    wal = synced.state_path.with_suffix(".duckdb.wal")
    if wal.exists():
        raw += wal.read_bytes()
    assert TOKEN.encode() not in raw
    status = run_tether("-w", str(synced.root), "status", "--json").stdout
    detail = run_tether(
        "-w", str(synced.root), "sql", "select * from integrations", "--format", "json"
    )
    assert TOKEN not in status and TOKEN not in detail.stdout

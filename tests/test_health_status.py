"""`tether status` and `status --json` carry the engine's health, read from the real state."""

from __future__ import annotations

import json
from typing import Any

from conftest import WorkspaceBuilder, run_tether
from daemon_support import shop_workspace


def reconfigure(ws: WorkspaceBuilder, **settings: Any) -> None:
    """Change the fake source's behaviour (its settings) and apply."""
    ws.integration("shop", "fake", ["sales_orders"], settings={"records": 10, "page_size": 5,
                   **settings})  # fmt: skip
    ws.apply()


def status(ws: WorkspaceBuilder) -> dict[str, Any]:
    result = run_tether("-w", str(ws.root), "status", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.stdout)["integrations"]}
    return dict(rows["shop"]["health"])


def test_a_failed_sync_needs_attention_and_a_green_one_clears_it(
    workspace: WorkspaceBuilder, monkeypatch: Any
) -> None:
    ws = shop_workspace(workspace, monkeypatch, fail_after_pages=0, failure="unavailable")
    assert status(ws)["ok"] is True
    run_tether("-w", str(ws.root), "sync", "shop")
    health = status(ws)
    assert health["ok"] is False and health["summary"] == "failed"
    assert [f["code"] for f in health["flags"]] == ["failed"]
    assert health["flags"][0]["message"] == (
        "sales_orders: last sync failed: CONNECTION_TIMEOUT Connection timeout: "
        "Fake did not answer after 4 attempts."
    )

    reconfigure(ws)  # the source is back
    assert run_tether("-w", str(ws.root), "sync", "shop").exit_code == 0
    assert status(ws) | {"evaluated_at": None} == {
        "ok": True, "summary": "ok", "evaluated_at": None, "flags": []
    }  # fmt: skip


def test_rejected_credentials_and_unmapped_skus_are_named(
    workspace: WorkspaceBuilder, monkeypatch: Any
) -> None:
    ws = shop_workspace(workspace, monkeypatch, fail_after_pages=0, failure="auth")
    run_tether("-w", str(ws.root), "sync", "shop")
    assert [f["code"] for f in status(ws)["flags"]] == ["auth_failed"]

    reconfigure(ws, unmapped_sku_every=2)
    run_tether("-w", str(ws.root), "sync", "shop")
    flags = status(ws)["flags"]
    assert [f["code"] for f in flags] == ["unmapped"]
    assert flags[0]["keys"] == ["SKU:UNMAPPED-001"]
    assert flags[0]["message"] == "sales_orders: 1 unmapped SKU (5 items)"
    text = run_tether("-w", str(ws.root), "status").stdout
    assert "⚠ unmapped" in text
    assert "shop: sales_orders: 1 unmapped SKU (5 items)" in text

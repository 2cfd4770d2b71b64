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
    assert status(ws) == {"ok": True, "summary": "ok", "flags": []}


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


def test_overdue_is_raised_by_the_timer_pass_and_routed_as_flag_raised(
    workspace: WorkspaceBuilder, monkeypatch: Any
) -> None:
    from datetime import timedelta

    from tether.config.alerts import AlertsConfig, Route
    from tether.engine.alerts import alerts_for, routed
    from tether.engine.health import HealthBook
    from tether.state.db import connect

    ws = shop_workspace(workspace, monkeypatch)  # daily at midnight UTC, never synced
    created = ws.query("SELECT created_at FROM integrations")[0][0]
    clock = [created + timedelta(hours=1)]
    book = HealthBook(clock=lambda: clock[0])
    con = connect(ws.state_path, read_only=False)
    try:
        assert [c.raised for c in book.evaluate(con, trigger="start")] == [()]
        clock[0] = created + timedelta(days=2)  # two midnights passed without a sync
        changes = book.tick(con)
    finally:
        con.close()
    assert [f.code for c in changes for f in c.raised] == ["overdue"]
    route = Route("ops", ("flag_raised",), ("shop",), ("hook",), 3)
    config = AlertsConfig("alerts.yaml", "secrets/alerts.sops.yaml", None, {"ops": route})
    [alert] = alerts_for(changes[0])
    assert (alert.event, alert.title) == ("flag_raised", "shop: overdue")
    assert routed(alert, config.routes.values()) == [route]


def test_a_verify_mismatch_is_read_from_v_verify_latest_when_it_exists(
    workspace: WorkspaceBuilder, monkeypatch: Any
) -> None:
    """Two `tether verify` results, as migration 005's table holds them: the newest counts."""
    import duckdb

    ws = shop_workspace(workspace, monkeypatch)
    assert run_tether("-w", str(ws.root), "sync", "shop").exit_code == 0
    con = duckdb.connect(str(ws.state_path))
    try:
        con.execute(
            "INSERT INTO verify_runs (check_id, integration_id, domain_type, status, message, "
            "checked_at) VALUES (1, 'shop', 'sales_orders', 'match', NULL, now()), "
            "(2, 'shop', 'sales_orders', 'missing', 'source 12, state 10 (2 missing)', now())"
        )
    finally:
        con.close()
    flags = status(ws)["flags"]
    assert [(f["code"], f["message"]) for f in flags] == [
        ("verify_mismatch", "sales_orders: source 12, state 10 (2 missing)")
    ]

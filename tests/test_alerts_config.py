"""alerts.yaml: validated with path:line:col, shown by plan, applied; and the health book's
incremental evaluation agrees with a full one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conftest import WorkspaceBuilder, run_tether, write_yaml
from daemon_support import shop_workspace

from tether.engine.health import HealthBook, read_health
from tether.state.db import connect


def test_every_problem_in_alerts_yaml_is_reported_with_its_position(
    workspace: WorkspaceBuilder, monkeypatch: Any
) -> None:
    ws = shop_workspace(workspace, monkeypatch)
    ws.credentials("alerts", {"ops_hook": "json://127.0.0.1:9/x"})
    (ws.root / "alerts.yaml").write_text(
        "routes:\n"
        "  ops:\n"
        "    events: [execution_failed, sync_recoverd]\n"
        "    integrations: [shopp, 'shop*']\n"
        "    to: [ops_hok]\n"
        "    escalate: 3\n"
    )
    result = run_tether("-w", str(ws.root), "validate")
    assert result.exit_code == 1
    assert "alerts.yaml:6:5: routes.ops.escalate: Extra inputs are not permitted" in result.stderr
    assert "Did you mean 'escalate_after'?" in result.stderr

    (ws.root / "alerts.yaml").write_text(
        "routes:\n"
        "  ops:\n"
        "    events: [execution_failed, sync_recoverd]\n"
        "    integrations: [shopp, 'shop*']\n"
        "    to: [ops_hok]\n"
    )
    err = run_tether("-w", str(ws.root), "plan").stderr
    assert "alerts.yaml:3:32: unknown event 'sync_recoverd'" in err
    assert "Did you mean 'sync_recovered'?" in err
    assert "alerts.yaml:4:20: unknown integration 'shopp'" in err
    assert "alerts.yaml:5:10: destination 'ops_hok' is not in secrets/alerts.sops.yaml" in err
    assert "Did you mean 'ops_hook'?" in err


def test_destinations_must_be_sops_encrypted(workspace: WorkspaceBuilder, monkeypatch: Any) -> None:
    ws = shop_workspace(workspace, monkeypatch)
    write_yaml(ws.root / "secrets" / "alerts.sops.yaml", {"ops_hook": "slack://a/b/c"})
    (ws.root / "alerts.yaml").write_text("routes:\n  ops:\n    to: [ops_hook]\n")
    result = run_tether("-w", str(ws.root), "validate")
    assert result.exit_code == 1
    assert (
        "alerts.yaml:1:1: secrets/alerts.sops.yaml is not SOPS-encrypted: destination URLs "
        "hold tokens"
    ) in result.stderr
    assert "slack://a/b/c" not in result.output


def test_plan_shows_routes_and_apply_makes_them_current(
    workspace: WorkspaceBuilder, monkeypatch: Any
) -> None:
    ws = shop_workspace(workspace, monkeypatch)
    ws.credentials("alerts", {"ops_hook": "json://127.0.0.1:9/hook-token-123456"})
    (ws.root / "alerts.yaml").write_text(
        "routes:\n  ops:\n    events: [execution_failed]\n    to: [ops_hook]\n"
    )
    plan = run_tether("-w", str(ws.root), "plan", "--detailed-exitcode")
    assert plan.exit_code == 2
    assert '  + alert_route "ops"' in plan.stdout
    assert "      events       = execution_failed" in plan.stdout
    assert "Alert routes: 1 to add, 0 to change, 0 to remove." in plan.stdout
    ws.apply()
    assert run_tether("-w", str(ws.root), "plan", "--detailed-exitcode").exit_code == 0
    listed = run_tether("-w", str(ws.root), "alerts").stdout
    assert "route ops: execution_failed for * → ops_hook (escalate after 3)" in listed

    (ws.root / "alerts.yaml").unlink()
    plan = run_tether("-w", str(ws.root), "plan")
    assert '  - alert_route "ops"' in plan.stdout
    assert "hook-token-123456" not in plan.output


def test_incremental_evaluation_agrees_with_a_full_one(
    workspace: WorkspaceBuilder, monkeypatch: Any
) -> None:
    ws = shop_workspace(workspace, monkeypatch)
    clock = [datetime(2030, 1, 1, tzinfo=UTC)]
    book = HealthBook(clock=lambda: clock[0])
    steps: list[dict[str, Any]] = [
        {},
        {"fail_after_pages": 0, "failure": "unavailable"},
        {"fail_after_pages": 0, "failure": "unavailable"},
        {"unmapped_sku_every": 2},
        {"fail_after_pages": 0, "failure": "auth"},
        {},  # healthy, but the SKU is still unmapped: the retried items still fail
        {"map": True},  # mapped: the retry loads them
    ]
    seen = []
    for n, settings in enumerate(steps):
        if settings.pop("map", False):
            ws.mappings("sku", [("SKU-00001", "UNMAPPED-001", "")])
        more = {"records": 10 * (n + 1), "page_size": 5}  # new records every run
        ws.integration("shop", "fake", ["sales_orders"], settings={**more, **settings})
        ws.apply()
        run_tether("-w", str(ws.root), "sync", "shop")
        con = connect(ws.state_path, read_only=False)
        try:
            # Evaluated just after the sync (the schedule is daily: never overdue then).
            found = con.execute("SELECT max(finished_at) FROM executions").fetchone()
            assert found is not None
            clock[0] = found[0]
            book.evaluate(con, ["shop"])
            full = read_health(con, clock[0], ["shop"])["shop"]
        finally:
            con.close()
        mine = book.get("shop")
        assert mine is not None and mine.flags == full.flags
        seen.append([f.code for f in full.flags])
    assert seen == [[], ["failed"], ["failed"], ["unmapped"], ["auth_failed", "unmapped"],
                    ["unmapped"], []]  # fmt: skip

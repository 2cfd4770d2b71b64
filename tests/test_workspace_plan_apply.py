"""plan/apply end to end through the CLI: the Terraform-grade contract."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import WorkspaceBuilder, run_tether

SHOPIFY_CREDS = {"store_url": "acme.myshopify.com", "access_token": "shpat_TOPSECRET_123"}


def shopify(ws: WorkspaceBuilder, iid: str = "shop", **fields: object) -> Path:
    return ws.integration(
        iid, "shopify", ["sales_orders", "products"], credentials=SHOPIFY_CREDS, **fields
    )


def test_first_plan_shows_creates_and_summary(workspace: WorkspaceBuilder) -> None:
    shopify(workspace, schedule={"cron": "0 0 */6 * * *", "timezone": "America/New_York"})
    workspace.mappings("sku", [("HAT", "SKU-1", ""), ("CAP", "SKU-2", "shop")])
    result = run_tether("-w", str(workspace.root), "plan")
    assert result.exit_code == 0, result.output
    assert '+ integration "shop"' in result.stdout
    assert "next syncs (America/New_York)" in result.stdout
    assert "credentials" in result.stdout and "(sensitive value)" in result.stdout
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in result.stdout
    assert "Mappings: 2 to add, 0 to change, 0 to remove." in result.stdout
    assert not workspace.state_path.exists(), "plan must not write state"


def test_apply_then_no_changes_and_detailed_exitcode(workspace: WorkspaceBuilder) -> None:
    shopify(workspace)
    root = str(workspace.root)
    assert run_tether("-w", root, "plan", "--detailed-exitcode").exit_code == 2
    workspace.apply()
    assert workspace.query("SELECT id, service FROM integrations") == [("shop", "shopify")]
    assert workspace.query("SELECT value FROM meta WHERE key = 'serial'") == [("1",)]
    again = run_tether("-w", root, "plan", "--detailed-exitcode")
    assert again.exit_code == 0
    assert "No changes." in again.stdout
    actions = workspace.query("SELECT action, actor FROM audit_log")
    assert [a[0] for a in actions] == ["apply"]


def test_attribute_diff_and_schedule_fire_times(workspace: WorkspaceBuilder) -> None:
    path = shopify(workspace)
    workspace.apply()
    path.write_text(
        path.read_text().replace("name: shop", "name: Shop US")
        + "schedule:\n  cron: '0 15 9 * * *'\n  timezone: Europe/London\n"
    )
    result = run_tether("-w", str(workspace.root), "plan")
    assert '~ integration "shop"' in result.stdout
    assert '~ name     = "shop" -> "Shop US"' in result.stdout
    assert '"0 0 0 * * *" -> "0 15 9 * * *"' in result.stdout
    assert "next syncs (Europe/London)" in result.stdout
    assert result.stdout.count("09:15:00") == 3
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in result.stdout


def test_mapping_rows_are_diffed_by_key(workspace: WorkspaceBuilder) -> None:
    shopify(workspace)
    rows = [(f"T{n}", f"SKU-{n}", "") for n in range(20_000)]
    workspace.mappings("sku", rows)
    workspace.apply()
    csv = workspace.root / "mappings" / "skus.csv"
    text = csv.read_text().replace("T5,SKU-5,\n", "T5-NEW,SKU-5,\n").replace("T7,SKU-7,\n", "")
    csv.write_text(text + "EXTRA,SKU-NEW,shop\n")
    result = run_tether("-w", str(workspace.root), "plan", "--json")
    doc = json.loads(result.stdout)
    assert [(m["action"], m["external_id"]) for m in doc["mappings"]] == [
        ("change", "SKU-5"),
        ("remove", "SKU-7"),
        ("add", "SKU-NEW"),
    ]
    assert doc["summary"]["mappings_change"] == 1
    text_plan = run_tether("-w", str(workspace.root), "plan").stdout
    assert "~ sku 'SKU-5' (all integrations): 'T5' -> 'T5-NEW'" in text_plan
    assert "Mappings: 1 to add, 1 to change, 1 to remove." in text_plan


def test_credentials_change_is_sensitive_and_never_shown(workspace: WorkspaceBuilder) -> None:
    shopify(workspace)
    workspace.apply()
    workspace.credentials("shop", {**SHOPIFY_CREDS, "access_token": "shpat_NEWSECRET_456"})
    root = str(workspace.root)
    plan = run_tether("-w", root, "plan", "-out", str(workspace.root / "p.out"))
    assert "~ credentials = (sensitive value changed)" in plan.stdout
    as_json = run_tether("-w", root, "plan", "--json").stdout
    md = run_tether("-w", root, "plan", "--format", "markdown").stdout
    assert run_tether("-w", root, "apply", str(workspace.root / "p.out")).exit_code == 0
    saved = (workspace.root / "p.out").read_text()
    state_bytes = workspace.state_path.read_bytes()
    for secret in ("TOPSECRET", "NEWSECRET"):
        for text in (plan.output, as_json, md, saved):
            assert secret not in text
        assert secret.encode() not in state_bytes


def test_destroy_reports_history(workspace: WorkspaceBuilder) -> None:
    path = shopify(workspace)
    workspace.apply()
    path.unlink()
    result = run_tether("-w", str(workspace.root), "plan")
    assert '- integration "shop"' in result.stdout
    assert "no sync history to drop" in result.stdout
    assert "Plan: 0 to add, 0 to change, 1 to destroy." in result.stdout


def test_service_change_is_a_replace(workspace: WorkspaceBuilder) -> None:
    shopify(workspace)
    workspace.apply()
    workspace.integration(
        "shop",
        "trackstar",
        ["warehouse_inventory"],
        credentials={"api_key": "k", "access_token": "t"},
    )
    result = run_tether("-w", str(workspace.root), "plan")
    assert '-/+ integration "shop"' in result.stdout
    assert "Plan: 1 to add, 0 to change, 1 to destroy." in result.stdout


def test_stale_saved_plan_is_refused(workspace: WorkspaceBuilder) -> None:
    path = shopify(workspace)
    root = str(workspace.root)
    old = workspace.root / "old.out"
    assert run_tether("-w", root, "plan", "-out", str(old)).exit_code == 0
    # The files change after the plan was reviewed.
    path.write_text(path.read_text().replace("name: shop", "name: other"))
    refused = run_tether("-w", root, "apply", str(old))
    assert refused.exit_code == 1
    assert "Saved plan is stale: the workspace files changed" in refused.stderr
    assert not workspace.state_path.exists() or workspace.query(
        "SELECT count(*) FROM integrations"
    ) == [(0,)]
    # A plan made before another apply is stale by serial.
    fresh = workspace.root / "fresh.out"
    run_tether("-w", root, "plan", "-out", str(fresh))
    second = workspace.root / "second.out"
    run_tether("-w", root, "plan", "-out", str(second))
    assert run_tether("-w", root, "apply", str(fresh)).exit_code == 0
    stale = run_tether("-w", root, "apply", str(second))
    assert stale.exit_code == 1
    assert "made at serial 0, but the state is at serial 1" in stale.stderr


def test_apply_without_plan_needs_yes_or_auto_approve(workspace: WorkspaceBuilder) -> None:
    shopify(workspace)
    root = str(workspace.root)
    refused = run_tether("-w", root, "apply")
    assert refused.exit_code == 1
    assert "stdin is not a terminal" in refused.stderr
    assert not workspace.state_path.exists() or workspace.query(
        "SELECT count(*) FROM integrations"
    ) == [(0,)]


def test_markdown_plan_goes_to_step_summary(workspace: WorkspaceBuilder, tmp_path: Path) -> None:
    shopify(workspace)
    summary = tmp_path / "summary.md"
    result = run_tether(
        "-w", str(workspace.root), "plan", "--format", "markdown",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert result.stdout.startswith("### Tether plan")
    assert "**Plan:** 1 to add, 0 to change, 0 to destroy" in result.stdout
    assert summary.read_text() == result.stdout


def test_plan_reports_pause_as_outside_change(workspace: WorkspaceBuilder) -> None:
    shopify(workspace)
    workspace.apply()
    import duckdb

    con = duckdb.connect(str(workspace.state_path))
    con.execute(
        "UPDATE integrations SET paused = true, paused_reason = 'vendor outage', paused_by = 'ops'"
    )
    con.close()
    result = run_tether("-w", str(workspace.root), "plan")
    assert 'integration "shop" is paused outside the files (by ops: vendor outage)' in result.stdout
    assert "tether resume shop" in result.stdout
    assert "No changes." in result.stdout

"""Locks, unlock, status, sql, services and init — as a user meets them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import WorkspaceBuilder, run_tether

CREDS = {"store_url": "acme.myshopify.com", "access_token": "shpat_x"}


def hold_lock(ws: WorkspaceBuilder, operation: str) -> subprocess.Popen[bytes]:
    """Another process holding the state lock, as a long apply or sync would."""
    code = (
        "import sys, time; from pathlib import Path; from tether.state.db import StateLock;"
        f"lock = StateLock(Path({str(ws.state_path)!r}), {operation!r}); lock.acquire();"
        "print('held', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"held"
    return proc


def test_second_apply_fails_naming_the_holder(workspace: WorkspaceBuilder) -> None:
    workspace.integration("shop", "shopify", ["sales_orders"], credentials=CREDS)
    holder = hold_lock(workspace, "apply")
    try:
        result = run_tether("-w", str(workspace.root), "apply", "--auto-approve")
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert f"State is locked by pid {holder.pid}" in result.stderr
    assert "operation 'apply'" in result.stderr
    assert "since 20" in result.stderr


def test_a_state_file_held_by_another_program_names_its_pid_and_command(
    workspace: WorkspaceBuilder,
) -> None:
    workspace.integration("shop", "shopify", ["sales_orders"], credentials=CREDS)
    workspace.apply()
    # An analyst's DuckDB session on the live file (not Tether: no lock record of its own).
    code = (
        "import duckdb, time; con = duckdb.connect(" + repr(str(workspace.state_path)) + ");"
        "print('open', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, "analyst-session"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"open"
        result = run_tether("-w", str(workspace.root), "status")
    finally:
        proc.kill()
        proc.wait()
    assert result.exit_code == 1
    assert f"is in use by pid {proc.pid}" in result.stderr
    assert "analyst-session" in result.stderr, "the holder's command line is named"
    assert "another process" not in result.stderr


def test_unlock_clears_a_dead_holder_only(workspace: WorkspaceBuilder) -> None:
    workspace.integration("shop", "shopify", ["sales_orders"], credentials=CREDS)
    workspace.apply()
    holder = hold_lock(workspace, "apply")
    alive = run_tether("-w", str(workspace.root), "unlock")
    assert alive.exit_code == 1
    assert "still running" in alive.stderr
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    blocked = run_tether("-w", str(workspace.root), "plan")
    assert blocked.exit_code == 0, "reads are not blocked by a dead holder"
    workspace.mappings("sku", [("HAT", "SKU-1", "")])
    refused = run_tether("-w", str(workspace.root), "apply", "--auto-approve")
    assert refused.exit_code == 1
    assert "dead holder" in refused.stderr and "tether unlock" in refused.stderr
    cleared = run_tether("-w", str(workspace.root), "unlock")
    assert cleared.exit_code == 0
    assert f"Cleared the lock held by pid {holder.pid}" in cleared.stdout
    assert workspace.query("SELECT action FROM audit_log ORDER BY id")[-1] == ("unlock",)


def test_status_lists_applied_integrations(workspace: WorkspaceBuilder) -> None:
    workspace.integration(
        "shop", "shopify", ["sales_orders", "products"], credentials=CREDS,
        schedule={"cron": "0 0 */6 * * *", "timezone": "America/New_York"},
    )  # fmt: skip
    workspace.integration(
        "wms", "trackstar", ["warehouse_inventory"],
        credentials={"api_key": "k", "access_token": "t"}, enabled=False, dry_run=True,
    )  # fmt: skip
    workspace.apply()
    result = run_tether("-w", str(workspace.root), "status", "--json")
    doc = json.loads(result.stdout)
    rows = {r["id"]: r for r in doc["integrations"]}
    assert doc["serial"] == 1
    assert rows["shop"]["capabilities"] == ["sales_orders", "products"]
    assert rows["shop"]["next_sync"] is not None
    assert rows["shop"]["last_sync"] is None
    assert rows["wms"]["enabled"] is False and rows["wms"]["next_sync"] is None
    table = run_tether("-w", str(workspace.root), "status")
    assert table.exit_code == 0
    assert "shop" in table.stdout and "disabled" in table.stdout and "never" in table.stdout


def test_sql_reads_and_refuses_writes(workspace: WorkspaceBuilder) -> None:
    workspace.integration("shop", "shopify", ["sales_orders"], credentials=CREDS)
    workspace.apply()
    root = str(workspace.root)
    csv = run_tether("-w", root, "sql", "select id, service from integrations", "--format", "csv")
    assert csv.stdout.splitlines() == ["id,service", "shop,shopify"]
    js = run_tether(
        "-w", root, "sql", "select count(*) as n from data.sales_orders", "--format", "json"
    )
    assert json.loads(js.stdout) == [{"n": 0}]
    for statement in ("delete from integrations", "drop table mappings",
                      "select 1; update meta set value = '9'", "attach 'x.db'", "copy integrations to 'x.csv'"):  # fmt: skip
        refused = run_tether("-w", root, "sql", statement)
        assert refused.exit_code == 1, statement
        assert "read-only" in refused.stderr
    assert workspace.query("SELECT count(*) FROM integrations") == [(1,)]
    bad = run_tether("-w", root, "sql", "selec 1")
    assert bad.exit_code == 1 and "SQL error" in bad.stderr


def test_services_lists_capabilities_and_credential_fields() -> None:
    result = run_tether("services", "--json")
    assert result.exit_code == 0
    services = {s["name"]: s for s in json.loads(result.stdout)["services"]}
    assert {"shopify", "bigquery", "redshift", "trackstar", "brewman"} <= set(services)
    shopify = services["shopify"]
    assert [c["name"] for c in shopify["capabilities"]][:2] == ["sales_orders", "pending_sales"]
    token = next(f for f in shopify["credential_fields"] if f["name"] == "access_token")
    assert token["secret"] is True and token["required"] is True
    assert token["label"] == "Admin API Access Token"
    text = run_tether("services").stdout
    assert "Warehouse Inventory" in text and "service_account_json" in text


def test_init_scaffolds_a_valid_workspace(tmp_path: Path) -> None:
    target = tmp_path / "acme"
    result = run_tether("init", str(target))
    assert result.exit_code == 0
    next_steps = result.stdout.split("Next, inside it:")[1].split()
    assert " ".join(next_steps) == "1. tether secrets keygen 2. tether add shopify 3. tether apply"
    assert (target / "mappings" / "skus.csv").read_text() == "sku,external_id,integration\n"
    assert "state/*" in (target / ".gitignore").read_text()
    assert (target / ".sops.yaml").exists()
    valid = run_tether("-w", str(target), "validate")
    assert valid.exit_code == 0, valid.output
    again = run_tether("init", str(target))
    assert again.exit_code == 1 and "already exists" in again.stderr


@pytest.mark.timeout(30)
def test_help_is_fast_and_lists_commands() -> None:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "tether", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    del started  # speed is measured in benchmarks/, not here
    for command in ("plan", "apply", "validate", "status", "sql", "unlock", "services", "init"):
        assert command in proc.stdout


def test_without_a_daemon_an_unlisted_user_who_can_write_the_state_applies(
    workspace: WorkspaceBuilder,
) -> None:
    toml = workspace.root / "tether.toml"
    toml.write_text(toml.read_text().split("[access]")[0] + "[access]\nadmins = []\n")
    workspace.integration("shop", "shopify", ["sales_orders"], credentials=CREDS)
    result = run_tether("-w", str(workspace.root), "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert workspace.query("SELECT count(*) FROM integrations") == [(1,)]

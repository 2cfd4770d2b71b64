"""`make demo` as a new user runs it: every service of the demo workspace syncs against its sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from conftest import run_tether

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE_FILES = (
    "tether.toml", ".sops.yaml", "alerts.yaml", "integrations", "mappings", "secrets", "specs", "demo"
)  # fmt: skip


def test_the_demo_syncs_every_service_of_the_demo_workspace(tmp_path: Path) -> None:
    for name in WORKSPACE_FILES:
        source = ROOT / name
        target = tmp_path / name
        if not source.exists():
            continue
        shutil.copytree(source, target) if source.is_dir() else shutil.copy(source, target)

    result = run_tether("-w", str(tmp_path), "demo")

    assert result.exit_code == 0, result.output
    with duckdb.connect(str(tmp_path / "state" / "tether.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT i.service, e.status, e.records_fetched, e.error FROM executions e "
            "JOIN integrations i ON i.id = e.integration_id"
        ).fetchall()
    synced = {service for service, status, fetched, _ in rows if status != "failed" and fetched > 0}
    demo_services = {
        line.split(":", 1)[1].strip()
        for path in (tmp_path / "integrations").glob("*.yaml")
        for line in path.read_text().splitlines()
        if line.startswith("service:")
    }
    assert {"shopify", "bigquery", "redshift", "trackstar", "brewman"} <= demo_services
    assert synced == demo_services, f"not synced: {demo_services - synced}; {rows}"
    assert "redshift" in result.stdout

"""The parse-and-check cache behind a fast `tether plan`: a cached plan is the uncached plan, and
a changed byte anywhere it depends on is seen."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from conftest import WorkspaceBuilder, run_tether

from tether.config import integration as integration_checks
from tether.config import workspace as workspace_loader
from tether.config.secrets import encrypt_file

CREDS = {"store_url": "acme.myshopify.com", "access_token": "shpat_x"}
FROZEN = datetime(2030, 5, 6, 7, 8, tzinfo=UTC)  # plan shows next fire times: hold the clock


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many integration files and mapping sets were really checked (not read from cache)."""
    counts = {"integrations": 0, "mappings": 0}
    check, mappings = (
        integration_checks.IntegrationChecker.check,
        workspace_loader._check_mapping_files,
    )

    def counted_check(self: Any) -> Any:
        counts["integrations"] += 1
        return check(self)

    def counted_mappings(*args: Any) -> Any:
        counts["mappings"] += 1
        return mappings(*args)

    monkeypatch.setattr(integration_checks.IntegrationChecker, "check", counted_check)
    monkeypatch.setattr(workspace_loader, "_check_mapping_files", counted_mappings)
    return counts


def build(ws: WorkspaceBuilder) -> None:
    for n in range(6):
        ws.integration(
            f"shop_{n}", "shopify", ["sales_orders"], credentials=CREDS,
            schedule={"cron": f"0 {n} * * * *", "timezone": "Europe/Berlin"},
            settings={"history_days": 30 + n},
        )  # fmt: skip
    ws.mappings("sku", [(f"ACME-{n}", f"SKU-{n}", "") for n in range(50)])
    ws.mappings("sku", [("ACME-SPECIAL", "SKU-7", "shop_2")])
    ws.mappings("channel", [("web", "online_store", "")])


def plan(ws: WorkspaceBuilder, **env: str) -> tuple[int, Any]:
    with time_machine.travel(FROZEN, tick=False):
        result = run_tether("-w", str(ws.root), "plan", "--json", env=env)
    return result.exit_code, json.loads(result.stdout) if result.exit_code == 0 else result.stderr


def test_a_cached_plan_equals_an_uncached_one(
    workspace: WorkspaceBuilder, checks: dict[str, int]
) -> None:
    build(workspace)
    first = plan(workspace)
    assert checks == {"integrations": 6, "mappings": 1}
    cached = plan(workspace)
    assert checks == {"integrations": 6, "mappings": 1}, (
        "the second plan read every check from cache"
    )
    uncached = plan(workspace, TETHER_NO_CACHE="1")
    assert checks == {"integrations": 12, "mappings": 2}
    assert first[0] == 0 and first == cached == uncached
    assert first[1]["has_changes"]

    workspace.apply()
    noop = plan(workspace)
    assert noop[0] == 0 and not noop[1]["has_changes"]
    assert noop == plan(workspace, TETHER_NO_CACHE="1")


def test_a_changed_integration_file_is_checked_again(
    workspace: WorkspaceBuilder, checks: dict[str, int]
) -> None:
    build(workspace)
    plan(workspace)
    path = workspace.root / "integrations" / "shop_3.yaml"
    path.write_text(path.read_text().replace("0 3 * * * *", "0 3 * * *"))

    code, error = plan(workspace)

    assert code == 1
    assert "integrations/shop_3.yaml:" in error and "has 5 fields" in error
    assert checks["integrations"] == 7, "only the edited file is checked again"
    assert (code, error) == plan(workspace), "the problem is cached too, and reported the same"


def test_a_changed_credentials_file_is_seen_though_the_integration_file_is_not(
    workspace: WorkspaceBuilder, checks: dict[str, int]
) -> None:
    build(workspace)
    assert plan(workspace)[0] == 0
    secret = workspace.root / "secrets" / "shop_1.sops.yaml"
    secret.write_text("store_url: acme.myshopify.com\n")  # re-encrypted without the token
    encrypt_file(secret, workspace.key.recipient)

    code, error = plan(workspace)

    assert code == 1
    assert "lacks required field 'access_token'" in error and "shop_1.yaml" in error


def test_a_changed_mapping_byte_is_seen(
    workspace: WorkspaceBuilder, checks: dict[str, int]
) -> None:
    build(workspace)
    workspace.apply()
    assert not plan(workspace)[1]["has_changes"]
    skus = workspace.root / "mappings" / "skus.csv"
    skus.write_text(skus.read_text().replace("ACME-17,SKU-17,", "ACME-71,SKU-17,"))

    changed = plan(workspace)[1]

    assert [(m["external_id"], m["before"], m["after"]) for m in changed["mappings"]] == [
        ("SKU-17", "ACME-17", "ACME-71")
    ]
    workspace.mappings("sku", [("ACME-OTHER", "SKU-3", "")])
    code, error = plan(workspace)
    assert code == 1 and "mapped to two targets" in error


def test_a_mapping_row_naming_a_removed_integration_is_reported(
    workspace: WorkspaceBuilder, checks: dict[str, int]
) -> None:
    build(workspace)
    assert plan(workspace)[0] == 0
    (workspace.root / "integrations" / "shop_2.yaml").unlink()
    (workspace.root / "secrets" / "shop_2.sops.yaml").unlink()

    code, error = plan(workspace)

    assert code == 1 and "shop_2" in error and "skus.csv" in error


def test_a_corrupt_cache_is_ignored(workspace: WorkspaceBuilder, checks: dict[str, int]) -> None:
    build(workspace)
    good = plan(workspace)
    for path in (workspace.root / "state" / "cache").iterdir():
        path.write_bytes(b"\x00 not json")
    assert plan(workspace) == good


def test_a_damaged_cached_rows_file_is_rebuilt(
    workspace: WorkspaceBuilder, checks: dict[str, int]
) -> None:
    build(workspace)
    good = plan(workspace)
    (parquet,) = (workspace.root / "state" / "cache").glob("*.parquet")
    parquet.write_bytes(parquet.read_bytes()[:-20])
    assert plan(workspace) == good
    assert checks["mappings"] == 2
    assert plan(workspace) == good
    assert checks["mappings"] == 2, "the rebuilt file is used again"


def test_a_plan_through_the_daemon_uses_the_cache_too(
    workspace: WorkspaceBuilder, checks: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's connection refuses DuckDB file reads (docs/security.md), so the cached rows
    reach the diff through Python there; the plan is the same as without the daemon."""
    from daemon_support import running_daemon

    build(workspace)
    workspace.apply()
    workspace.mappings("sku", [("ACME-NEW", "SKU-NEW", "")])
    local = plan(workspace)
    checked = dict(checks)
    monkeypatch.delenv("TETHER_NO_DAEMON", raising=False)
    with running_daemon(workspace):
        through_daemon = plan(workspace)
    assert through_daemon == local
    assert [m["external_id"] for m in local[1]["mappings"]] == ["SKU-NEW"]
    assert checks == checked, "the daemon checked nothing again: it read the cache"

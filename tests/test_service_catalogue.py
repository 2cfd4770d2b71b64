"""The service catalogue is cached beside the checks, so a cached plan loads no connector."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import WorkspaceBuilder

import tether.connectors.shopify
from tether.engine import services as catalogue

CREDS = {"store_url": "acme.myshopify.com", "access_token": "shpat_x"}

PLAN_AND_LIST_CONNECTORS = """
import sys
from tether.cli import main
try:
    main(["plan", "--json"])
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.startswith("tether.connectors."))
print("LOADED " + ",".join(loaded), file=sys.stderr)
"""


def plan_in_a_fresh_process(root: Path, **env: str) -> tuple[dict[str, object], list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PLAN_AND_LIST_CONNECTORS],
        cwd=root,
        capture_output=True,
        text=True,
        env=os.environ | {"TETHER_NO_DAEMON": "1"} | env,
        check=False,
    )
    loaded = proc.stderr.rsplit("LOADED ", 1)[1].strip()
    plan = json.loads(proc.stdout)
    del plan["created_at"]  # when it was made: the one thing two plans of the same files differ in
    return plan, [m for m in loaded.split(",") if m]


def test_a_cached_plan_loads_no_connector_and_plans_the_same(workspace: WorkspaceBuilder) -> None:
    workspace.integration("shop", "shopify", ["sales_orders"], credentials=CREDS)
    workspace.apply()  # the plans below are no-ops: nothing in them depends on the clock
    (workspace.root / "state" / "cache" / catalogue.FILE_NAME).unlink()
    first, loaded_first = plan_in_a_fresh_process(workspace.root)
    assert first["has_changes"] is False
    assert "tether.connectors.shopify" in loaded_first, "the first plan builds the catalogue"

    second, loaded_second = plan_in_a_fresh_process(workspace.root)

    assert loaded_second == ["tether.connectors.registry"]
    assert second == first
    uncached, loaded = plan_in_a_fresh_process(workspace.root, TETHER_NO_CACHE="1")
    assert uncached == first and "tether.connectors.shopify" in loaded


def test_a_file_checked_afresh_loads_its_settings_model_on_demand(
    workspace: WorkspaceBuilder,
) -> None:
    workspace.integration("shop", "shopify", ["sales_orders"], credentials=CREDS)
    plan_in_a_fresh_process(workspace.root)
    path = workspace.root / "integrations" / "shop.yaml"
    path.write_text(path.read_text() + "settings:\n  history_dayz: 3\n")

    proc = subprocess.run(
        [sys.executable, "-m", "tether", "plan"],
        cwd=workspace.root,
        capture_output=True,
        text=True,
        env=os.environ | {"TETHER_NO_DAEMON": "1"},
        check=False,
    )

    assert proc.returncode == 1
    assert "integrations/shop.yaml:" in proc.stderr and "history_dayz" in proc.stderr


def test_the_catalogue_is_rebuilt_when_a_connector_source_changes(tmp_path: Path) -> None:
    built = catalogue.service_infos(tmp_path)
    cache = tmp_path / catalogue.FILE_NAME
    stamp = json.loads(cache.read_bytes())["stamp"]
    source = Path(tether.connectors.shopify.__file__)
    before = source.stat()
    try:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        assert catalogue._stamp() != stamp
        rebuilt = catalogue.service_infos(tmp_path)
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert json.loads(cache.read_bytes())["stamp"] != stamp
    assert rebuilt == built


@pytest.mark.parametrize("damage", [b"{not json", b'{"stamp": 1}', b"[]"])
def test_a_damaged_catalogue_is_rebuilt(tmp_path: Path, damage: bytes) -> None:
    built = catalogue.service_infos(tmp_path)
    cache = tmp_path / catalogue.FILE_NAME
    cache.write_bytes(damage)

    assert catalogue.service_infos(tmp_path) == built
    assert json.loads(cache.read_bytes())["stamp"] == catalogue._stamp()


def test_a_cached_entry_gives_the_real_settings_model(tmp_path: Path) -> None:
    catalogue.service_infos(tmp_path)
    cached = catalogue.service_infos(tmp_path)["shopify"]
    model = tether.connectors.shopify.ShopifyConnector.spec.settings_model
    assert cached.settings_model is model
    assert cached.settings_schema == model.model_json_schema()

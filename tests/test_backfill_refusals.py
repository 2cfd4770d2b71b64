"""What `tether sync --since` and `tether verify` refuse, and say, before anything runs: a
connector that cannot re-read a window, --full with a window, a capability the integration
does not sync, and a connector that cannot count."""

from __future__ import annotations

import json
from typing import Any

from sync_support import MAPPED_CHANNELS, MAPPED_SKUS, register_fake


def _shop(workspace: Any, monkeypatch: Any) -> str:
    register_fake(monkeypatch)
    workspace.mappings("sku", MAPPED_SKUS)
    workspace.mappings("channel", MAPPED_CHANNELS)
    workspace.integration("shop", "fake", ["sales_orders"], settings={"records": 4})
    workspace.apply()
    return str(workspace.root)


def test_a_backfill_of_a_connector_without_windows_is_refused_with_what_to_do(
    workspace: Any, tether: Any, monkeypatch: Any
) -> None:
    root = _shop(workspace, monkeypatch)
    result = tether("-w", root, "sync", "shop", "--since", "2026-01-01")
    assert result.exit_code == 1
    assert "Fake cannot re-fetch a window" in result.stderr
    assert "tether sync shop --full" in result.stderr
    both = tether("-w", root, "sync", "shop", "--since", "2026-01-01", "--full")
    assert both.exit_code == 1
    assert "choose one" in both.stderr
    assert workspace.query("select count(*) from runs") == [(0,)]


def test_verify_of_a_connector_that_cannot_count_says_so_and_exits_0(
    workspace: Any, tether: Any, monkeypatch: Any
) -> None:
    root = _shop(workspace, monkeypatch)
    assert tether("-w", root, "sync", "shop").exit_code == 0
    result = tether("-w", root, "verify", "shop", "--json")
    assert result.exit_code == 0, result.output
    (check,) = json.loads(result.stdout)["capabilities"]
    assert check["status"] == "not_countable"
    assert check["source"] is None and check["state"] is None
    other = tether("-w", root, "verify", "shop", "-c", "products")
    assert other.exit_code == 1
    assert "does not sync products" in other.stderr

"""Unchanged records are `skipped`: a second sync does not rewrite what it already loaded.

Through the CLI with the fake connector of tests/sync_support.py; assertions are the execution
statistics, the items' statuses and reasons, and the rows in data.*.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Result, WorkspaceBuilder
from sync_support import MAPPED_CHANNELS, MAPPED_SKUS, MAPPED_WAREHOUSES, register_fake


class Shop:
    def __init__(self, ws: WorkspaceBuilder, tether: Callable[..., Result]) -> None:
        self.ws, self._tether = ws, tether

    def setup(self, **settings: Any) -> None:
        self.ws.integration(
            "shop", "fake", ["sales_orders"], settings={"records": 12, "page_size": 5, **settings}
        )
        self.ws.apply()

    def sync(self, *args: str) -> dict[str, Any]:
        """Run `tether sync` and return the execution it created, as `tether executions` shows."""
        result = self._tether("-w", str(self.ws.root), "sync", "shop", *args)
        assert result.exit_code == 0, result.output
        listing = self._tether("-w", str(self.ws.root), "executions", "shop", "--json")
        executions: list[dict[str, Any]] = json.loads(listing.stdout)["executions"]
        return max(executions, key=lambda e: e["id"])

    def q(self, sql: str) -> list[tuple[Any, ...]]:
        return self.ws.query(sql)

    def written_by(self, execution: dict[str, Any]) -> int:
        rows = self.q(
            "SELECT (SELECT count(*) FROM data.sales_orders WHERE execution_id = {0}) "
            "+ (SELECT count(*) FROM data.sales_order_lines WHERE execution_id = {0})".format(
                int(execution["id"])
            )
        )
        return int(rows[0][0])


@pytest.fixture
def shop(workspace: WorkspaceBuilder, tether: Callable[..., Result], monkeypatch: Any) -> Shop:
    register_fake(monkeypatch)
    workspace.mappings("sku", MAPPED_SKUS)
    workspace.mappings("channel", MAPPED_CHANNELS)
    workspace.mappings("warehouse", MAPPED_WAREHOUSES)
    return Shop(workspace, tether)


def test_a_second_full_sync_of_unchanged_records_skips_them_and_writes_nothing(
    shop: Shop,
) -> None:
    shop.setup()
    first = shop.sync()
    assert (first["success"], first["skipped"]) == (12, 0)

    second = shop.sync("--full")
    assert second["status"] == "success"
    assert (second["records_fetched"], second["success"], second["skipped"]) == (12, 0, 12)
    assert shop.written_by(second) == 0
    reasons = shop.q(
        f"SELECT DISTINCT status, error_message FROM sync_items WHERE execution_id = {second['id']}"
    )
    assert reasons == [("skipped", f"Unchanged since execution {first['id']}")]
    assert shop.q("SELECT count(*), count(DISTINCT external_id) FROM data.sales_orders") == [
        (12, 12)
    ]


def test_a_changed_record_is_loaded_and_the_rest_skipped(shop: Shop) -> None:
    shop.setup()
    shop.sync()
    shop.setup(changed=[3, 8])
    second = shop.sync("--full")
    assert (second["success"], second["skipped"]) == (2, 10)
    loaded = shop.q(
        f"SELECT external_id, total FROM data.sales_orders WHERE execution_id = {second['id']} "
        "ORDER BY 1"
    )
    assert loaded == [("order-3", 21.0), ("order-8", 21.0)]
    # a third sync skips the changed records too: their new content is the stored one now
    third = shop.sync("--full")
    assert (third["success"], third["skipped"]) == (0, 12)


def test_a_mapping_change_reloads_the_records_it_affects(shop: Shop) -> None:
    shop.setup()
    shop.sync()
    skus = shop.ws.root / "mappings" / "skus.csv"
    skus.write_text(skus.read_text().replace("SKU-00001,SKU-00001,", "hat-blue,SKU-00001,"))
    shop.ws.apply()
    second = shop.sync("--full")
    # orders i have lines with SKU-0000{i % 5} and SKU-0000{(i + 1) % 5}: 1, 6, 11 and 0, 5, 10
    assert (second["success"], second["skipped"]) == (6, 6)
    assert shop.q("SELECT count(*) FROM data.sales_order_lines WHERE sku = 'hat-blue'") == [(6,)]


def test_partially_mapped_records_are_never_skipped(shop: Shop) -> None:
    shop.setup(unmapped_sku_every=4)  # orders 0, 4, 8: one unmapped line each
    shop.sync()
    second = shop.sync("--full")
    assert second["skipped"] == 9
    partial = shop.q(
        f"SELECT DISTINCT external_id FROM sync_items WHERE execution_id = {second['id']} "
        "AND status = 'partial_mapped' ORDER BY 1"
    )
    assert partial == [("order-0",), ("order-4",), ("order-8",)]


def test_reset_clears_the_hashes_so_the_next_sync_loads_everything(shop: Shop) -> None:
    shop.setup()
    shop.sync()
    reset = shop._tether("-w", str(shop.ws.root), "reset", "shop", "--yes")
    assert reset.exit_code == 0, reset.output
    assert shop.q("SELECT count(*) FROM sync_hashes") == [(0,)]
    again = shop.sync()
    assert again["full_resync"] is True
    assert (again["success"], again["skipped"]) == (12, 0)
    assert shop.written_by(again) == 12 + 24
    assert shop.q("SELECT count(*), count(DISTINCT external_id) FROM data.sales_orders") == [
        (12, 12)
    ]


def test_a_dry_run_neither_skips_nor_stores_hashes(shop: Shop) -> None:
    shop.setup()
    dry = shop.sync("--dry-run")
    assert (dry["mapped"], dry["skipped"]) == (12, 0)
    assert shop.q("SELECT count(*) FROM sync_hashes") == [(0,)]

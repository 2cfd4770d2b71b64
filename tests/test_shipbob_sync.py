"""ShipBob against its sandbox over loopback: the checks every REST platform passes and inventory per fulfillment center."""

from __future__ import annotations

from typing import Any

import rest_platforms as rp

from tether.sandbox import shipbob


def test_first_sync_loads_what_the_sandbox_holds(workspace: Any, tether: Any) -> None:
    rp.check_first_sync_loads_what_the_sandbox_holds(rp.SHIP, workspace, tether)


def test_bad_credentials_fail_as_auth_failed_without_the_secret(
    workspace: Any, tether: Any
) -> None:
    rp.check_bad_credentials_fail_as_auth_failed_without_the_secret(rp.SHIP, workspace, tether)


def test_429_is_waited_out_and_the_sync_completes(workspace: Any, tether: Any) -> None:
    rp.check_429_is_waited_out_and_the_sync_completes(rp.SHIP, workspace, tether)


def test_a_malformed_page_fails_the_execution_and_keeps_the_pages_before_it(
    workspace: Any, tether: Any
) -> None:
    rp.check_a_malformed_page_fails_the_execution_and_keeps_the_pages_before_it(
        rp.SHIP, workspace, tether
    )


def test_kill_9_mid_sync_then_the_next_sync_resumes_and_duplicates_nothing(
    workspace: Any, tether: Any
) -> None:
    rp.check_kill_9_mid_sync_then_the_next_sync_resumes_and_duplicates_nothing(
        rp.SHIP, workspace, tether
    )


def test_shipbob_inventory_is_per_fulfillment_center_and_flags_the_unmapped_one(
    workspace: Any, tether: Any
) -> None:
    with shipbob.serve(rp._scenario(rp.SHIP)) as srv:
        rp._setup(workspace, rp.SHIP, srv)
        result = tether("-w", str(workspace.root), "sync", "shop")
        item = srv.item(0)
    assert result.exit_code == 0, result.output
    rows = workspace.query(
        "select warehouse, on_hand, available from data.inventory_levels where sku = 'I0' "
        "order by warehouse"
    )
    by_center = {c["id"]: c for c in item["fulfillable_quantity_by_fulfillment_center"]}
    assert rows == [
        ("MIDWEST", float(by_center[10]["onhand_quantity"]), float(by_center[10]["fulfillable_quantity"])),
        ("WEST", float(by_center[228]["onhand_quantity"]), float(by_center[228]["fulfillable_quantity"])),
    ]  # fmt: skip
    errors = workspace.query("select distinct code, warehouse from sync_item_errors")
    assert errors == [("UNMAPPED_WAREHOUSE", "26")]

"""Mapping is pure: canonical records + mappings → items, statuses, errors and rows."""

from __future__ import annotations

from typing import Any

from tether.engine.analysis import ledger
from tether.engine.mapping import Mappings, map_page, upsert_table

MAPPINGS = Mappings.from_rows(
    [
        ("sku", "", "ABC-12", "hat"),
        ("sku", "", "XYZ-1", "scarf"),
        ("channel", "", "web", "online"),
        ("warehouse", "", "WH1", "east"),
    ],
    "shop",
)


def order(external_id: str = "o1", channel: str | None = "web", *skus: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "order_number": "#1",
        "channel": channel,
        "ordered_at": "2026-01-02T03:04:05Z",
        "updated_at": "2026-01-02T03:04:05Z",
        "currency": "USD",
        "financial_status": "paid",
        "total": 12.5,
        "lines": [
            {"external_id": f"{external_id}-l{n}", "sku": sku, "quantity": 1, "unit_price": 1}
            for n, sku in enumerate(skus or ("ABC-12",))
        ],
    }


def test_integration_specific_mapping_wins_over_the_global_row_in_any_order() -> None:
    rows = [
        ("sku", "shop", "ABC-12", "special"),
        ("sku", "", "ABC-12", "generic"),
        ("sku", "other", "ABC-12", "not-mine"),
    ]
    assert Mappings.from_rows(rows, "shop").skus["ABC-12"] == "special"
    assert Mappings.from_rows(list(reversed(rows)), "shop").skus["ABC-12"] == "special"
    assert Mappings.from_rows(rows, "third").skus["ABC-12"] == "generic"


def test_matching_is_exact_and_case_sensitive() -> None:
    page = map_page("sales_orders", [order("o1", "web", "abc-12")], MAPPINGS)
    item = page.items[0]
    assert item.status == "failed"
    assert item.error_code == "UNMAPPED_SKU"
    assert item.error_message == "Unmapped SKU 'abc-12': no row in mappings/skus.csv"


def test_order_statuses_follow_the_lines() -> None:
    page = map_page(
        "sales_orders",
        [
            order("all", "web", "ABC-12", "XYZ-1"),
            order("some", "web", "ABC-12", "NOPE"),
            order("none", "web", "NOPE", "NADA"),
            order("channel", "marketplace", "ABC-12"),
        ],
        MAPPINGS,
    )
    statuses = {i.external_id: i.status for i in page.items}
    assert statuses == {
        "all": "success",
        "some": "partial_mapped",
        "none": "failed",
        "channel": "failed",
    }
    by_id = {i.external_id: i for i in page.items}
    assert by_id["channel"].error_code == "UNMAPPED_CHANNEL"
    assert [(e.external_id, e.sku) for e in by_id["some"].errors] == [("some-l1", "NOPE")]
    assert by_id["none"].error_message.endswith("(and 1 more)")
    # loaded orders and their mapped lines are rows; failed orders are not
    orders, lines = page.upserts
    assert orders.keys == ["all", "some"]
    assert [(r[1], r[2]) for r in lines.rows] == [
        ("all-l0", "hat"),
        ("all-l1", "scarf"),
        ("some-l0", "hat"),
    ]
    # items not fully loaded keep their raw payload for re-mapping
    assert by_id["all"].payload is None
    assert by_id["some"].payload["external_id"] == "some"


def test_dry_run_marks_fully_mapped_items_mapped() -> None:
    page = map_page("sales_orders", [order("a"), order("b", "web", "NOPE")], MAPPINGS, dry_run=True)
    assert [i.status for i in page.items] == ["mapped", "failed"]


def test_invalid_records_fail_with_a_reason_instead_of_breaking_the_page() -> None:
    bad_time = order("t")
    bad_time["ordered_at"] = "yesterday"
    page = map_page("sales_orders", [{"order_number": "#9"}, bad_time, order("ok")], MAPPINGS)
    assert [(i.status, i.error_code) for i in page.items] == [
        ("failed", "INVALID_RECORD"),
        ("failed", "INVALID_RECORD"),
        ("success", None),
    ]
    assert page.items[0].error_message == "Invalid record: 'external_id' is missing"
    assert "'ordered_at' is not an ISO-8601 timestamp" in (page.items[1].error_message or "")


def test_aggregate_page_is_one_item_with_a_per_record_breakdown() -> None:
    rows = [
        {"external_id": "WH1|ABC-12", "warehouse": "WH1", "sku": "ABC-12", "on_hand": 3},
        {"external_id": "WH9|ABC-12", "warehouse": "WH9", "sku": "ABC-12", "on_hand": 1},
        {"external_id": "WH1|NOPE", "warehouse": "WH1", "sku": "NOPE", "on_hand": 2},
    ]
    page = map_page("warehouse_inventory", rows, MAPPINGS, label="page-1")
    (item,) = page.items
    assert (item.external_id, item.status, item.records, item.loaded, item.failed) == (
        "page-1",
        "partial_mapped",
        3,
        1,
        2,
    )
    assert [(e.code, e.warehouse, e.sku) for e in item.errors] == [
        ("UNMAPPED_WAREHOUSE", "WH9", None),
        ("UNMAPPED_SKU", None, "NOPE"),
    ]
    assert [r["external_id"] for r in item.payload] == ["WH9|ABC-12", "WH1|NOPE"]
    (loaded,) = upsert_table(page.upserts[0]).to_pylist()
    assert (loaded["external_id"], loaded["warehouse"], loaded["sku"]) == (
        "WH1|ABC-12",
        "east",
        "hat",
    )


def test_ledger_classifies_error_keys_across_runs() -> None:
    history = [
        ("UNMAPPED_SKU", "NEW-1", "sales_orders", 7, 7, 2, 2),
        ("UNMAPPED_SKU", "OLD-1", "sales_orders", 3, 7, 9, 4),
        ("UNMAPPED_SKU", "FIXED", "sales_orders", 3, 5, 6, 0),
    ]
    states = {e["key"]: e["state"] for e in ledger(history, {"sales_orders": 7})}
    assert states == {"NEW-1": "new", "OLD-1": "persisting", "FIXED": "resolved"}


def test_orders_are_routed_by_their_lifecycle() -> None:
    sale = {**order("o1"), "lifecycle": "sale"}
    sale["lines"][0]["current_quantity"] = 0
    refunded = {**order("o2", "no-such-channel"), "lifecycle": "closed",
                "financial_status": "refunded"}  # fmt: skip
    pending = {**order("o3"), "lifecycle": "pending", "financial_status": "pending"}
    legacy = order("o4")  # no lifecycle (other sources): loaded as before

    page = map_page("sales_orders", [sale, refunded, pending, legacy], MAPPINGS)

    statuses = {i.external_id: i.status for i in page.items}
    assert statuses == {"o1": "success", "o2": "skipped", "o3": "skipped", "o4": "success"}
    refund_item = next(i for i in page.items if i.external_id == "o2")
    assert refund_item.error_message == (
        "Order is refunded: it belongs in neither sales_orders nor pending_sales, "
        "so it is not kept in sales_order_lines"
    )
    orders, lines = page.upserts
    assert orders.keys == ["o1", "o2", "o3", "o4"]  # all deleted, the loaded ones re-inserted
    assert [row[0] for row in orders.rows] == ["o1", "o4"]
    assert [(row[0], row[4], row[-1]) for row in lines.rows] == [("o1", 1, 0), ("o4", 1, 1)]
    # the paid order leaves pending_sales in the same page
    (removal,) = page.removals
    assert (removal.table.name, removal.keys) == ("pending_sales", ["o1"])

    pending_page = map_page("pending_sales", [sale, pending], MAPPINGS)
    assert [i.status for i in pending_page.items] == ["skipped", "success"]
    assert [(r.table.name, r.keys) for r in pending_page.removals] == [
        ("sales_orders", ["o3"]),
        ("sales_order_lines", ["o3"]),
    ]


def test_an_unknown_lifecycle_is_an_invalid_record() -> None:
    page = map_page("sales_orders", [{**order("o1"), "lifecycle": "archived"}], MAPPINGS)
    assert page.items[0].status == "failed"
    assert "unknown lifecycle 'archived'" in (page.items[0].error_message or "")

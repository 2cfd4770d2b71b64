"""Aggregate pages are mapped column by column; what users see is what the row path gave.

Rows of unusual types, missing or unmapped ids and values that do not convert still get the row
path's exact errors; the loaded rows reach ``data.*`` typed, last copy of a record winning.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from conftest import Result, WorkspaceBuilder
from sync_support import MAPPED_CHANNELS, MAPPED_SKUS, MAPPED_WAREHOUSES, register_fake

from tether.engine.mapping import Mappings, map_page, upsert_table

MAPPINGS = Mappings(
    skus={"ABC-12": "hat", "XYZ-1": "scarf"},
    channels={"web": "online"},
    warehouses={"WH1": "east"},
)


def history(external_id: Any, **fields: Any) -> dict[str, Any]:
    row = {"external_id": external_id, "date": "2026-01-02", "sku": "ABC-12", "channel": "web"}
    return {**row, "quantity": 3, "revenue": 18.0, **fields}


def loaded(page: Any) -> list[dict[str, Any]]:
    (upsert,) = page.upserts
    return upsert_table(upsert).to_pylist() if upsert.arrow else []


def test_a_clean_page_loads_every_row_typed_and_in_order() -> None:
    rows = [
        history("a", date=date(2026, 1, 3), quantity=2.5),
        history("b", channel=None, date="2026-01-04T10:00:00Z"),
        history("c", channel="", sku="XYZ-1", revenue=None),
    ]
    page = map_page("sales_history", rows, MAPPINGS, label="page-1")
    (item,) = page.items
    assert (item.status, item.records, item.loaded, item.failed, item.payload) == (
        "success",
        3,
        3,
        0,
        None,
    )
    assert page.upserts[0].keys == ["a", "b", "c"]
    assert loaded(page) == [
        {"external_id": "a", "date": date(2026, 1, 3), "sku": "hat", "channel": "online",
         "quantity": 2.5, "revenue": 18.0},
        {"external_id": "b", "date": date(2026, 1, 4), "sku": "hat", "channel": None,
         "quantity": 3.0, "revenue": 18.0},
        {"external_id": "c", "date": date(2026, 1, 2), "sku": "scarf", "channel": None,
         "quantity": 3.0, "revenue": None},
    ]  # fmt: skip
    dry = map_page("sales_history", rows, MAPPINGS, dry_run=True, label="page-1")
    assert dry.items[0].status == "mapped"


def test_odd_records_get_the_row_paths_errors_in_record_order() -> None:
    rows: list[Any] = [
        history("ok-1"),
        history("unmapped", sku="NOPE", channel="fax"),
        "not a record",
        history(""),
        history("decimal", revenue=Decimal("1.50")),
        history("bad-date", date="yesterday"),
        history("no-sku", sku=None),
        history("flag", quantity=True),
        history(7, quantity="4", sku="ABC-12"),  # converted like the row path does: loads
        history("wide", quantity=2**60),  # beyond float64's exact ints: float() still takes it
    ]
    page = map_page("sales_history", rows, MAPPINGS, label="page-2")
    (item,) = page.items
    assert (item.status, item.records, item.loaded, item.failed) == ("partial_mapped", 10, 3, 7)
    assert [(e.external_id, e.code, e.message, e.sku, e.channel) for e in item.errors] == [
        ("unmapped", "UNMAPPED_SKU", "Unmapped SKU 'NOPE': no row in mappings/skus.csv",
         "NOPE", None),
        ("unmapped", "UNMAPPED_CHANNEL",
         "Unmapped channel 'fax': no row in mappings/channels.csv", None, "fax"),
        ("(no external_id)", "INVALID_RECORD", "Invalid record: expected an object, got str",
         None, None),
        ("(no external_id)", "INVALID_RECORD", "Invalid record: 'external_id' is missing",
         None, None),
        ("decimal", "INVALID_RECORD",
         "Invalid record: 'revenue' is not a number: Decimal('1.50')", None, None),
        ("bad-date", "INVALID_RECORD",
         "Invalid record: 'date' is not a date (YYYY-MM-DD): 'yesterday'", None, None),
        ("no-sku", "INVALID_RECORD", "Invalid record: record no-sku has no SKU", None, None),
        ("flag", "INVALID_RECORD", "Invalid record: 'quantity' is not a number: True",
         None, None),
    ]  # fmt: skip
    assert item.error_message == (
        "7 of 10 records not mapped: Unmapped SKU 'NOPE': no row in mappings/skus.csv (and 7 more)"
    )
    assert item.payload == [rows[i] for i in (1, 2, 3, 4, 5, 6, 7)]
    assert [(r["external_id"], r["quantity"]) for r in loaded(page)] == [
        ("ok-1", 3.0),
        ("7", 4.0),
        ("wide", float(2**60)),
    ]
    assert page.upserts[0].keys == ["ok-1", "7", "wide"]


def test_the_last_copy_of_a_record_wins() -> None:
    rows = [history("a", quantity=1), history("b"), history("a", quantity="2")]
    page = map_page("sales_history", rows, MAPPINGS, label="page-1")
    assert page.items[0].loaded == 3
    assert [(r["external_id"], r["quantity"]) for r in loaded(page)] == [("b", 3.0), ("a", 2.0)]


def test_inventory_timestamps_and_warehouses() -> None:
    minus_five = timezone(timedelta(hours=-5))
    rows: list[dict[str, Any]] = [
        {"external_id": "1", "warehouse": "WH1", "sku": "ABC-12", "on_hand": 3,
         "as_of": "2026-01-02T00:00:00"},
        {"external_id": "2", "warehouse": "WH1", "sku": "ABC-12", "on_hand": 4,
         "as_of": datetime(2026, 1, 2, 20, tzinfo=minus_five)},
        {"external_id": "3", "warehouse": "", "sku": "ABC-12", "on_hand": 1},
        {"external_id": "4", "warehouse": "WH9", "sku": "NOPE", "on_hand": 1},
        {"external_id": "5", "warehouse": "WH1", "sku": "ABC-12", "as_of": "noon"},
    ]  # fmt: skip
    page = map_page("warehouse_inventory", rows, MAPPINGS, label="page-1")
    (item,) = page.items
    assert [(e.external_id, e.code, e.message) for e in item.errors] == [
        ("3", "INVALID_RECORD", "Invalid record: record 3 has no warehouse"),
        ("4", "UNMAPPED_WAREHOUSE", "Unmapped warehouse 'WH9': no row in mappings/warehouses.csv"),
        ("4", "UNMAPPED_SKU", "Unmapped SKU 'NOPE': no row in mappings/skus.csv"),
        ("5", "INVALID_RECORD", "Invalid record: 'as_of' is not an ISO-8601 timestamp: 'noon'"),
    ]
    assert [(r["warehouse"], r["on_hand"], r["available"], r["as_of"]) for r in loaded(page)] == [
        ("east", 3.0, None, "2026-01-02T00:00:00+00:00"),
        ("east", 4.0, None, "2026-01-02T20:00:00-05:00"),
    ]


def test_a_retry_re_maps_aggregate_pages_into_the_data(
    workspace: WorkspaceBuilder, tether: Callable[..., Result], monkeypatch: Any
) -> None:
    register_fake(monkeypatch)
    workspace.mappings("sku", MAPPED_SKUS)
    workspace.mappings("channel", MAPPED_CHANNELS)
    workspace.mappings("warehouse", MAPPED_WAREHOUSES)
    workspace.integration(
        "shop",
        "fake",
        ["warehouse_inventory"],
        settings={"records": 12, "page_size": 5, "unmapped_sku_every": 4},
    )
    workspace.apply()
    cli = ("-w", str(workspace.root))
    assert tether(*cli, "sync", "shop").exit_code == 0
    query = "SELECT external_id, sku FROM data.inventory_levels WHERE sku = 'SKU-99999'"
    assert workspace.query("SELECT count(*) FROM data.inventory_levels") == [(9,)]

    workspace.mappings("sku", [("SKU-99999", "UNMAPPED-001", "")])
    workspace.apply()
    result = tether(*cli, "retry", "shop")
    assert result.exit_code == 0, result.output
    assert workspace.query("SELECT count(*) FROM data.inventory_levels") == [(12,)]
    assert sorted(workspace.query(query)) == [
        ("WH-EAST|0", "SKU-99999"),
        ("WH-EAST|4", "SKU-99999"),
        ("WH-EAST|8", "SKU-99999"),
    ]

"""Content hashes: the same record hashes the same in every run, whatever the order of its lines,
and a page's hash is the one recomputed from ``data.*`` after a first sync (so it is skipped)."""

from __future__ import annotations

from typing import Any

import duckdb

from tether.engine.hashing import record_hashes, row_hashes, stored_values
from tether.engine.mapping import Mappings, map_page
from tether.engine.writer import prepare_upsert
from tether.state.db import migrate

MAPPINGS = Mappings(skus={"SKU-1": "TSKU-1", "SKU-2": "TSKU-2"}, channels={"web": "WEB"})


def _order(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "external_id": "gid://shopify/Order/1001",
        "order_number": "#1001",
        "channel": "web",
        "ordered_at": "2026-03-01T10:00:00+01:00",
        "updated_at": "2026-03-02T08:30:00Z",
        "currency": "EUR",
        "financial_status": "paid",
        "total": 42.5,
        "lines": lines,
    }


LINES = [
    {"external_id": "L1", "sku": "SKU-1", "quantity": 2, "unit_price": 10.0},
    {"external_id": "L2", "sku": "SKU-2", "quantity": 1, "unit_price": 22.5},
]


def _page_hashes(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> dict[str, int]:
    """The hash of each record of a page, computed from its rows as the writer has them."""
    page = map_page("sales_orders", [record], MAPPINGS)
    rows = []
    for n, upsert in enumerate(page.upserts):
        prepare_upsert(upsert)
        con.register(f"page_{n}", upsert.prepared)
        rows.append(row_hashes(upsert.table, f"page_{n}", stored=False))
    return dict(con.execute(record_hashes(rows)).fetchall())


def test_a_record_hashes_the_same_in_every_run() -> None:
    # Recorded once: stored hashes are compared by later runs (and later processes, whose
    # Python str hashes differ), so this value may never change. A DuckDB upgrade that changes
    # ``hash`` would make every stored hash stale: every record rewritten once, none skipped.
    hashes = _page_hashes(duckdb.connect(), _order(LINES))
    assert hashes == {"gid://shopify/Order/1001": GOLDEN}
    assert _page_hashes(duckdb.connect(), _order(LINES)) == hashes


def test_the_order_of_a_record_s_lines_does_not_change_its_hash() -> None:
    con = duckdb.connect()
    assert _page_hashes(con, _order(LINES)) == _page_hashes(con, _order(LINES[::-1]))
    changed = [dict(LINES[0], quantity=3), LINES[1]]
    assert _page_hashes(con, _order(changed)) != _page_hashes(con, _order(LINES))


def test_a_page_s_hash_is_the_one_recomputed_from_the_stored_rows() -> None:
    con = duckdb.connect()
    migrate(con)
    record = _order(LINES)
    expected = _page_hashes(con, record)
    stored = []
    for n, upsert in enumerate(map_page("sales_orders", [record], MAPPINGS).upserts):
        prepare_upsert(upsert)
        con.register(f"page_{n}", upsert.prepared)
        table = upsert.table
        con.execute(
            f"INSERT INTO data.{table.name} (integration_id, {', '.join(table.column_names)}, "
            f"execution_id) SELECT 'shop', {stored_values(table)}, 7 FROM page_{n}"
        )
        stored.append(row_hashes(table, f"data.{table.name} WHERE execution_id = 7", stored=True))
    assert dict(con.execute(record_hashes(stored)).fetchall()) == expected


GOLDEN = 17_864_094_683_099_576_003
"""The hash of ``_order(LINES)``, recorded once."""

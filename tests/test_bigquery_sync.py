"""`tether sync` end to end against the BigQuery sandbox: rows land in data.sales_history."""

from __future__ import annotations

from typing import Any

from tether.sandbox import bigquery as sandbox

SQL = (
    "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
    "FROM `acme-analytics.sales.daily` WHERE updated_at > @cursor ORDER BY updated_at"
)
CHANNELS = [("WEB", "online_store", ""), ("POS", "pos", ""), ("B2B", "wholesale", "")]


def bigquery_integration(workspace: Any, url: str) -> None:
    workspace.integration(
        "bq_sales",
        "bigquery",
        ["sales_history"],
        credentials={"project_id": "acme-analytics", "service_account_json": "{}"},
        settings={
            "base_url": url,
            "page_size": 500,
            "queries": {"sales_history": {"sql": SQL, "cursor_column": "updated_at"}},
        },
    )
    workspace.mappings("sku", [(f"P{i}", f"SKU-{i:05d}", "") for i in range(50)])
    workspace.mappings("channel", CHANNELS)
    workspace.apply()


def test_tether_sync_loads_sales_history_and_resumes_from_the_cursor(
    workspace: Any, tether: Any
) -> None:
    with sandbox.serve() as srv:
        bigquery_integration(workspace, srv.url)
        first = tether("-w", str(workspace.root), "sync", "bq_sales")
        srv.touch("daily", rows=3)
        second = tether("-w", str(workspace.root), "sync", "bq_sales")

    assert "sales_history" in first.output, first.output
    rows = workspace.query(
        "select count(*), count(distinct external_id), sum(quantity) from data.sales_history"
    )
    source = srv.db.execute(
        "select count(*), sum(quantity) from sales.daily where sku like 'SKU-%'"
    ).fetchone()
    assert source is not None
    assert rows == [(source[0], source[0], float(source[1]))]
    sample = workspace.query(
        "select date::VARCHAR, sku, channel from data.sales_history order by date, sku limit 1"
    )
    assert sample[0][1].startswith("P") and sample[0][2] in {"WEB", "POS", "B2B"}
    unmapped = workspace.query(
        "select count(*) from sync_item_errors where code = 'UNMAPPED_SKU' "
        "and sku like 'UNMAPPED-%'"
    )
    assert unmapped[0][0] > 0
    fetched = workspace.query("select records_fetched from executions order by started_at")
    assert [f[0] for f in fetched] == [2_000, 3], second.output

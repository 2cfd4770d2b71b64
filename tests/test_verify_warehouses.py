"""`tether verify` / `tether sync --since` over the warehouse query contract: COUNT(*) of the
capability's query restricted to the window (on the capability's date column), against the
BigQuery sandbox (the real client over loopback) and PostgreSQL behind the Redshift wire shim."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import time_machine

from tether.connectors.base import Window
from tether.sandbox import bigquery as sandbox

pytest_plugins = ["redshift_fixtures"]

NOW = datetime(2026, 1, 2, tzinfo=UTC)
HISTORY = (
    "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
    "FROM `acme-analytics.sales.daily` WHERE updated_at > @cursor ORDER BY updated_at"
)
ORDERS = (
    "SELECT order_id, line_id, ordered_at, updated_at, channel, sku, quantity, unit_price, "
    "currency, financial_status, warehouse FROM `acme-analytics.sales.order_lines` "
    "WHERE financial_status = 'paid' AND updated_at > @cursor ORDER BY updated_at"
)


def _checks(stdout: str) -> dict[str, dict[str, Any]]:
    return {c["capability"]: c for c in json.loads(stdout)["capabilities"]}


def test_bigquery_verify_finds_rows_loaded_late_and_a_date_backfill_brings_them_in(
    workspace: Any, tether: Any
) -> None:
    with sandbox.serve() as srv, time_machine.travel(NOW):
        workspace.integration(
            "bq",
            "bigquery",
            ["sales_history", "sales_orders"],
            credentials={"project_id": "acme-analytics", "service_account_json": "{}"},
            settings={
                "base_url": srv.url,
                "page_size": 500,
                "queries": {
                    "sales_history": {"sql": HISTORY, "cursor_column": "updated_at"},
                    "sales_orders": {"sql": ORDERS, "cursor_column": "updated_at"},
                },
            },
        )
        workspace.mappings("sku", [(f"P{i}", f"SKU-{i:05d}", "") for i in range(50)])
        workspace.mappings("channel", [(c, c, "") for c in sandbox.CHANNELS])
        workspace.mappings("warehouse", [(w, w, "") for w in sandbox.WAREHOUSES])
        workspace.apply()
        root = str(workspace.root)
        assert tether("-w", root, "sync", "bq").exit_code == 0

        first = tether("-w", root, "verify", "bq", "--since", "2025-12-01", "--json")
        assert first.exit_code == 0, first.output
        checks = _checks(first.stdout)
        days = srv.db.execute(
            "SELECT count(DISTINCT (order_date, sku, channel)) FROM sales.daily "
            "WHERE order_date >= DATE '2025-12-01'"
        ).fetchone()
        orders = srv.db.execute(
            "SELECT count(DISTINCT order_id) FROM sales.order_lines "
            "WHERE financial_status = 'paid' AND ordered_at >= TIMESTAMP '2025-12-01'"
        ).fetchone()
        assert checks["sales_history"]["source"] == (days or [0])[0]
        assert checks["sales_history"]["window_field"] == "date"
        assert checks["sales_history"]["failed"] > 0  # rows of unmapped SKUs, known
        assert checks["sales_orders"]["source"] == (orders or [0])[0]
        assert checks["sales_orders"]["window_field"] == "ordered_at"

        # A late load: rows for December whose updated_at is older than the cursor (the
        # loader stamped them with the business time), so `updated_at > @cursor` skips them.
        srv.db.execute(
            "INSERT INTO sales.daily SELECT DATE '2025-12-20', 'SKU-00001', 'late_channel', 3, "
            "30.0, TIMESTAMP '2025-01-01 00:00:00' FROM range(1)"
        )
        srv.db.execute(
            "INSERT INTO sales.daily SELECT DATE '2025-12-21' + i::INTEGER, 'SKU-00002', "
            "'online_store', 1, 10.0, TIMESTAMP '2025-01-01 00:00:00' FROM range(4) t(i)"
        )
        assert tether("-w", root, "sync", "bq", "-c", "sales_history").exit_code == 0
        missed = tether("-w", root, "verify", "bq", "--since", "2025-12-01", "-c",
                        "sales_history", "--json")  # fmt: skip
        assert missed.exit_code == 1
        late = _checks(missed.stdout)["sales_history"]
        assert (late["status"], late["difference"]) == ("missing", 5)

        cursor = workspace.query(
            "select cursor from sync_state where domain_type = 'sales_history'"
        )
        backfill = tether("-w", root, "sync", "bq", "-c", "sales_history", "--since", "2025-12-15",
                          "--json")  # fmt: skip
        assert backfill.exit_code == 0, backfill.output
        run = json.loads(backfill.stdout)
        assert run["executions"][0]["trigger"] == "backfill"
        fetched = srv.db.execute(
            "SELECT count(*) FROM sales.daily WHERE order_date >= DATE '2025-12-15'"
        ).fetchone()
        assert run["executions"][0]["records_fetched"] == (fetched or [0])[0]
        assert (
            workspace.query("select cursor from sync_state where domain_type = 'sales_history'")
            == cursor
        )
        after = tether("-w", root, "verify", "bq", "--since", "2025-12-01", "--json")
        assert after.exit_code == 0, after.stdout
        history = _checks(after.stdout)["sales_history"]
        # The row from the unmapped channel is fetched but not loaded: known, not missing.
        assert (history["status"], history["difference"]) == ("match", 0)
        assert history["failed"] == checks["sales_history"]["failed"] + 1
        assert history["loaded"] == checks["sales_history"]["loaded"] + 4


def test_redshift_counts_the_windowed_query_with_bound_parameters(
    redshift_credentials: dict[str, str],
) -> None:
    from tether.connectors.redshift import RedshiftConnector, RedshiftSettings
    from tether.sandbox.postgres import DAILY_ROWS

    sql = (
        "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
        "FROM sales.daily WHERE updated_at > %(cursor)s ORDER BY updated_at"
    )
    settings = RedshiftSettings.model_validate(
        {"ssl": False, "queries": {"sales_history": {"sql": sql, "cursor_column": "updated_at"}}}
    )
    # sales.daily: 1,500 unique (date, sku, channel) rows a day from 2024-01-01.
    window = Window(datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 4, tzinfo=UTC))
    connector = RedshiftConnector(settings, redshift_credentials)
    assert connector.count("sales_history", window) == 3_000
    assert connector.count("sales_history", None) == DAILY_ROWS

    windowed = RedshiftConnector(settings, redshift_credentials, window=window)
    cursor = {"column": "updated_at", "value": "2100-01-01 00:00:00"}  # ignored by a backfill
    pages = list(windowed.fetch("sales_history", cursor))
    dates = [str(r["date"]) for p in pages for r in p.records]
    assert all(p.cursor is None for p in pages)
    assert len(dates) == 3_000
    assert set(dates) == {"2024-01-02", "2024-01-03"}

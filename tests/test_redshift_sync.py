"""`tether sync` end to end: the real redshift_connector → PostgreSQL (via the shim) → DuckDB."""

from __future__ import annotations

from typing import Any

from tether.sandbox.postgres import CHANNELS, SKUS, USER, PostgresServer, create_sales_daily

pytest_plugins = ["redshift_fixtures"]

SQL = (
    "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
    "FROM sales.e2e WHERE updated_at > %(cursor)s"
)


def test_tether_sync_loads_sales_history_and_then_only_new_rows(
    postgres: PostgresServer,
    redshift_credentials: dict[str, str],
    workspace: Any,
    tether: Any,
) -> None:
    create_sales_daily(postgres, 3000, table="sales.e2e")
    workspace.integration(
        "rs_main",
        "redshift",
        ["sales_history"],
        credentials=redshift_credentials,
        settings={
            "queries": {"sales_history": {"sql": SQL, "cursor_column": "updated_at"}},
            "page_size": 700,
            "ssl": False,
            "timeout_s": 10,
        },
    )
    workspace.mappings("sku", [(f"SKU-{i:05d}", f"SKU-{i:05d}", "") for i in range(SKUS)])
    workspace.mappings("channel", [(c, c, "") for c in CHANNELS])
    workspace.apply()

    first = tether("-w", str(workspace.root), "sync", "rs_main")

    assert first.exit_code == 0, first.output
    assert workspace.query("select count(*) from data.sales_history") == [(3000,)]
    assert workspace.query(  # row i = 2007: quantity i * 7 % 13 + 1 = 10, revenue 10 * 4.25
        "select date::varchar, sku, channel, quantity, revenue from data.sales_history "
        "where external_id = '2024-01-02|SKU-00007|pos'"
    ) == [("2024-01-02", "SKU-00007", "pos", 10.0, 42.5)]

    postgres.psql(
        f"INSERT INTO sales.e2e VALUES (DATE '2024-03-01', 'SKU-00001', 'pos', 2, 9.5, "
        f"TIMESTAMP '2026-01-01 00:00:00'), (DATE '2024-03-01', 'SKU-00002', 'pos', 1, 4.25, "
        f"TIMESTAMP '2026-01-01 00:00:00'); GRANT SELECT ON sales.e2e TO {USER};",
        database="analytics",
    )
    second = tether("-w", str(workspace.root), "sync", "rs_main")

    assert second.exit_code == 0, second.output
    assert workspace.query("select count(*) from data.sales_history") == [(3002,)]
    fetched = workspace.query("select records_fetched from executions order by started_at")
    assert fetched == [(3000,), (2,)]


def test_tether_sync_reports_a_wrong_password_as_auth_failed(
    redshift_credentials: dict[str, str], workspace: Any, tether: Any
) -> None:
    wrong = {**redshift_credentials, "password": "hunter2-wrong"}
    workspace.integration(
        "rs_main",
        "redshift",
        ["sales_history"],
        credentials=wrong,
        settings={
            "queries": {"sales_history": {"sql": SQL, "cursor_column": "updated_at"}},
            "ssl": False,
        },
    )
    workspace.apply()

    result = tether("-w", str(workspace.root), "sync", "rs_main")

    assert result.exit_code == 1
    assert "AUTH_FAILED" in result.output
    assert "hunter2-wrong" not in result.output
    status, error = workspace.query("select status, error from executions")[0]
    assert status == "failed" and "password authentication failed" in error

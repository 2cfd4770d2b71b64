"""The Redshift connector with the real redshift_connector driver against a real PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tether.connectors.base import Page
from tether.connectors.redshift import RedshiftConnector, RedshiftSettings
from tether.errors import AuthError, DataError, UnavailableError
from tether.sandbox.postgres import DAILY_ROWS, PASSWORD, PostgresServer

pytest_plugins = ["redshift_fixtures"]

DAILY = (
    "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
    "FROM sales.daily WHERE updated_at > %(cursor)s"
)


def connector(
    credentials: dict[str, str],
    sql: str = DAILY,
    cursor_column: str | None = "updated_at",
    page_size: int = 1000,
    capability: str = "sales_history",
    full: bool = False,
) -> RedshiftConnector:
    settings = RedshiftSettings.model_validate(
        {
            "queries": {capability: {"sql": sql, "cursor_column": cursor_column}},
            "page_size": page_size,
            "ssl": False,
            "timeout_s": 10,
        }
    )
    return RedshiftConnector(settings, credentials, full=full)


def fetch_all(conn: RedshiftConnector, cursor: dict[str, Any] | None = None) -> list[Page]:
    return list(conn.fetch("sales_history", cursor))


def test_first_sync_reads_every_row_in_pages_as_canonical_records(
    redshift_credentials: dict[str, str],
) -> None:
    pages = fetch_all(connector(redshift_credentials, page_size=1200))

    assert [len(p.records) for p in pages] == [1200, 1200, 1200, 1200, 200]
    first = pages[0].records[0]
    assert first["external_id"] == "2024-01-01|SKU-00000|online_store"
    assert (first["sku"], first["channel"], first["quantity"]) == ("SKU-00000", "online_store", 1)
    assert first["revenue"] == 4.25 and isinstance(first["revenue"], float)
    assert str(first["date"]) == "2024-01-01"
    ids = [r["external_id"] for p in pages for r in p.records]
    assert len(set(ids)) == DAILY_ROWS
    assert pages[-1].cursor == {"column": "updated_at", "value": "2025-01-01 01:23:19"}


def test_incremental_sync_returns_only_rows_after_the_cursor(
    redshift_credentials: dict[str, str],
) -> None:
    cursor = {"column": "updated_at", "value": "2025-01-01 01:20:00"}  # row 4800

    pages = fetch_all(connector(redshift_credentials), cursor)

    records = [r for p in pages for r in p.records]
    assert len(records) == DAILY_ROWS - 4801
    assert records[0]["sku"] == "SKU-00301"
    assert pages[-1].cursor == {"column": "updated_at", "value": "2025-01-01 01:23:19"}


def test_resuming_from_any_page_cursor_misses_no_row_even_when_values_tie(
    postgres: PostgresServer, redshift_credentials: dict[str, str]
) -> None:
    postgres.psql(
        "CREATE TABLE IF NOT EXISTS sales.ties AS SELECT DATE '2024-02-01' + i AS date, "
        "'SKU-' || lpad(i::text, 5, '0') AS sku, 'pos' AS channel, 1 AS quantity, "
        "1.5::numeric AS revenue, i / 7 AS version FROM generate_series(0, 99) AS i;"
        "ALTER TABLE sales.ties OWNER TO tether_reader;",
        database="analytics",
    )
    sql = "SELECT * FROM sales.ties WHERE version > %(cursor)s"
    conn = connector(redshift_credentials, sql=sql, cursor_column="version", page_size=10)

    pages = fetch_all(conn)

    everything = [r["sku"] for p in pages for r in p.records]
    assert len(everything) == 100
    for i, page in enumerate(pages[:-1]):
        assert page.cursor is not None
        # the page ends inside a group of 7 equal versions: only the complete ones are committed
        assert page.cursor["value"] < page.records[-1]["version"]
        resumed = [r["sku"] for p in fetch_all(conn, page.cursor) for r in p.records]
        read_so_far = {s for p in pages[: i + 1] for s in (r["sku"] for r in p.records)}
        assert set(everything) == read_so_far | set(resumed)
    assert pages[-1].cursor == {"column": "version", "value": 14}


@pytest.mark.parametrize(
    ("column", "expression", "last"),
    [
        ("day", "DATE '2024-03-01' + i / 10", "2024-03-10"),
        ("amount", "(i / 10 * 1.25)::numeric(10, 2)", "11.25"),
        ("changed_at", "TIMESTAMPTZ '2025-06-01 00:00:00+00' + (i / 10) * INTERVAL '1 hour'",
         "2025-06-01 09:00:00+00"),
    ],
)  # fmt: skip
def test_date_decimal_and_timestamptz_cursors_resume_where_their_page_ended(
    postgres: PostgresServer,
    redshift_credentials: dict[str, str],
    column: str,
    expression: str,
    last: str,
) -> None:
    # These types travel as text (the driver decodes them slowly): decimals come back as floats,
    # dates and timestamps as ISO text, and the text cursor binds back as the column's type.
    table = f"sales.by_{column}"
    postgres.psql(
        f"CREATE TABLE IF NOT EXISTS {table} AS SELECT DATE '2024-02-01' + i AS date, "
        "'SKU-' || lpad(i::text, 5, '0') AS sku, 'pos' AS channel, 1 AS quantity, "
        f"2.5::numeric(8, 2) AS revenue, {expression} AS {column} "
        f"FROM generate_series(0, 99) AS i; ALTER TABLE {table} OWNER TO tether_reader;",
        database="analytics",
    )
    sql = f"SELECT * FROM {table} WHERE {column} > %(cursor)s"
    conn = connector(redshift_credentials, sql=sql, cursor_column=column, page_size=25)

    pages = fetch_all(conn)

    assert pages[-1].cursor == {"column": column, "value": last}
    first = pages[0].records[0]
    assert first["date"] == "2024-02-01" and first["revenue"] == 2.5
    first_values = {"day": "2024-03-01", "amount": 0.0, "changed_at": "2025-06-01 00:00:00+00"}
    assert first[column] == first_values[column]
    middle = pages[1].cursor  # the page ends inside a group of 10 equal values
    assert middle is not None
    resumed = [r["sku"] for p in fetch_all(conn, middle) for r in p.records]
    assert resumed[0] == "SKU-00040" and len(resumed) == 60


def test_full_sync_ignores_the_stored_cursor(redshift_credentials: dict[str, str]) -> None:
    cursor = {"column": "updated_at", "value": "2025-01-01 01:20:00"}

    pages = list(connector(redshift_credentials, full=True).fetch("sales_history", cursor))

    assert sum(len(p.records) for p in pages) == DAILY_ROWS


def test_cursor_value_with_a_quote_is_bound_not_formatted(
    redshift_credentials: dict[str, str],
) -> None:
    sql = "SELECT order_date AS date, sku, channel, quantity, revenue FROM sales.daily WHERE sku > %(cursor)s"
    hostile = {"column": "sku", "value": "SKU-00497' OR '1'='1"}

    pages = fetch_all(connector(redshift_credentials, sql=sql, cursor_column="sku"), hostile)

    skus = {r["sku"] for p in pages for r in p.records}
    # formatted into the SQL, the quote would have matched every row; bound, it is just text
    assert skus == {"SKU-00498", "SKU-00499"}


def test_missing_required_column_is_a_data_error_naming_it(
    redshift_credentials: dict[str, str],
) -> None:
    sql = "SELECT order_date AS date, sku, channel, quantity, updated_at FROM sales.daily"

    with pytest.raises(DataError, match="missing required column 'revenue'"):
        fetch_all(connector(redshift_credentials, sql=sql, cursor_column=None))


def test_mistyped_column_is_a_data_error_naming_it(redshift_credentials: dict[str, str]) -> None:
    sql = (
        "SELECT order_date::text AS date, sku, channel, quantity, revenue, updated_at "
        "FROM sales.daily WHERE updated_at > %(cursor)s"
    )

    with pytest.raises(DataError, match="column 'date' is text, expected date"):
        fetch_all(connector(redshift_credentials, sql=sql))


def test_cursor_column_not_in_the_result_is_a_data_error(
    redshift_credentials: dict[str, str],
) -> None:
    with pytest.raises(DataError, match="cursor_column 'changed_at'"):
        fetch_all(connector(redshift_credentials, cursor_column="changed_at"))


def test_bad_sql_is_a_data_error_with_the_server_message(
    redshift_credentials: dict[str, str],
) -> None:
    sql = "SELECT * FROM sales.nope WHERE updated_at > %(cursor)s"

    with pytest.raises(DataError, match=r'relation "sales\.nope" does not exist') as caught:
        fetch_all(connector(redshift_credentials, sql=sql))
    assert caught.value.code == "SOURCE_ERROR"


def test_wrong_password_is_an_auth_error_without_the_password(
    redshift_credentials: dict[str, str],
) -> None:
    wrong = {**redshift_credentials, "password": "not-" + PASSWORD}

    with pytest.raises(AuthError, match="password authentication failed") as caught:
        fetch_all(connector(wrong))
    assert caught.value.code == "AUTH_FAILED"
    assert PASSWORD not in caught.value.render()


def test_unreachable_port_is_unavailable(redshift_credentials: dict[str, str]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = {**redshift_credentials, "port": str(s.getsockname()[1])}

    with pytest.raises(UnavailableError, match="Connection refused") as caught:
        fetch_all(connector(closed))
    assert caught.value.code == "CONNECTION_TIMEOUT"
    assert "host and port" in (caught.value.hint or "")


def test_capability_without_a_query_is_a_data_error(redshift_credentials: dict[str, str]) -> None:
    with pytest.raises(DataError, match="products has no query"):
        list(connector(redshift_credentials).fetch("products", None))


def test_port_must_be_a_number(redshift_credentials: dict[str, str]) -> None:
    with pytest.raises(AuthError, match="port 'fifty' is not a TCP port"):
        connector({**redshift_credentials, "port": "fifty"})


def test_base_url_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="base_url does not apply to Redshift"):
        RedshiftSettings.model_validate({"base_url": "http://127.0.0.1:1"})


def test_table_the_user_may_not_read_is_an_auth_error(
    postgres: PostgresServer, redshift_credentials: dict[str, str]
) -> None:
    postgres.psql(
        "CREATE SCHEMA IF NOT EXISTS private; CREATE TABLE IF NOT EXISTS private.sales AS "
        "SELECT * FROM sales.daily LIMIT 1;",
        database="analytics",
    )
    sql = DAILY.replace("sales.daily", "private.sales")

    with pytest.raises(AuthError, match="permission denied") as caught:
        fetch_all(connector(redshift_credentials, sql=sql))
    assert "SELECT" in (caught.value.hint or "")


def test_changing_cursor_column_starts_over(redshift_credentials: dict[str, str]) -> None:
    stale = {"column": "loaded_at", "value": "2099-01-01 00:00:00"}

    pages = fetch_all(connector(redshift_credentials), stale)

    assert sum(len(p.records) for p in pages) == DAILY_ROWS


def test_bigquery_style_placeholder_is_explained(redshift_credentials: dict[str, str]) -> None:
    sql = DAILY.replace("%(cursor)s", "@cursor")

    with pytest.raises(DataError, match=r"uses @cursor; .* as %\(cursor\)s"):
        fetch_all(connector(redshift_credentials, sql=sql))

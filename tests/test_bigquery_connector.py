"""The BigQuery connector: the real google-cloud-bigquery client against the sandbox on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tether.connectors.base import Page
from tether.connectors.bigquery import BigQueryConnector, BigQuerySettings
from tether.errors import AuthError, DataError, TetherError, UnavailableError
from tether.sandbox import bigquery as sandbox

HISTORY_SQL = (
    "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
    "FROM `demo-project.sales.daily` WHERE updated_at > @cursor ORDER BY updated_at"
)
ORDERS_SQL = (
    "SELECT order_id, line_id, ordered_at, updated_at, channel, sku, quantity, unit_price, "
    "currency, financial_status, warehouse FROM sales.order_lines "
    "WHERE financial_status = 'paid' AND updated_at > @cursor ORDER BY updated_at, line_id"
)
CREDENTIALS = {"project_id": "demo-project", "service_account_json": "unused with base_url"}
SECRET_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n"

Serve = Callable[..., sandbox.BigQuerySandbox]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[sandbox.BigQuerySandbox] = []

    def start(**switches: Any) -> sandbox.BigQuerySandbox:
        server = sandbox.serve(sandbox.Scenario(**switches))
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


def connect(
    url: str, queries: dict[str, Any] | None = None, *, full: bool = False, **settings: Any
) -> BigQueryConnector:
    queries = queries or {"sales_history": {"sql": HISTORY_SQL, "cursor_column": "updated_at"}}
    model = BigQuerySettings(base_url=url, queries=queries, **settings)
    return BigQueryConnector(model, CREDENTIALS, full=full)


def fetch_all(
    connector: BigQueryConnector, capability: str = "sales_history", cursor: Any = None
) -> list[Page]:
    try:
        return list(connector.fetch(capability, cursor))
    finally:
        connector.close()


def records(pages: list[Page]) -> list[dict[str, Any]]:
    return [r for p in pages for r in p.records]


def test_first_sync_returns_every_row_as_canonical_records(serve: Serve) -> None:
    server = serve()
    pages = fetch_all(connect(server.url))
    rows = records(pages)
    assert len(rows) == 2_000
    assert len({r["external_id"] for r in rows}) == 2_000
    first = rows[0]
    assert first["external_id"] == f"{first['date'].isoformat()}|{first['sku']}|{first['channel']}"
    assert isinstance(first["quantity"], int) and isinstance(first["revenue"], float)
    assert first["updated_at"].tzinfo is not None
    assert {r["channel"] for r in rows} == {"online_store", "pos", "wholesale"}
    assert any(r["sku"].startswith("UNMAPPED-") for r in rows)
    newest = max(r["updated_at"] for r in rows)
    assert pages[-1].cursor == {
        "value": newest.isoformat().replace("+00:00", "Z"),
        "type": "TIMESTAMP",
    }


def test_second_sync_with_the_cursor_returns_only_newer_rows(serve: Serve) -> None:
    server = serve()
    cursor = fetch_all(connect(server.url))[-1].cursor
    assert fetch_all(connect(server.url), cursor=cursor) == []

    touched = server.touch("daily", rows=5)
    pages = fetch_all(connect(server.url), cursor=cursor)

    got = records(pages)
    assert sorted(r["external_id"] for r in got) == sorted(
        f"{t['order_date'].isoformat()}|{t['sku']}|{t['channel']}" for t in touched
    )
    assert pages[-1].cursor is not None and cursor is not None
    assert pages[-1].cursor["value"] > cursor["value"]


def test_full_sync_ignores_the_stored_cursor(serve: Serve) -> None:
    server = serve()
    cursor = fetch_all(connect(server.url))[-1].cursor
    assert len(records(fetch_all(connect(server.url, full=True), cursor=cursor))) == 2_000


def test_results_arrive_in_pages_with_a_rising_cursor(serve: Serve) -> None:
    server = serve()
    pages = fetch_all(connect(server.url, page_size=300))
    assert [len(p.records) for p in pages] == [300] * 6 + [200]
    values = [p.cursor["value"] for p in pages if p.cursor]
    assert values == sorted(values) and len(values) == 7
    tokens = [path for method, path in server.requests if "pageToken=" in path]
    assert len(tokens) == 6


def test_cursor_is_a_query_parameter_so_quotes_cannot_inject(serve: Serve) -> None:
    server = serve()
    sql = "SELECT channel, name FROM sales.channels WHERE channel > @cursor ORDER BY channel"
    queries = {"channels": {"sql": sql, "cursor_column": "channel", "cursor_type": "STRING"}}
    hostile = {"value": "pos' OR 'a'='a", "type": "STRING"}

    rows = records(fetch_all(connect(server.url, queries), "channels", hostile))

    assert [r["external_id"] for r in rows] == ["wholesale"]


def test_order_lines_become_orders_with_lines(serve: Serve) -> None:
    server = serve()
    queries = {"sales_orders": {"sql": ORDERS_SQL, "cursor_column": "updated_at"}}
    orders = records(fetch_all(connect(server.url, queries), "sales_orders"))
    assert orders and all(o["financial_status"] == "paid" for o in orders)
    assert all(1 <= len(o["lines"]) <= 3 for o in orders)
    line = orders[0]["lines"][0]
    assert line["external_id"].startswith(orders[0]["external_id"])
    assert isinstance(line["unit_price"], float) and line["warehouse"] in {"WH-EAST", "WH-WEST"}


def test_missing_required_column_fails_naming_it(serve: Serve) -> None:
    server = serve()
    sql = "SELECT order_date AS date, sku, channel, quantity, updated_at FROM sales.daily"
    queries = {"sales_history": {"sql": sql, "cursor_column": "updated_at"}}
    with pytest.raises(DataError, match="missing required column 'revenue'") as info:
        fetch_all(connect(server.url, queries))
    assert info.value.code == "SOURCE_ERROR"
    assert info.value.hint and "settings.queries.sales_history.sql" in info.value.hint


def test_mistyped_column_fails_naming_it_and_both_types(serve: Serve) -> None:
    server = serve()
    sql = (
        "SELECT order_date AS date, sku, channel, CAST(quantity AS STRING) AS quantity, "
        "revenue, updated_at FROM sales.daily"
    )
    queries = {"sales_history": {"sql": sql, "cursor_column": "updated_at"}}
    with pytest.raises(DataError, match="column 'quantity' is text, expected number"):
        fetch_all(connect(server.url, queries))


def test_cursor_column_of_another_type_asks_for_cursor_type(serve: Serve) -> None:
    server = serve()
    sql = (
        "SELECT order_date AS date, sku, channel, quantity, revenue FROM sales.daily "
        "WHERE order_date > @cursor"
    )
    queries = {"sales_history": {"sql": sql, "cursor_column": "date", "cursor_type": "DATE"}}
    assert len(records(fetch_all(connect(server.url, queries)))) == 2_000

    queries["sales_history"]["cursor_type"] = "TIMESTAMP"
    with pytest.raises(DataError, match="cursor column 'date' is DATE") as info:
        fetch_all(connect(server.url, queries))
    assert info.value.hint and "cursor_type: DATE" in info.value.hint


def test_invalid_query_fails_with_the_servers_message(serve: Serve) -> None:
    server = serve()
    queries = {"sales_history": {"sql": "SELEC date FROM sales.daily", "cursor_column": None}}
    with pytest.raises(DataError, match=r"is invalid: .*syntax error at or near \"SELEC\""):
        fetch_all(connect(server.url, queries))


def test_unknown_table_is_a_data_error_naming_it(serve: Serve) -> None:
    server = serve()
    queries = {"sales_history": {"sql": "SELECT * FROM sales.dialy", "cursor_column": None}}
    with pytest.raises(DataError, match=r"Not found: Table demo-project:sales\.dialy"):
        fetch_all(connect(server.url, queries))


def test_access_denied_is_an_auth_error(serve: Serve) -> None:
    server = serve(deny_access=True)
    with pytest.raises(AuthError, match="Access Denied") as info:
        fetch_all(connect(server.url))
    assert info.value.code == "AUTH_FAILED"


def test_persistent_5xx_is_unavailable_after_the_retry_deadline(serve: Serve) -> None:
    server = serve(error_rate_5xx=1.0)
    with pytest.raises(UnavailableError) as info:
        fetch_all(connect(server.url, retry_deadline_s=0.5))
    assert info.value.code == "CONNECTION_TIMEOUT"
    assert "retry_deadline_s" in (info.value.hint or "")


def test_occasional_5xx_is_retried_by_the_client(serve: Serve) -> None:
    server = serve(error_rate_5xx=0.3, seed=1)  # this seed fails the 1st and 4th call
    assert len(records(fetch_all(connect(server.url, page_size=500)))) == 2_000
    assert len(server.requests) == 7  # 1 insert + 4 pages, plus the 2 retried calls


def test_malformed_response_is_a_data_error(serve: Serve) -> None:
    server = serve(malformed=True)
    with pytest.raises(DataError, match="Malformed response from BigQuery"):
        fetch_all(connect(server.url))


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UnavailableError):
        fetch_all(connect(f"http://127.0.0.1:{port}", retry_deadline_s=0.3))


def test_enabled_capability_without_a_query_says_where_to_add_it() -> None:
    connector = connect("http://127.0.0.1:9")
    with pytest.raises(TetherError, match="'products' is enabled but has no query") as info:
        fetch_all(connector, "products")
    assert info.value.hint and "settings.queries.products" in info.value.hint


def test_plain_http_base_url_is_refused_off_loopback() -> None:
    with pytest.raises(TetherError, match="must be https"):
        fetch_all(connect("http://bigquery.example.com"))


def service_account(**fields: str) -> str:
    info = {
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "k",
        "private_key": SECRET_KEY,
        "client_email": "sync@p.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    info.update(fields)
    return json.dumps(info)


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (service_account()[:-5] + SECRET_KEY, "not valid JSON"),
        ('["' + SECRET_KEY.replace("\n", "") + '"]', "not a JSON object"),
        (json.dumps({"private_key": SECRET_KEY}), "missing client_email, token_uri"),
        (service_account(), "the private key could not be read"),
    ],
)
def test_bad_service_account_json_is_an_auth_error_without_the_secret(
    secret: str, expected: str
) -> None:
    settings = BigQuerySettings(queries={"sales_history": {"sql": HISTORY_SQL}})
    connector = BigQueryConnector(settings, {"project_id": "p", "service_account_json": secret})
    with pytest.raises(AuthError, match=expected) as info:
        fetch_all(connector)
    rendered = info.value.render()
    assert "TOPSECRET" not in rendered and "PRIVATE KEY" not in rendered
    assert "service_account_json" in rendered


def test_missing_project_id_is_an_auth_error(serve: Serve) -> None:
    server = serve()
    model = BigQuerySettings(base_url=server.url, queries={"sales_history": {"sql": HISTORY_SQL}})
    with pytest.raises(AuthError, match="no project_id"):
        fetch_all(BigQueryConnector(model, {"service_account_json": "{}"}))


def test_cursor_timestamps_round_trip_through_json(serve: Serve) -> None:
    server = serve()
    cursor = {"value": "2025-12-01T00:00:00Z", "type": "TIMESTAMP"}
    rows = records(fetch_all(connect(server.url), cursor=json.loads(json.dumps(cursor))))
    assert rows and all(r["updated_at"] > datetime(2025, 12, 1, tzinfo=UTC) for r in rows)
    assert len(rows) < 2_000

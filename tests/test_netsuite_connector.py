"""The NetSuite connector against the SuiteQL sandbox on loopback, with real httpx and real
OAuth 1.0a signatures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tether.connectors.base import Page
from tether.connectors.http import HttpPolicy
from tether.connectors.netsuite import DEFAULT_QUERIES, NetSuiteConnector, NetSuiteSettings
from tether.errors import AuthError, DataError, TetherError
from tether.sandbox import netsuite as sandbox

CREDENTIALS = {
    "consumer_key": sandbox.CONSUMER_KEY,
    "consumer_secret": sandbox.CONSUMER_SECRET,
    "token_id": sandbox.TOKEN_ID,
    "token_secret": sandbox.TOKEN_SECRET,
}
Serve = Callable[..., sandbox.NetSuiteServer]


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[sandbox.NetSuiteServer] = []

    def start(**switches: Any) -> sandbox.NetSuiteServer:
        server = sandbox.serve(sandbox.Scenario(**switches))
        assert isinstance(server, sandbox.NetSuiteServer)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


def connect(
    server: sandbox.NetSuiteServer,
    *,
    credentials: dict[str, str] = CREDENTIALS,
    sleep: FakeSleep | None = None,
    **settings: Any,
) -> NetSuiteConnector:
    values: dict[str, Any] = {"base_url": server.url, "account_id": sandbox.ACCOUNT_ID}
    policy = HttpPolicy(sleep=sleep or FakeSleep())
    return NetSuiteConnector(NetSuiteSettings(**{**values, **settings}), credentials, policy=policy)


def rows(pages: list[Page]) -> list[dict[str, Any]]:
    return [record for page in pages for record in page.records]


def source_totals(server: sandbox.NetSuiteServer) -> tuple[int, float]:
    """Units and revenue of the sales orders' item lines, straight from the sandbox's tables."""
    found = server.db.execute(
        "SELECT SUM(-tl.quantity), SUM(-tl.netamount) FROM transaction t "
        "JOIN transactionline tl ON tl.transaction = t.id "
        "WHERE t.status <> 'C' AND tl.mainline = 'F'"
    ).fetchone()
    assert found is not None
    return int(found[0]), float(found[1])


def test_first_sync_pages_the_default_sales_history_query(serve: Serve) -> None:
    server = serve(orders=300)
    pages = list(connect(server, page_size=100).fetch("sales_history", None))

    got = rows(pages)
    units, revenue = source_totals(server)
    assert sum(r["quantity"] for r in got) == units
    assert sum(r["revenue"] for r in got) == pytest.approx(revenue)
    assert len({r["external_id"] for r in got}) == len(got)
    assert got[0]["external_id"] == f"{got[0]['date']}|{got[0]['sku']}|{got[0]['channel']}"
    assert len(pages) == -(-len(got) // 100)
    assert [r.params for r in server.requests][:2] == [
        {"limit": "100", "offset": "0"},
        {"limit": "100", "offset": "100"},
    ]
    seen = server.requests[0]
    assert seen.prefer == "transient"
    assert seen.oauth["realm"] == sandbox.ACCOUNT_ID
    assert seen.oauth["oauth_signature_method"] == "HMAC-SHA256"
    assert "TO_TIMESTAMP('1970-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS')" in seen.query
    assert pages[-1].cursor == {
        "value": max(r["lastmodified"] for r in got).replace(" ", "T") + "Z"
    }


def test_incremental_sync_re_adds_only_the_days_that_changed(serve: Serve) -> None:
    server = serve(orders=200)
    first = list(connect(server).fetch("sales_history", None))
    cursor = first[-1].cursor
    assert cursor is not None
    changed = server.touch(3)
    again = list(connect(server).fetch("sales_history", cursor))

    assert "TO_TIMESTAMP('2026-01-01 00:00:00'" in server.requests[-1].query
    got = rows(again)
    assert 0 < len(got) < len(rows(first))
    merged = {r["external_id"]: r for r in rows(first)} | {r["external_id"]: r for r in got}
    units, _ = source_totals(server)
    assert sum(r["quantity"] for r in merged.values()) == units  # each day's whole total
    assert again[-1].cursor == {"value": "2026-01-01T00:01:00Z"}
    assert len(changed) == 3


def test_a_bad_token_secret_is_auth_failed_without_leaking_it(serve: Serve) -> None:
    server = serve(orders=5)
    bad = {**CREDENTIALS, "token_secret": "leaked-secret-value"}
    with pytest.raises(AuthError) as failed:
        list(connect(server, credentials=bad).fetch("sales_history", None))
    assert "401" in str(failed.value)
    assert "leaked-secret-value" not in str(failed.value)


def test_429_concurrency_limit_is_waited_out(serve: Serve) -> None:
    server = serve(orders=200, rate_limit_every=2, retry_after_s=2.0)
    sleep = FakeSleep()
    got = rows(list(connect(server, page_size=100, sleep=sleep).fetch("sales_history", None)))
    assert sum(r["quantity"] for r in got) == source_totals(server)[0]
    assert sleep.calls and set(sleep.calls) == {2.0}


def test_malformed_pages_and_query_errors_are_data_errors(serve: Serve) -> None:
    for switch, expected in (("body", "not JSON"), ("shape", "expected a list of records")):
        server = serve(orders=5, malformed=switch)
        with pytest.raises(DataError) as failed:
            list(connect(server).fetch("sales_history", None))
        assert expected in str(failed.value)
    server = serve(orders=5)
    broken = {"sales_history": {"sql": "SELECT nosuch FROM transaction WHERE id > :cursor",
                                "cursor_column": "nosuch"}}  # fmt: skip
    with pytest.raises(DataError) as failed:
        list(connect(server, queries=broken).fetch("sales_history", None))
    assert "400" in str(failed.value) and "Invalid search query" in str(failed.value)


def test_a_query_without_a_required_column_names_it(serve: Serve) -> None:
    server = serve(orders=5)
    sql = DEFAULT_QUERIES["sales_history"].sql.replace("AS revenue", "AS amount")
    queries = {"sales_history": {"sql": sql, "cursor_column": "lastmodified"}}
    with pytest.raises(DataError) as failed:
        list(connect(server, queries=queries).fetch("sales_history", None))
    assert "missing required column 'revenue'" in str(failed.value)
    us_dates = DEFAULT_QUERIES["sales_history"].sql.replace(
        "MAX(t.lastmodifieddate), 'YYYY-MM-DD HH24:MI:SS'", "MAX(t.lastmodifieddate), 'MM/DD/YYYY'"
    )
    queries = {"sales_history": {"sql": us_dates, "cursor_column": "lastmodified"}}
    with pytest.raises(DataError, match="not a timestamp Tether can read") as failed:
        list(connect(server, queries=queries).fetch("sales_history", None))
    assert "TO_CHAR(<field>, 'YYYY-MM-DD HH24:MI:SS')" in str(failed.value.hint)
    no_placeholder = {"sales_history": {"sql": "SELECT 1", "cursor_column": "lastmodified"}}
    with pytest.raises(TetherError, match="no ':cursor'"):
        list(connect(server, queries=no_placeholder).fetch("sales_history", None))


def test_past_the_row_cap_the_query_is_asked_again_from_the_newest_value(serve: Serve) -> None:
    server = serve(orders=300, max_rows=200)
    pages = list(connect(server, page_size=100, row_cap=200).fetch("sales_history", None))

    got = {r["external_id"]: r for r in rows(pages)}
    assert sum(r["quantity"] for r in got.values()) == source_totals(server)[0]
    assert max(int(r.params["offset"]) for r in server.requests) == 100
    restarts = [r for r in server.requests if r.params["offset"] == "0"]
    assert len(restarts) >= 2

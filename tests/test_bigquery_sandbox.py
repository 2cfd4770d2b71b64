"""The BigQuery sandbox's wire format and data, seen through plain HTTP (what any client sees)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tether.sandbox import bigquery as sandbox


@pytest.fixture
def server() -> Iterator[sandbox.BigQuerySandbox]:
    with sandbox.serve() as srv:
        yield srv


def insert(client: httpx.Client, sql: str, params: list[dict[str, Any]] | None = None) -> str:
    body = {
        "jobReference": {"projectId": "p", "jobId": "job-1"},
        "configuration": {
            "query": {"query": sql, "useLegacySql": False, "queryParameters": params or []}
        },
    }
    response = client.post("/bigquery/v2/projects/p/jobs", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["jobReference"]["jobId"])


def test_query_results_have_a_typed_schema_and_int64_timestamps(
    server: sandbox.BigQuerySandbox,
) -> None:
    with httpx.Client(base_url=server.url) as client:
        job = insert(
            client,
            "SELECT order_date, sku, quantity, revenue, updated_at FROM `p.sales.daily` "
            "WHERE sku = @sku ORDER BY updated_at LIMIT 3",
            [
                {
                    "name": "sku",
                    "parameterType": {"type": "STRING"},
                    "parameterValue": {"value": "SKU-00001"},
                }
            ],
        )
        page = client.get(
            f"/bigquery/v2/projects/p/queries/{job}",
            params={"maxResults": 2, "formatOptions.useInt64Timestamp": "True"},
        ).json()
        rest = client.get(
            f"/bigquery/v2/projects/p/queries/{job}",
            params={"maxResults": 2, "pageToken": page["pageToken"]},
        ).json()

    assert [(f["name"], f["type"]) for f in page["schema"]["fields"]] == [
        ("order_date", "DATE"),
        ("sku", "STRING"),
        ("quantity", "INTEGER"),
        ("revenue", "FLOAT"),
        ("updated_at", "TIMESTAMP"),
    ]
    assert page["totalRows"] == "3" and page["jobComplete"] is True
    cells = [c["v"] for c in page["rows"][0]["f"]]
    assert cells[1] == "SKU-00001" and cells[2].isdigit()
    assert cells[4].isdigit() and len(cells[4]) == 16  # microseconds since the epoch
    assert len(rest["rows"]) == 1 and "pageToken" not in rest


def test_invalid_query_answers_in_bigquerys_error_format(server: sandbox.BigQuerySandbox) -> None:
    with httpx.Client(base_url=server.url) as client:
        job = insert(client, "SELECT nope FROM sales.daily")
        status = client.get(f"/bigquery/v2/projects/p/jobs/{job}").json()["status"]
        response = client.get(f"/bigquery/v2/projects/p/queries/{job}")

    assert status["state"] == "DONE" and status["errorResult"]["reason"] == "invalidQuery"
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and error["errors"][0]["reason"] == "invalidQuery"
    assert "nope" in error["message"]


def test_deny_access_answers_403_access_denied() -> None:
    with (
        sandbox.serve(sandbox.Scenario(deny_access=True)) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        response = client.post("/bigquery/v2/projects/p/jobs", json={})
    assert response.status_code == 403
    assert response.json()["error"]["errors"][0]["reason"] == "accessDenied"


def test_same_seed_same_data_and_keys_stay_unique_at_volume() -> None:
    a = sandbox.serve(sandbox.Scenario(rows=30_000))
    b = sandbox.serve(sandbox.Scenario(rows=30_000))
    try:
        query = "SELECT * FROM sales.daily ORDER BY order_date, sku, channel"
        assert a.db.execute(query).fetchall() == b.db.execute(query).fetchall()
        count = a.db.execute(
            "SELECT count(*), count(DISTINCT (order_date, sku, channel)), "
            "count(DISTINCT sku) FILTER (WHERE sku LIKE 'UNMAPPED-%') FROM sales.daily"
        ).fetchone()
        assert count == (30_000, 30_000, 3)
    finally:
        a.server_close()
        b.server_close()


def test_default_demo_covers_60_days_50_skus_and_three_channels() -> None:
    srv = sandbox.serve()
    try:
        days, skus, channels = srv.db.execute(
            "SELECT count(DISTINCT order_date), count(DISTINCT sku) FILTER "
            "(WHERE sku LIKE 'SKU-%'), list(DISTINCT channel ORDER BY channel) FROM sales.daily"
        ).fetchone() or (None, None, None)
    finally:
        srv.server_close()
    assert (days, skus, channels) == (60, 50, ["online_store", "pos", "wholesale"])


@pytest.mark.parametrize(
    ("bigquery", "duckdb"),
    [
        ("SELECT * FROM `my-proj.sales.daily`", 'SELECT * FROM "sales"."daily"'),
        ("SELECT * FROM `sales`.`daily`", 'SELECT * FROM "sales"."daily"'),
        ("SELECT * FROM proj.sales.daily", "SELECT * FROM sales.daily"),
        ("WHERE a > @cursor AND b = '@cursor'", "WHERE a > $cursor AND b = '@cursor'"),
        ("WHERE s = 'it''s `x` @y'", "WHERE s = 'it''s `x` @y'"),
    ],
)
def test_sql_translation_keeps_literals_and_binds_parameters(bigquery: str, duckdb: str) -> None:
    assert sandbox.translate_sql(bigquery) == duckdb

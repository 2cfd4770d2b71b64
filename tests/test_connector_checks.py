"""``Connector.check`` (tether doctor's live step) for the warehouse services: the real
google-cloud-bigquery client against the sandbox (dry run), the real redshift_connector driver
against PostgreSQL (``LIMIT 0``). Nothing is fetched and no job is kept."""

from __future__ import annotations

from typing import Any

import pytest

from tether.connectors.bigquery import BigQueryConnector, BigQuerySettings
from tether.connectors.redshift import RedshiftConnector, RedshiftSettings
from tether.errors import AuthError, DataError
from tether.sandbox import bigquery as bq_sandbox
from tether.sandbox.postgres import PASSWORD

pytest_plugins = ["redshift_fixtures"]

BQ_SQL = (
    "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
    "FROM `demo-project.sales.daily` WHERE updated_at > @cursor"
)
BQ_CREDENTIALS = {"project_id": "demo-project", "service_account_json": "unused with base_url"}
PG_SQL = (
    "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
    "FROM sales.daily WHERE updated_at > %(cursor)s"
)


def bigquery(url: str, sql: str = BQ_SQL) -> BigQueryConnector:
    queries = {"sales_history": {"sql": sql, "cursor_column": "updated_at"}}
    return BigQueryConnector(BigQuerySettings(base_url=url, queries=queries), BQ_CREDENTIALS)


def test_bigquery_check_is_a_dry_run_that_keeps_no_job() -> None:
    with bq_sandbox.serve(bq_sandbox.Scenario()) as srv:
        verified = bigquery(srv.url).check(["sales_history"])
        kept = dict(srv.jobs)
        with pytest.raises(DataError, match="was not found"):
            bigquery(srv.url, BQ_SQL.replace("daily", "no_such_table")).check(["sales_history"])
    assert "dry run of 1 queries accepted" in verified and "bytes" in verified
    assert kept == {}


def redshift(credentials: dict[str, str], sql: str = PG_SQL) -> RedshiftConnector:
    settings = RedshiftSettings.model_validate(
        {
            "queries": {"sales_history": {"sql": sql, "cursor_column": "updated_at"}},
            "ssl": False,
            "timeout_s": 10,
        }
    )
    return RedshiftConnector(settings, credentials)


def test_redshift_check_describes_the_query_with_limit_0(redshift_credentials: Any) -> None:
    assert "1 queries described with LIMIT 0" in redshift(redshift_credentials).check(
        ["sales_history"]
    )
    wrong = {**redshift_credentials, "password": "not-" + PASSWORD}
    with pytest.raises(AuthError) as caught:
        redshift(wrong).check(["sales_history"])
    assert PASSWORD not in caught.value.render()
    with pytest.raises(DataError):
        redshift(redshift_credentials, PG_SQL.replace("sales.daily", "sales.nope")).check(
            ["sales_history"]
        )

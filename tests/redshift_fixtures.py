"""pytest fixtures for the Redshift tests: one PostgreSQL server per session behind the wire shim.

Test modules load them with ``pytest_plugins = ["redshift_fixtures"]``. Skips (with the reason)
only when no PostgreSQL binaries can be found; any other start-up failure is an error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tether.sandbox.postgres import (
    DAILY_ROWS,
    DATABASE,
    PASSWORD,
    USER,
    PostgresServer,
    PostgresUnavailable,
    create_sales_daily,
)
from tether.sandbox.redshift_wire import RedshiftWireShim


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        pytest.skip(f"Redshift tests need PostgreSQL: {exc}")
    try:
        create_sales_daily(server, DAILY_ROWS)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redshift_shim(postgres: PostgresServer) -> Iterator[RedshiftWireShim]:
    with RedshiftWireShim(postgres.port) as shim:
        yield shim


@pytest.fixture
def redshift_credentials(redshift_shim: RedshiftWireShim) -> dict[str, str]:
    """Credentials as they arrive from a SOPS file: every value a string."""
    return {
        "host": "127.0.0.1",
        "port": str(redshift_shim.port),
        "database": DATABASE,
        "user": USER,
        "password": PASSWORD,
    }

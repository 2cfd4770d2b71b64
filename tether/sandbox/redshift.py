"""The Redshift sandbox: a real PostgreSQL behind the Redshift wire shim, for the demo.

Redshift speaks the PostgreSQL wire protocol, so the sandbox is a real PostgreSQL server (the
``pgserver`` wheel's binaries, or a system install) holding ``analytics.sales.daily``, with the
shim in ``redshift_wire.py`` in front so the real ``redshift_connector`` is accepted as it is by
Redshift. The demo workspace's ``secrets/redshift_finance.sops.yaml`` points at 127.0.0.1:5439 with
the user and password below. Unlike the HTTP sandboxes it needs a few seconds to start (initdb).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from tether.errors import TetherError
from tether.sandbox.postgres import (
    DATABASE,
    USER,
    PostgresServer,
    PostgresUnavailable,
    create_sales_daily,
)
from tether.sandbox.redshift_wire import RedshiftWireShim

DEMO_PASSWORD = "demo-password"  # DEMO ONLY, as in the demo workspace's encrypted credentials


@dataclass
class Scenario:
    rows: int = 6_000
    """Rows in ``sales.daily`` (``skus`` × 3 channels a day, from 2024-01-01)."""
    skus: int = 200
    """SKU-00000 … : the demo maps 200 of them (and not the ``wholesale`` channel, on purpose)."""
    password: str = DEMO_PASSWORD
    """The password of the ``tether_reader`` user; set another to see AUTH_FAILED."""


class RedshiftSandbox:
    """``serve()`` binds the listening port at once (so a taken port fails early, like the HTTP
    sandboxes); ``start()`` boots PostgreSQL and loads the data."""

    def __init__(self, scenario: Scenario, host: str, port: int) -> None:
        self.scenario = scenario
        self.shim = RedshiftWireShim(upstream_port=0, port=port)  # upstream set in start()
        self.postgres: PostgresServer | None = None

    @property
    def url(self) -> str:
        return f"redshift://{USER}@127.0.0.1:{self.shim.port}/{DATABASE}"

    def start(self) -> Self:
        postgres = PostgresServer(password=self.scenario.password)
        try:
            postgres.start()
        except PostgresUnavailable as exc:
            self.shim.stop()
            raise TetherError(
                f"The Redshift sandbox needs PostgreSQL: {exc}.",
                hint="`pip install pgserver` (make installs it) brings one with no system package.",
            ) from None
        self.postgres = postgres
        create_sales_daily(postgres, self.scenario.rows, skus=self.scenario.skus)
        self.shim.upstream = ("127.0.0.1", postgres.port)
        self.shim.start()
        return self

    def stop(self) -> None:
        self.shim.stop()
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 0
) -> RedshiftSandbox:
    return RedshiftSandbox(scenario or Scenario(), host, port)

"""Redshift connector."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import ClassVar

from tether.connectors.base import (
    CredentialField,
    Cursor,
    Page,
    ServiceSettings,
    ServiceSpec,
    capabilities,
)
from tether.connectors.warehouse import WarehouseSettings


class RedshiftSettings(WarehouseSettings):
    ssl: bool = True


class RedshiftConnector:
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="redshift",
        display_name="Redshift",
        description="AWS data warehouse for sales history and other data",
        capabilities=capabilities(
            "sales_history",
            "sales_orders",
            "pending_sales",
            "warehouse_inventory",
            "products",
            "channels",
            "pricing",
            "forecast_versions",
            "sales_forecast",
        ),
        credential_fields=(
            CredentialField(
                "host",
                "Host",
                type="string",
                required=True,
                secret=False,
                placeholder="cluster.abc123.us-east-1.redshift.amazonaws.com",
                help="",
            ),
            CredentialField(
                "port",
                "Port",
                type="integer",
                required=True,
                secret=False,
                placeholder="5439",
                help="",
            ),
            CredentialField(
                "database",
                "Database",
                type="string",
                required=True,
                secret=False,
                placeholder="analytics",
                help="",
            ),
            CredentialField(
                "user",
                "User",
                type="string",
                required=True,
                secret=False,
                placeholder="tether_reader",
                help="",
            ),
            CredentialField(
                "password",
                "Password",
                type="password",
                required=True,
                secret=True,
                placeholder="",
                help="",
            ),
        ),
        settings_model=RedshiftSettings,
    )

    def __init__(
        self, settings: ServiceSettings, credentials: Mapping[str, str], *, full: bool = False
    ) -> None:
        assert isinstance(settings, RedshiftSettings)
        self.settings = settings
        self.credentials = credentials
        self.full = full

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        raise NotImplementedError("redshift fetching lands with its connector issue")

    def close(self) -> None:
        pass

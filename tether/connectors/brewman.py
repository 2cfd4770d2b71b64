"""Brewman connector."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import ClassVar

from pydantic import Field

from tether.connectors.base import (
    CredentialField,
    Cursor,
    Page,
    ServiceSettings,
    ServiceSpec,
    capabilities,
)


class BrewmanSettings(ServiceSettings):
    history_days: int = Field(default=365, ge=1, le=3650)
    window_days: int = Field(default=7, ge=1, le=366)
    """Initial date-window size; windows shrink when one hits maximum_results."""
    maximum_results: int = Field(default=1000, ge=1, le=10000)


class BrewmanConnector:
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="brewman",
        display_name="Brewman",
        description="Brewery management system",
        capabilities=capabilities("sales_orders", "warehouse_inventory", "products"),
        credential_fields=(
            CredentialField(
                "api_token",
                "API Token",
                type="password",
                required=True,
                secret=True,
                placeholder="",
                help="Brewman → Settings → API",
            ),
            CredentialField(
                "tenant_id",
                "Tenant ID",
                type="string",
                required=True,
                secret=False,
                placeholder="00000000-0000-0000-0000-000000000000",
                help="",
            ),
        ),
        settings_model=BrewmanSettings,
    )

    def __init__(
        self, settings: ServiceSettings, credentials: Mapping[str, str], *, full: bool = False
    ) -> None:
        assert isinstance(settings, BrewmanSettings)
        self.settings = settings
        self.credentials = credentials
        self.full = full

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        raise NotImplementedError("brewman fetching lands with its connector issue")

    def close(self) -> None:
        pass

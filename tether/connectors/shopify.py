"""Shopify connector."""

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


class ShopifySettings(ServiceSettings):
    history_days: int = Field(default=365, ge=1, le=3650)
    """How far back the first (full) sync reaches."""
    page_size: int = Field(default=100, ge=1, le=250)
    """Orders per GraphQL page on incremental syncs (shrunk automatically on MAX_COST_EXCEEDED)."""
    lines_per_order: int = Field(default=50, ge=1, le=250)
    bulk: bool = True
    """Use the Bulk Operations API for full syncs."""
    api_version: str = "2025-10"
    wait_budget_s: float = Field(default=60.0, ge=0)
    """Seconds one sync may wait on throttling before stopping and resuming next run."""


class ShopifyConnector:
    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="shopify",
        display_name="Shopify",
        description="E-commerce platform for sales orders and products",
        capabilities=capabilities("sales_orders", "pending_sales", "products", "channels"),
        credential_fields=(
            CredentialField(
                "store_url",
                "Store URL",
                type="url",
                required=True,
                secret=False,
                placeholder="your-store.myshopify.com",
                help="Your Shopify store's myshopify.com domain",
            ),
            CredentialField(
                "access_token",
                "Admin API Access Token",
                type="password",
                required=True,
                secret=True,
                placeholder="shpat_…",
                help="Shopify Admin → Settings → Apps and sales channels → Develop apps",
            ),
        ),
        settings_model=ShopifySettings,
    )

    def __init__(
        self, settings: ServiceSettings, credentials: Mapping[str, str], *, full: bool = False
    ) -> None:
        assert isinstance(settings, ShopifySettings)
        self.settings = settings
        self.credentials = credentials
        self.full = full

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        raise NotImplementedError("shopify fetching lands with its connector issue")

    def close(self) -> None:
        pass

"""WooCommerce: a built-in service on the declarative REST connector (spec: rest/specs/)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tether.connectors.base import ServiceSettings, ServiceSpec
from tether.connectors.rest.connector import SpecConnector, platform_spec
from tether.connectors.rest.spec import ApiSpec, builtin_spec


class WooCommerceSettings(ServiceSettings):
    store_url: str
    """The store's address, e.g. https://shop.example.com (the API is under /wp-json/wc/v3)."""
    page_size: int = Field(default=100, ge=1, le=100)
    wait_budget_s: float = Field(default=60.0, ge=0)


class WooCommerceConnector(SpecConnector):
    spec: ClassVar[ServiceSpec] = platform_spec(
        builtin_spec("woocommerce"),
        "woocommerce",
        "WooCommerce stores: paid orders, pending orders and products",
        WooCommerceSettings,
    )

    def api_spec(self, settings: ServiceSettings) -> ApiSpec:
        return builtin_spec("woocommerce")

"""BigCommerce: a built-in service on the declarative REST connector (spec: rest/specs/)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tether.connectors.base import ServiceSettings, ServiceSpec
from tether.connectors.rest.connector import SpecConnector, platform_spec
from tether.connectors.rest.spec import ApiSpec, builtin_spec


class BigCommerceSettings(ServiceSettings):
    store_hash: str = Field(pattern=r"^[a-z0-9]+$")
    """From the API path the store shows: https://api.bigcommerce.com/stores/<store_hash>/v3/."""
    page_size: int = Field(default=250, ge=1, le=250)
    wait_budget_s: float = Field(default=60.0, ge=0)


class BigCommerceConnector(SpecConnector):
    spec: ClassVar[ServiceSpec] = platform_spec(
        builtin_spec("bigcommerce"),
        "bigcommerce",
        "BigCommerce stores: paid orders with their products, pending orders, catalog products",
        BigCommerceSettings,
    )

    def api_spec(self, settings: ServiceSettings) -> ApiSpec:
        return builtin_spec("bigcommerce")

"""ShipBob: a built-in service on the declarative REST connector (spec: rest/specs/)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from tether.connectors.base import ServiceSettings, ServiceSpec
from tether.connectors.rest.connector import SpecConnector, platform_spec
from tether.connectors.rest.records import iso_z
from tether.connectors.rest.spec import ApiSpec, builtin_spec


class ShipBobSettings(ServiceSettings):
    page_size: int = Field(default=250, ge=1, le=250)
    wait_budget_s: float = Field(default=60.0, ge=0)


class ShipBobConnector(SpecConnector):
    spec: ClassVar[ServiceSpec] = platform_spec(
        builtin_spec("shipbob"),
        "shipbob",
        "ShipBob 3PL: inventory levels per fulfillment center",
        ShipBobSettings,
    )

    def api_spec(self, settings: ServiceSettings) -> ApiSpec:
        return builtin_spec("shipbob")

    def adjust(self, capability: str, record: dict[str, Any], raw: dict[str, Any]) -> None:
        # ShipBob's levels are "now": they carry no timestamp of their own.
        record["as_of"] = self._as_of

    @property
    def _as_of(self) -> str:
        if not hasattr(self, "_as_of_value"):
            self._as_of_value = iso_z(self.clock())
        return self._as_of_value

"""Amazon SP-API orders: a built-in service on the declarative REST connector.

The spec (``rest/specs/amazon.yaml``) says almost everything: LWA refresh-token auth with the
token in ``x-amz-access-token`` (refreshed on the 403 an expired token gets), getOrders paged by
``NextToken``, ``LastUpdatedAfter`` as the incremental parameter, getOrderItems as a child request
per order. What no spec can say lives here:

* Each operation has its own rate limit (getOrders 0.0167 req/s burst 20, getOrderItems 0.5
  req/s burst 30), so order items are paced by a throttle of their own; the
  ``x-amzn-RateLimit-Limit`` header, when Amazon sends it, is the account's real rate and
  replaces the default. Waiting for a throttle is progress (``waited_s``), never an error.
* ``MarketplaceIds`` and ``FulfillmentChannels`` come from the settings: FBA (``AFN``) and
  merchant-fulfilled (``MFN``) orders are separate channels, and either can be left out.
* ``ItemPrice`` is the price of the whole line; the canonical ``unit_price`` is per unit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import Field

from tether.connectors.base import ServiceSettings, ServiceSpec
from tether.connectors.rest.connector import SpecConnector, platform_spec
from tether.connectors.rest.paginate import Answer, PageRequest
from tether.connectors.rest.records import RecordMapper
from tether.connectors.rest.spec import ApiSpec, Child, Resource, builtin_spec
from tether.connectors.rest.throttle import Throttle

FulfillmentChannel = Literal["AFN", "MFN"]
US_MARKETPLACE = "ATVPDKIKX0DER"
RATE_HEADER = "x-amzn-RateLimit-Limit"


class AmazonSettings(ServiceSettings):
    marketplace_ids: list[str] = Field(default_factory=lambda: [US_MARKETPLACE], min_length=1)
    """Marketplaces to read orders from (Amazon.com: ATVPDKIKX0DER). ``base_url`` picks the
    region: https://sellingpartnerapi-na.amazon.com (default), -eu or -fe."""
    fulfillment_channels: list[FulfillmentChannel] = Field(
        default_factory=lambda: list[FulfillmentChannel](("AFN", "MFN")), min_length=1
    )
    """``AFN``: Fulfilled by Amazon (FBA); ``MFN``: fulfilled by the seller (FBM)."""
    token_url: str | None = None
    """Override the Login with Amazon token endpoint (a sandbox, a proxy)."""
    page_size: int = Field(default=100, ge=1, le=100)
    wait_budget_s: float = Field(default=60.0, ge=0)
    """Seconds one capability may wait on 429s before stopping until the next run."""
    orders_rate: float = Field(default=0.0167, gt=0)
    orders_burst: int = Field(default=20, ge=1)
    items_rate: float = Field(default=0.5, gt=0)
    items_burst: int = Field(default=30, ge=1)
    """The published per-operation limits; raise them only if the account's usage plan is
    higher (the ``x-amzn-RateLimit-Limit`` header, when sent, wins anyway)."""


class AmazonConnector(SpecConnector):
    spec: ClassVar[ServiceSpec] = platform_spec(
        builtin_spec("amazon"),
        "amazon",
        "Amazon Selling Partner API: paid and pending orders with their items, FBA apart from "
        "merchant-fulfilled",
        AmazonSettings,
    )

    def __init__(
        self,
        settings: ServiceSettings,
        *args: Any,
        monotonic: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        """``monotonic`` is the throttles' clock (tests share one with the sandbox's buckets)."""
        super().__init__(settings, *args, **kwargs)
        assert isinstance(settings, AmazonSettings)
        sleep = self.policy.sleep
        self.throttle = Throttle(
            settings.orders_rate, settings.orders_burst, clock=monotonic, sleep=sleep
        )
        self.items_throttle = Throttle(
            settings.items_rate, settings.items_burst, clock=monotonic, sleep=sleep
        )

    def api_spec(self, settings: ServiceSettings) -> ApiSpec:
        assert isinstance(settings, AmazonSettings)
        api = builtin_spec("amazon")
        params = {
            **api.params,
            "MarketplaceIds": ",".join(settings.marketplace_ids),
            "FulfillmentChannels": ",".join(settings.fulfillment_channels),
        }
        return api.model_copy(update={"params": params})

    def _children(self, child: Child, parent: dict[str, Any]) -> list[dict[str, Any]]:
        # getOrderItems has its own bucket: pace it apart from getOrders.
        orders, self.throttle = self.throttle, self.items_throttle
        try:
            return super()._children(child, parent)
        finally:
            self.items_throttle, self.throttle = self.throttle, orders

    def _take_throttled(self) -> float:
        waited = super()._take_throttled() + self.items_throttle.waited_s
        self.items_throttle.waited_s = 0.0
        return waited

    def _get(
        self, resource: Resource, request: PageRequest, mapper: RecordMapper
    ) -> tuple[Answer, list[dict[str, Any]]]:
        answer, raws = super()._get(resource, request, mapper)
        rate = _rate(answer.headers.get(RATE_HEADER))
        if rate is not None:
            self.throttle.rate = rate  # the account's real limit for this operation
        return answer, raws

    def adjust(self, capability: str, record: dict[str, Any], raw: dict[str, Any]) -> None:
        for line in record.get("lines") or ():
            total, quantity = line.get("unit_price"), line.get("quantity")
            if isinstance(total, int | float) and isinstance(quantity, int) and quantity > 0:
                line["unit_price"] = round(total / quantity, 4)


def _rate(value: str | None) -> float | None:
    try:
        rate = float(value) if value else None
    except ValueError:
        return None
    return rate if rate is not None and rate > 0 else None

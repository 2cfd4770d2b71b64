"""Realistic local servers of each service's real API, for the demo and the tests.

Each module exposes ``serve(scenario=None, host="127.0.0.1", port=0) -> SandboxServer`` (not yet
started) and a ``Scenario`` dataclass of switches. ``tether sandbox serve`` runs them standalone.
"""

from __future__ import annotations

from types import ModuleType

SANDBOXES = {
    "shopify": "tether.sandbox.shopify",
    "bigquery": "tether.sandbox.bigquery",
    "trackstar": "tether.sandbox.trackstar",
    "brewman": "tether.sandbox.brewman",
    "redshift": "tether.sandbox.redshift",
    "woocommerce": "tether.sandbox.woocommerce",
    "bigcommerce": "tether.sandbox.bigcommerce",
    "shipbob": "tether.sandbox.shipbob",
    "rest": "tether.sandbox.acme_orders",
    "amazon": "tether.sandbox.amazon",
    "netsuite": "tether.sandbox.netsuite",
}
"""Service -> module. Redshift's is a real PostgreSQL behind the Redshift wire shim."""


def sandbox_module(service: str) -> ModuleType:
    """The sandbox module of ``service`` (``KeyError`` if none), imported now: each import is
    written out, so the import graph (and its linter) sees every one."""
    match SANDBOXES[service]:
        case "tether.sandbox.shopify":
            from tether.sandbox import shopify

            return shopify
        case "tether.sandbox.bigquery":
            from tether.sandbox import bigquery

            return bigquery
        case "tether.sandbox.trackstar":
            from tether.sandbox import trackstar

            return trackstar
        case "tether.sandbox.brewman":
            from tether.sandbox import brewman

            return brewman
        case "tether.sandbox.redshift":
            from tether.sandbox import redshift

            return redshift
        case "tether.sandbox.woocommerce":
            from tether.sandbox import woocommerce

            return woocommerce
        case "tether.sandbox.bigcommerce":
            from tether.sandbox import bigcommerce

            return bigcommerce
        case "tether.sandbox.shipbob":
            from tether.sandbox import shipbob

            return shipbob
        case "tether.sandbox.acme_orders":
            from tether.sandbox import acme_orders

            return acme_orders
        case "tether.sandbox.amazon":
            from tether.sandbox import amazon

            return amazon
        case "tether.sandbox.netsuite":
            from tether.sandbox import netsuite

            return netsuite
    raise KeyError(service)


DEMO_PORTS = {
    "shopify": 8611,
    "bigquery": 8612,
    "trackstar": 8613,
    "brewman": 8614,
    "redshift": 5439,  # Redshift's own default port, as in the demo's encrypted credentials
    "amazon": 8621,
    "netsuite": 8622,
    "woocommerce": 8631,
    "bigcommerce": 8632,
    "shipbob": 8633,
    "rest": 8634,
}
"""Fixed loopback ports the bundled demo workspace points its ``settings.base_url`` at."""

"""Realistic local servers of each service's real API, for the demo and the tests.

Each module exposes ``serve(scenario=None, host="127.0.0.1", port=0) -> SandboxServer`` (not yet
started) and a ``Scenario`` dataclass of switches. ``tether sandbox serve`` runs them standalone.
"""

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

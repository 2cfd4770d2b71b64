"""Services are discovered, not hard-coded: the ``tether.connectors`` entry-point group.

Tether's own five connectors are registered in its ``pyproject.toml``; a third-party package adds
a service by declaring ``[project.entry-points."tether.connectors"] myservice = "pkg.mod:Cls"``.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from tether.errors import TetherError

if TYPE_CHECKING:
    from tether.connectors.base import Connector, ServiceSpec

GROUP = "tether.connectors"

BUILTIN = {
    "shopify": "tether.connectors.shopify:ShopifyConnector",
    "bigquery": "tether.connectors.bigquery:BigQueryConnector",
    "redshift": "tether.connectors.redshift:RedshiftConnector",
    "trackstar": "tether.connectors.trackstar:TrackStarConnector",
    "brewman": "tether.connectors.brewman:BrewmanConnector",
    "rest": "tether.connectors.rest.connector:RestConnector",
    "woocommerce": "tether.connectors.woocommerce:WooCommerceConnector",
    "bigcommerce": "tether.connectors.bigcommerce:BigCommerceConnector",
    "shipbob": "tether.connectors.shipbob:ShipBobConnector",
    "amazon": "tether.connectors.amazon:AmazonConnector",
    "netsuite": "tether.connectors.netsuite:NetSuiteConnector",
}


def _load(target: str) -> type[Connector]:
    module_name, _, attr = target.partition(":")
    cls: type[Connector] = getattr(importlib.import_module(module_name), attr)
    return cls


@cache
def connectors() -> dict[str, type[Connector]]:
    """Every known service, by name. Built-ins first; entry points may add or replace."""
    found = {name: _load(target) for name, target in BUILTIN.items()}
    for ep in entry_points(group=GROUP):
        if ep.value != BUILTIN.get(ep.name):
            try:
                found[ep.name] = ep.load()
            except Exception as exc:  # a broken plugin must not break the tool
                raise TetherError(
                    f"Connector plugin '{ep.name}' ({ep.value}) failed to load: {exc}",
                    hint="Fix or uninstall the package that provides it.",
                ) from exc
    return found


def services() -> dict[str, ServiceSpec]:
    return {name: cls.spec for name, cls in connectors().items()}


def connector_class(service: str) -> type[Connector]:
    try:
        return connectors()[service]
    except KeyError:
        known = ", ".join(sorted(connectors()))
        raise TetherError(
            f"Unknown service '{service}'.", hint=f"Known services: {known}."
        ) from None


def preload(service_names: list[str]) -> list[str]:
    """Import, now, the modules the connectors of these services import when they fetch.

    The daemon calls this once at start: every sync forks a fetch worker, which then inherits
    them already imported (``redshift_connector`` alone takes ~0.3 s) instead of importing them
    itself, possibly while another thread of the daemon holds an import lock the fork copied.
    A connector lists its modules in an optional ``preload`` class attribute. Returns the
    modules imported; one that fails to import is left to fail in the sync, where it is reported.
    """
    known = connectors()
    names = sorted(
        {m for s in service_names if s in known for m in getattr(known[s], "preload", ())}
    )
    done = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # reported by the sync that needs it, with its own message
            continue
        done.append(name)
    return done

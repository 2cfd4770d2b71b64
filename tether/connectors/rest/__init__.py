"""The declarative REST connector: an API described by a YAML spec instead of a Python module.

A spec (``spec.py``) says where the API is, how to authenticate (``auth/``, one module per kind),
how to page (``paginate.py``), where the records are and how their fields become Tether's
canonical records (``records.py``), how fast it may be called (``throttle.py``), and what is
incremental. ``connector.py`` runs a spec through the shared HTTP policy (``connectors/http.py``).

``service: rest`` reads a spec carried by the workspace (``specs/<name>.yaml``, "Custom: API
integrations"); the built-in platforms (WooCommerce, BigCommerce, ShipBob, ...) ship their specs in
``specs/`` of this package and add code only for what no spec can say. See docs/rest.md.
"""

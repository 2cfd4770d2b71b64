"""Mapping one page of canonical records, whatever its capability (shapes in
``tether.connectors.base``).

A page becomes a ``MappedPage``: one ``Item`` per record (sales orders, products, channels,
forecast versions), or one aggregate ``Item`` per page for aggregate capabilities (``records`` =
row count), each with a status and the per-record / per-line ``RecordError``\\ s; and the domain
rows to upsert into ``data.*`` (``Upsert``: delete these keys, insert these rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tether.connectors.base import AGGREGATE_CAPABILITIES
from tether.engine.mapping.columnar import map_aggregate
from tether.engine.mapping.model import MappedPage, Mappings
from tether.engine.mapping.orders import map_orders
from tether.engine.mapping.rows import SIMPLE, map_simple


def map_page(
    capability: str,
    records: Sequence[Any],
    mappings: Mappings,
    *,
    dry_run: bool = False,
    label: str = "page",
) -> MappedPage:
    """Map one page of canonical records (``label`` names the aggregate item of the page)."""
    if capability in AGGREGATE_CAPABILITIES:
        return map_aggregate(capability, records, mappings, dry_run=dry_run, label=label)
    if capability in ("sales_orders", "pending_sales"):
        return map_orders(capability, records, mappings, dry_run=dry_run)
    mapper = SIMPLE.get(capability)
    if mapper is None:
        raise ValueError(f"no mapping for capability {capability!r}")
    table, map_row = mapper
    return map_simple(table, map_row, records, mappings, dry_run=dry_run)

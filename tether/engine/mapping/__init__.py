"""Mapping canonical records to Tether codes (the modules move in here first, split next)."""

from tether.engine.mapping.columnar import arrow_schema, upsert_table
from tether.engine.mapping.orders import (
    CAPABILITY_TABLES,
    TABLES,
    Item,
    MappedPage,
    Mappings,
    RecordError,
    TableSpec,
    Upsert,
    map_page,
)

__all__ = [
    "CAPABILITY_TABLES",
    "TABLES",
    "Item",
    "MappedPage",
    "Mappings",
    "RecordError",
    "TableSpec",
    "Upsert",
    "arrow_schema",
    "map_page",
    "upsert_table",
]

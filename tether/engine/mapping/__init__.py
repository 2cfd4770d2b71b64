"""Mapping canonical records to Tether codes: pure functions from records to items and rows.

By concern: ``tables`` (the ``data.*`` table specs), ``model`` (what mapping takes and gives),
``fields`` (reading record fields, error messages), ``orders`` and ``rows`` (the row path),
``columnar`` (aggregate pages column by column), ``pages`` (one page, any capability).
"""

from tether.engine.mapping.columnar import arrow_schema, upsert_table
from tether.engine.mapping.model import Item, MappedPage, Mappings, RecordError, Upsert
from tether.engine.mapping.pages import map_page
from tether.engine.mapping.tables import CAPABILITY_TABLES, TABLES, TableSpec

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

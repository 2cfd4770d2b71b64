"""Content hashes of records: how a sync knows a fetched record is unchanged since it was stored.

A record's hash is DuckDB's ``hash`` of each row it becomes (table name first), summed so the
order of its lines does not matter, and hashed again. Rows are hashed as ``data.*`` stores them
(after the casts of the INSERT), so the hash of a page's rows and the one recomputed from
``data.*`` after a first sync agree. Hashes are kept (``sync_hashes``) and compared by later
runs, so they depend on the values alone: never on the process (as Python's ``hash`` of a str
does).
"""

from __future__ import annotations

from collections.abc import Sequence

from tether.engine.mapping import TableSpec

STORED_VALUE = {
    "str": "{0}",
    "float": "{0}",
    "bool": "{0}",
    # mapping validated these ISO-8601 texts; TRY_CAST keeps one odd value from failing a page
    "ts": "TRY_CAST({0} AS TIMESTAMPTZ)",
    "date": "TRY_CAST({0} AS DATE)",
}
"""SQL per ``TableSpec`` column kind: a page's value (Arrow, dates and timestamps as text) as
``data.*`` stores it."""


def stored_values(spec: TableSpec) -> str:
    """SQL: the columns of a page's rows of ``spec``, as ``data.*`` stores them."""
    return ", ".join(STORED_VALUE[kind].format(name) for name, kind in spec.columns)


def row_hashes(spec: TableSpec, source: str, *, stored: bool) -> str:
    """SQL: (k, h) for each row of ``source``: its record's key and the row's hash.

    ``stored``: the rows are read from ``data.*`` (typed already); else from a page's Arrow
    table, cast as the INSERT casts them.
    """
    columns = ", ".join(spec.column_names) if stored else stored_values(spec)
    return f"SELECT {spec.key} AS k, hash('{spec.name}', {columns}) AS h FROM {source}"


def record_hashes(rows: Sequence[str]) -> str:
    """SQL: (k, h) per record, from the ``row_hashes`` of all the rows it becomes, in any
    order (``sum`` makes the hash of a record independent of the order of its lines)."""
    return f"SELECT k, hash(sum(h)) AS h FROM ({' UNION ALL '.join(rows)}) GROUP BY k"

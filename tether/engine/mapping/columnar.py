"""Mapping aggregate pages column by column, into one Arrow table per page.

Aggregate capabilities (``sales_history``, ``warehouse_inventory``, ``pricing``,
``sales_forecast``) bring pages of thousands of flat rows. Mapping them row by row costs a dozen
Python calls per row; here each field is read once as a column and handled in bulk: its value
types checked at once, numbers converted by Arrow, dates and timestamps parsed once per distinct
value, SKU / channel / warehouse ids looked up with one ``map`` over the column. The page's rows
reach the writer as one Arrow table.

Records the column path does not take as they are — a value of an unusual type, a missing or
unmapped id, a date or number that does not convert, a record that is not an object — go through
the row mappers of ``rows`` one by one. Their rows, errors and messages are
therefore exactly those of the row path, and so is the aggregate item built from them.

``pyarrow.compute`` is not needed on this path (its import alone costs ~50 ms per process).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from itertools import compress
from typing import Any

from tether.connectors.base import ColumnRecords
from tether.engine.mapping.fields import (
    InvalidRecord,
    invalid,
    read_date,
    record_id,
    record_label,
    summarise,
    timestamp_value,
    unmapped_channel,
    unmapped_sku,
    unmapped_warehouse,
)
from tether.engine.mapping.model import (
    Item,
    MappedPage,
    Mappings,
    RecordError,
    Upsert,
    loaded_status,
)
from tether.engine.mapping.rows import AGGREGATE
from tether.engine.mapping.tables import TableSpec

_FAIL = object()
"""A value the column path leaves to the row path (which converts it or says why not)."""

_NONE = type(None)
_TEXT: frozenset[type] = frozenset({str, _NONE})
_NUMBER: frozenset[type] = frozenset({int, float, _NONE})
_DATE: frozenset[type] = frozenset({date, _NONE})

_ID_KINDS = {"external_id": "id", "sku": "sku", "channel": "channel", "warehouse": "warehouse"}
_TYPE_KINDS = {"str": "text", "float": "number", "date": "date", "ts": "ts"}


def column_kind(name: str, kind: str) -> str:
    """How a ``TableSpec`` column is read: an id to check or map, or a value to convert."""
    return _ID_KINDS.get(name) or _TYPE_KINDS[kind]


def arrow_schema(table: TableSpec) -> Any:
    """The Arrow schema of a ``data.*`` table's rows (dates as dates, timestamps as ISO text)."""
    import pyarrow as pa

    types = {"str": pa.string(), "float": pa.float64(), "bool": pa.bool_(), "date": pa.date32()}
    return pa.schema([(name, types.get(kind, pa.string())) for name, kind in table.columns])


# ---------------------------------------------------------------------------------- the mapper


def map_aggregate(
    capability: str,
    records: Sequence[Any],
    mappings: Mappings,
    *,
    dry_run: bool,
    label: str,
) -> MappedPage:
    """One aggregate item for the page, and its loaded rows as one Arrow table."""
    table, map_row = AGGREGATE[capability]
    upsert = Upsert(table)
    if not records:
        return MappedPage([], [upsert])
    slow: set[int] = set()
    """Positions of the records for the row path."""
    column_of = _column_reader(records, slow)
    misses: list[tuple[str, list[Any], list[int]]] = []
    columns = [
        _column(column_kind(name, kind), column_of(name), name, mappings, slow, misses)
        for name, kind in table.columns
    ]
    unmapped = _unmapped(columns[0], misses, slow)
    errors: list[RecordError] = []
    not_loaded: list[Any] = []
    if slow or unmapped:
        loaded = [True] * len(records)
        for i in sorted(slow.union(unmapped)):
            record = records[i]
            if i in unmapped:
                errors.extend(unmapped[i])
                not_loaded.append(record)
                loaded[i] = False
                continue
            try:
                external_id = record_id(record)
                row, row_errors = map_row(external_id, record, mappings)
            except InvalidRecord as exc:
                row, row_errors = None, [invalid(record_label(record), str(exc))]
            if row is None:
                errors.extend(row_errors)
                not_loaded.append(record)
                loaded[i] = False
                continue
            _put_row(columns, i, row, table)
        columns = [list(compress(values, loaded)) for values in columns]
    count = len(columns[0])
    if count:
        upsert.keys = columns[0]
        upsert.arrow.append(_arrow_table(table, columns))
    item = _item(label, len(records), count, errors, not_loaded, dry_run)
    return MappedPage([item], [upsert])


def _column_reader(records: Sequence[Any], slow: set[int]) -> Callable[[str], list[Any]]:
    """How to read one field of every record: straight from ``ColumnRecords``, else from each
    dict (records that are not objects join ``slow``, for the row path to say why)."""
    if isinstance(records, ColumnRecords):
        return lambda name: list(records.column(name))  # a copy: rows of the row path go in it
    rows: Sequence[Any] = records
    if not all(r.__class__ is dict for r in records):
        slow.update(i for i, r in enumerate(records) if r.__class__ is not dict)
        rows = [r if r.__class__ is dict else {} for r in records]
    return lambda name: [r.get(name) for r in rows]


def _item(
    label: str,
    records: int,
    loaded: int,
    errors: list[RecordError],
    not_loaded: list[Any],
    dry_run: bool,
) -> Item:
    """The page's aggregate item: its status, counts, per-record errors and unloaded records."""
    failed = len(not_loaded)
    status = "partial_mapped" if loaded else "failed"
    if not failed:
        status = loaded_status(dry_run)
    code, message = summarise(errors)
    if failed:
        message = f"{failed} of {records} records not mapped: {message}"
    return Item(
        label,
        status,
        code,
        message,
        records=records,
        loaded=loaded,
        failed=failed,
        aggregate=True,
        payload=not_loaded or None,
        errors=errors,
    )


def _put_row(columns: list[list[Any]], i: int, row: tuple[Any, ...], table: TableSpec) -> None:
    """Put a row of the row path (dates as ISO text) at position ``i`` of the columns."""
    for values, value, (_, kind) in zip(columns, row, table.columns, strict=True):
        values[i] = date.fromisoformat(value) if kind == "date" and value is not None else value


def _arrow_table(table: TableSpec, columns: list[list[Any]]) -> Any:
    import pyarrow as pa

    schema = arrow_schema(table)
    arrays = [pa.array(values, f.type) for values, f in zip(columns, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


# ---------------------------------------------------------------------------------- columns


def _unmapped(
    ids: list[Any], misses: list[tuple[str, list[Any], list[int]]], slow: set[int]
) -> dict[int, list[RecordError]]:
    """Position → errors of the records whose only problem is unmapped ids (as the row path
    reports them: one error per unmapped id, in column order)."""
    found: dict[int, list[RecordError]] = {}
    for kind, values, positions in misses:
        error = _UNMAPPED[kind]
        for i in positions:
            if i not in slow:
                found.setdefault(i, []).append(error(values[i], ids[i]))
    return found


_UNMAPPED: dict[str, Callable[[str, str], RecordError]] = {
    "sku": unmapped_sku,
    "channel": unmapped_channel,
    "warehouse": unmapped_warehouse,
}


def _column(
    kind: str,
    values: list[Any],
    key: str,
    mappings: Mappings,
    slow: set[int],
    misses: list[tuple[str, list[Any], list[int]]],
) -> list[Any]:
    """The column's values as the table stores them; records it cannot take join ``slow``, and
    unmapped ids ``misses``."""
    if kind == "number":
        return _numbers(values, slow)
    if kind == "date":
        if _DATE.issuperset(map(type, values)):
            return values
        return _convert(values, _date_converter(key), slow)
    if kind == "ts":
        return _convert(values, _timestamp_converter(key), slow)
    if not _TEXT.issuperset(map(type, values)):
        values = _leave(values, _TEXT, slow)  # the row path converts them with str()
    if kind == "text":
        return values
    if kind == "id":
        if None in values or "" in values:
            slow.update(i for i, v in enumerate(values) if not v)
        return values
    lookup = {"sku": mappings.skus, "channel": mappings.channels, "warehouse": mappings.warehouses}
    codes = list(map(lookup[kind].get, values))
    if "" in lookup[kind]:
        codes = [c if v else None for v, c in zip(values, codes, strict=True)]
    if None in codes:
        # an empty id: the row path says which (a channel may be empty: it maps to null)
        missing = [i for i, (v, c) in enumerate(zip(values, codes, strict=True)) if c is None]
        slow.update(i for i in missing if not values[i] and kind != "channel")
        misses.append((kind, values, [i for i in missing if values[i]]))
    return codes


def _leave(values: list[Any], types: frozenset[type], slow: set[int]) -> list[Any]:
    """The values with those of other types left to the row path (null here)."""
    out = list(values)
    for i, v in enumerate(values):
        if v.__class__ not in types:
            slow.add(i)
            out[i] = None
    return out


def _numbers(values: list[Any], slow: set[int]) -> list[Any]:
    """Floats and ints (bools, text and decimals go to the row path)."""
    import pyarrow as pa

    if not _NUMBER.issuperset(map(type, values)):
        values = _leave(values, _NUMBER, slow)
    try:
        pa.array(values, pa.float64())
    except (pa.ArrowInvalid, OverflowError):
        # an int beyond 2**53: float() takes it, Arrow would not convert it exactly
        values = _leave(values, frozenset({float, _NONE}), slow)
    return values


def _date_converter(key: str) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        try:
            text = read_date({key: value}, key)
        except InvalidRecord:
            return _FAIL
        return None if text is None else date.fromisoformat(text)

    return convert


def _timestamp_converter(key: str) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        try:
            return timestamp_value(value, key)
        except InvalidRecord:
            return _FAIL

    return convert


def _convert(values: list[Any], convert: Callable[[Any], Any], slow: set[int]) -> list[Any]:
    """``convert`` each value (once per distinct text); a value it fails goes to the row path."""
    if _TEXT.issuperset(map(type, values)):
        memo = {v: convert(v) for v in set(values)}
        out = [memo[v] for v in values]
    else:
        # datetimes one by one: equal instants in other zones have other dates and texts
        out = [convert(v) if v.__class__ in (str, datetime, date, _NONE) else _FAIL for v in values]
    if _FAIL in out:
        for i, v in enumerate(out):
            if v is _FAIL:
                slow.add(i)
                out[i] = None
    return out


# ---------------------------------------------------------------------------------- the writer


def upsert_table(upsert: Upsert) -> Any:
    """The upsert's rows (tuples, then Arrow tables) as one table: the last copy of each record."""
    import pyarrow as pa

    table = upsert.table
    tables = list(upsert.arrow)
    if upsert.rows:
        columns: list[list[Any]] = [[None] * len(upsert.rows) for _ in table.columns]
        for i, row in enumerate(upsert.rows):
            _put_row(columns, i, row, table)
        tables.insert(0, _arrow_table(table, columns))
    data = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    keys = data.column(table.key).to_pylist()
    if table.key != "external_id":
        keys = list(zip(keys, data.column("external_id").to_pylist(), strict=True))
    last = {key: i for i, key in enumerate(keys)}
    if len(last) == data.num_rows:
        return data
    return data.take(pa.array(sorted(last.values()), pa.int64()))

"""Mapping canonical records to Tether codes: pure functions from records to items and rows.

A page of canonical records (shapes in ``tether.connectors.base``) becomes a ``MappedPage``:

* one ``Item`` per record (sales orders, products, channels, forecast versions), or one aggregate
  ``Item`` per page for aggregate capabilities (``records`` = row count), each with a status and
  the per-record / per-line ``RecordError``\\ s;
* the domain rows to upsert into ``data.*`` (``Upsert``: delete these keys, insert these rows).

SKU, channel and warehouse external ids resolve through ``Mappings``: exact, case-sensitive, a row
for the integration wins over a row for every integration (``integration_id = ''``).

Statuses (DESIGN §6): ``success`` (loaded), ``mapped`` (fully mapped in a dry run, not saved),
``partial_mapped`` (mapped part saved, the rest recorded as errors), ``failed`` (nothing saved),
``skipped`` (with the reason). Items not fully loaded keep their raw payload so ``tether retry``
can re-map them later without calling the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import Any

from tether.connectors.base import AGGREGATE_CAPABILITIES

UNMAPPED_SKU = "UNMAPPED_SKU"
UNMAPPED_CHANNEL = "UNMAPPED_CHANNEL"
UNMAPPED_WAREHOUSE = "UNMAPPED_WAREHOUSE"
INVALID_RECORD = "INVALID_RECORD"


# --------------------------------------------------------------------------------------- mappings


@dataclass(frozen=True)
class Mappings:
    """External id → Tether code, per kind, already resolved for one integration."""

    skus: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    warehouses: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[str]], integration_id: str) -> Mappings:
        """Build from ``(kind, integration_id, external_id, target)`` rows of the mappings table.

        Rows for other integrations are ignored; a row for this integration wins over a row
        for every integration (``''``), whatever the order of ``rows``.
        """
        by_kind: dict[str, dict[str, str]] = {"sku": {}, "channel": {}, "warehouse": {}}
        specific: list[Sequence[str]] = []
        for row in rows:
            kind, owner = row[0], row[1]
            if kind not in by_kind:
                continue
            if owner == "":
                by_kind[kind][row[2]] = row[3]
            elif owner == integration_id:
                specific.append(row)
        for kind, _, external_id, target in specific:
            by_kind[kind][external_id] = target
        return cls(by_kind["sku"], by_kind["channel"], by_kind["warehouse"])


# ------------------------------------------------------------------------------------ the output


@dataclass(frozen=True)
class RecordError:
    """One problem inside an item: a record of an aggregate, or a line of an order."""

    external_id: str | None
    code: str
    message: str
    sku: str | None = None
    channel: str | None = None
    warehouse: str | None = None


@dataclass(slots=True)
class Item:
    external_id: str
    status: str
    error_code: str | None = None
    error_message: str | None = None
    records: int = 1
    loaded: int = 0
    """Records of this item saved (or, in a dry run, that would be saved)."""
    failed: int = 0
    """Records of this item that could not be mapped."""
    aggregate: bool = False
    payload: Any = None
    """Raw record (or, for aggregates, the records not loaded) kept for re-mapping."""
    errors: Sequence[RecordError] = ()
    supersedes: tuple[int, int] | None = None
    """(execution_id, id) of the older item this one re-processes (retry, manual re-mapping)."""


@dataclass(frozen=True)
class TableSpec:
    """A ``data.*`` table the engine writes: its columns (in row-tuple order) and their types."""

    name: str
    key: str
    """Column whose values are deleted before inserting (the upsert key)."""
    columns: tuple[tuple[str, str], ...]
    """(name, type) with type in str | float | ts | date | bool."""

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _spec(name: str, key: str, columns: str) -> TableSpec:
    pairs = tuple(tuple(c.split(":")) for c in columns.split())
    return TableSpec(name, key, pairs)  # type: ignore[arg-type]


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        _spec(
            "sales_orders",
            "external_id",
            "external_id:str order_number:str channel:str channel_external_id:str ordered_at:ts "
            "updated_at:ts currency:str financial_status:str total:float pending:bool",
        ),
        _spec(
            "sales_order_lines",
            "order_external_id",
            "order_external_id:str external_id:str sku:str sku_external_id:str quantity:float "
            "unit_price:float warehouse:str current_quantity:float",
        ),
        _spec(
            "pending_sales",
            "order_external_id",
            "order_external_id:str external_id:str order_number:str channel:str ordered_at:ts "
            "sku:str sku_external_id:str quantity:float current_quantity:float",
        ),
        _spec(
            "sales_history",
            "external_id",
            "external_id:str date:date sku:str channel:str quantity:float revenue:float",
        ),
        _spec(
            "inventory_levels",
            "external_id",
            "external_id:str warehouse:str sku:str on_hand:float available:float as_of:ts",
        ),
        _spec(
            "products",
            "external_id",
            "external_id:str sku:str sku_external_id:str title:str price:float updated_at:ts",
        ),
        _spec("channels", "external_id", "external_id:str channel:str name:str"),
        _spec(
            "prices",
            "external_id",
            "external_id:str sku:str channel:str price:float currency:str valid_from:date",
        ),
        _spec("forecast_versions", "external_id", "external_id:str name:str created_at:ts"),
        _spec(
            "sales_forecasts",
            "external_id",
            "external_id:str version:str date:date sku:str channel:str quantity:float",
        ),
    )
}


CAPABILITY_TABLES: dict[str, tuple[str, ...]] = {
    "sales_orders": ("sales_orders", "sales_order_lines"),
    "pending_sales": ("pending_sales",),
    "products": ("products",),
    "channels": ("channels",),
    "forecast_versions": ("forecast_versions",),
    "sales_history": ("sales_history",),
    "warehouse_inventory": ("inventory_levels",),
    "pricing": ("prices",),
    "sales_forecast": ("sales_forecasts",),
}
"""The ``data.*`` tables each capability writes."""


@dataclass
class Upsert:
    """Rows for one ``data.*`` table: delete ``keys`` (by ``table.key``), then insert ``rows``."""

    table: TableSpec
    keys: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    arrow: list[Any] = field(default_factory=list)
    """More rows, as Arrow tables (``columnar.arrow_schema``) inserted after ``rows``."""
    prepared: Any = None
    """``rows`` and ``arrow`` as the one Arrow table to insert (``writer.prepare_upsert``)."""


@dataclass
class MappedPage:
    items: list[Item]
    upserts: list[Upsert]
    removals: list[Upsert] = field(default_factory=list)
    """Keys deleted from another capability's tables in the same transaction: an order that
    moved (a pending order now paid leaves ``pending_sales`` as it enters ``sales_orders``)."""

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pages cross from the fetch worker by pickle: items as plain tuples pickle several
        # times faster than 1,000s of slotted dataclasses (whose state is built in Python).
        items = list(map(_ITEM_FIELDS, self.items))
        return (_unpickle_page, (items, self.upserts, self.removals))


_ITEM_FIELDS = attrgetter(*(f.name for f in fields(Item)))


def _unpickle_page(
    items: list[tuple[Any, ...]], upserts: list[Upsert], removals: list[Upsert] | None = None
) -> MappedPage:
    return MappedPage([Item(*values) for values in items], upserts, removals or [])


# ------------------------------------------------------------------------------------- messages


def unmapped_sku(sku: str, line: str | None = None) -> RecordError:
    return RecordError(
        line, UNMAPPED_SKU, f"Unmapped SKU '{sku}': no row in mappings/skus.csv", sku=sku
    )


def unmapped_channel(channel: str | None, record: str | None = None) -> RecordError:
    if not channel:
        return RecordError(record, UNMAPPED_CHANNEL, "Record has no channel to map", channel="")
    return RecordError(
        record,
        UNMAPPED_CHANNEL,
        f"Unmapped channel '{channel}': no row in mappings/channels.csv",
        channel=channel,
    )


def unmapped_warehouse(warehouse: str, record: str | None = None) -> RecordError:
    return RecordError(
        record,
        UNMAPPED_WAREHOUSE,
        f"Unmapped warehouse '{warehouse}': no row in mappings/warehouses.csv",
        warehouse=warehouse,
    )


class InvalidRecord(Exception):
    """A canonical record is missing a field or has one of the wrong type."""


def invalid(external_id: str | None, message: str) -> RecordError:
    return RecordError(external_id, INVALID_RECORD, f"Invalid record: {message}")


def summarise(errors: Sequence[RecordError]) -> tuple[str | None, str | None]:
    """The item's (error_code, error_message): the first error, and how many more there are."""
    if not errors:
        return None, None
    first = errors[0]
    distinct = {(e.code, e.message) for e in errors}
    more = len(distinct) - 1
    return first.code, first.message + (f" (and {more} more)" if more else "")


# ----------------------------------------------------------------------------- field conversion


def _text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _number(record: Mapping[str, Any], key: str) -> float | None:
    value = record.get(key)
    if value is None or isinstance(value, float):
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    raise InvalidRecord(f"'{key}' is not a number: {value!r}")


def _timestamp(record: Mapping[str, Any], key: str) -> str | None:
    """A validated ISO-8601 timestamp, as text (DuckDB casts it on insert; naive = UTC)."""
    return _timestamp_value(record.get(key), key)


def _timestamp_value(value: Any, key: str) -> str | None:
    if value is None or value == "":
        return None
    if value.__class__ is str:
        try:
            parsed = _fromisoformat(value)
        except ValueError:
            raise InvalidRecord(f"'{key}' is not an ISO-8601 timestamp: {value!r}") from None
        return value if parsed.tzinfo else parsed.replace(tzinfo=UTC).isoformat()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    raise InvalidRecord(f"'{key}' is not a timestamp: {value!r}")


_fromisoformat = datetime.fromisoformat


def _date(record: Mapping[str, Any], key: str) -> str | None:
    """A validated ``YYYY-MM-DD`` date, as text."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            pass
    raise InvalidRecord(f"'{key}' is not a date (YYYY-MM-DD): {value!r}")


def _external_id(record: Any) -> str:
    if record.__class__ is not dict and not isinstance(record, Mapping):
        raise InvalidRecord(f"expected an object, got {type(record).__name__}")
    value = record.get("external_id")
    if value is None or value == "":
        raise InvalidRecord("'external_id' is missing")
    return value if isinstance(value, str) else str(value)


def _label(record: Any) -> str:
    if isinstance(record, Mapping) and record.get("external_id") not in (None, ""):
        return str(record["external_id"])
    return "(no external_id)"


# ------------------------------------------------------------------------------- per capability


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
        return _map_aggregate(capability, records, mappings, dry_run=dry_run, label=label)
    if capability in ("sales_orders", "pending_sales"):
        return _map_orders(capability, records, mappings, dry_run=dry_run)
    mapper = _SIMPLE.get(capability)
    if mapper is None:
        raise ValueError(f"no mapping for capability {capability!r}")
    table, map_row = mapper
    return _map_simple(table, map_row, records, mappings, dry_run=dry_run)


def _loaded_status(dry_run: bool) -> str:
    return "mapped" if dry_run else "success"


_NUMBER_TYPES = frozenset({float, int, type(None)})
_TEXT_TYPES = frozenset({str, type(None)})


def _order_fields(record: Any) -> tuple[Any, ...]:
    """An order's fields (as in the fast path of ``_map_orders``), checked and converted."""
    external_id = _external_id(record)
    raw_lines = record.get("lines") or []
    if not isinstance(raw_lines, list):
        raise InvalidRecord("'lines' is not a list")
    return (
        external_id,
        _text(record, "channel"),
        _timestamp(record, "ordered_at"),
        _timestamp(record, "updated_at"),
        _number(record, "total"),
        raw_lines,
        _text(record, "order_number"),
        _text(record, "currency"),
        _text(record, "financial_status"),
    )


def _line_fields(line: Any) -> tuple[str, str | None, Any, Any, str | None, Any]:
    """A line's (external_id, sku, quantity, unit_price, warehouse, current_quantity), checked
    and converted (``current_quantity`` is the ordered quantity when the source has none)."""
    quantity = _number(line, "quantity")
    current = _number(line, "current_quantity") if "current_quantity" in line else quantity
    return (
        _external_id(line),
        _text(line, "sku"),
        quantity,
        _number(line, "unit_price"),
        _text(line, "warehouse"),
        current,
    )


LIFECYCLES = frozenset({"sale", "pending", "closed"})
"""An order record's optional ``lifecycle``: which table it belongs in (``closed``: neither)."""
_OWN_LIFECYCLE = {"sales_orders": "sale", "pending_sales": "pending"}


def _closed_item(record: Mapping[str, Any], capability: str, table: str) -> Item:
    """An order that does not belong in ``capability`` (any more): its rows are deleted."""
    status = record.get("financial_status") or record.get("lifecycle")
    why = f"{status}, cancelled" if record.get("cancelled_at") else str(status)
    belongs = {"sale": "sales_orders", "pending": "pending_sales"}.get(
        str(record.get("lifecycle")), "neither sales_orders nor pending_sales"
    )
    return Item(
        str(record["external_id"]),
        "skipped",
        error_message=f"Order is {why}: it belongs in {belongs}, so it is not kept in {table}",
    )


def _map_orders(
    capability: str, records: Sequence[Any], mappings: Mappings, *, dry_run: bool
) -> MappedPage:
    pending = capability == "pending_sales"
    orders = Upsert(TABLES["sales_orders"])
    lines = Upsert(TABLES["pending_sales" if pending else "sales_order_lines"])
    # An order belonging here leaves the other order table (it moved), in the same page.
    others = (
        [Upsert(TABLES["sales_orders"]), Upsert(TABLES["sales_order_lines"])]
        if pending
        else [Upsert(TABLES["pending_sales"])]
    )
    own = _OWN_LIFECYCLE[capability]
    items: list[Item] = []
    ok = _loaded_status(dry_run)
    skus, channels, warehouses = mappings.skus, mappings.channels, mappings.warehouses
    numbers = _NUMBER_TYPES
    texts = _TEXT_TYPES
    for record in records:
        # The lifecycle first: an order that left (refunded, voided, cancelled, moved) is
        # deleted whatever its channel or SKUs, which no longer matter.
        lifecycle = record.get("lifecycle") if isinstance(record, Mapping) else None
        if lifecycle is not None:
            external = record.get("external_id")
            if lifecycle not in LIFECYCLES or external.__class__ is not str or not external:
                items.append(_invalid_item(record, f"unknown lifecycle {lifecycle!r}"))
                continue
            if lifecycle != own:
                lines.keys.append(external)
                if not pending:
                    orders.keys.append(external)
                items.append(_closed_item(record, capability, lines.table.name))
                continue
            for other in others:
                other.keys.append(external)
        # Fast path for well-formed records; anything unusual goes through _order_fields.
        fields: tuple[Any, ...] | None = None
        if record.__class__ is dict:
            get = record.get
            fields = (
                get("external_id"),
                get("channel"),
                get("ordered_at"),
                get("updated_at"),
                get("total"),
                get("lines"),
                get("order_number"),
                get("currency"),
                get("financial_status"),
            )
            if not (
                fields[0].__class__ is str
                and fields[0] != ""
                and fields[1].__class__ in texts
                and fields[2].__class__ is str
                and fields[3].__class__ is str
                and fields[4].__class__ in numbers
                and fields[5].__class__ is list
                and fields[6].__class__ in texts
                and fields[7].__class__ in texts
                and fields[8].__class__ in texts
            ):
                fields = None
        try:
            if fields is None:
                fields = _order_fields(record)
            else:
                fields = (
                    *fields[:2],
                    _timestamp_value(fields[2], "ordered_at"),
                    _timestamp_value(fields[3], "updated_at"),
                    *fields[4:],
                )
        except InvalidRecord as exc:
            items.append(_invalid_item(record, str(exc)))
            continue
        external_id: str = fields[0]
        channel_ext, ordered_at, updated_at, total, raw_lines = fields[1:6]
        order_number, currency, financial_status = fields[6:]
        channel = channels.get(channel_ext) if channel_ext else None
        if channel is None:
            error = unmapped_channel(channel_ext, external_id)
            items.append(
                Item(
                    external_id,
                    "failed",
                    error.code,
                    error.message,
                    failed=1,
                    payload=record,
                    errors=[error],
                )
            )
            continue
        good: list[tuple[Any, ...]] = []
        errors: list[RecordError] = []
        for line in raw_lines:
            # Fast path for well-formed lines; anything unusual goes through _line_fields.
            if line.__class__ is dict:
                line_id = line.get("external_id")
                sku_ext = line.get("sku")
                quantity = line.get("quantity")
                current = line.get("current_quantity", quantity)
                unit_price = line.get("unit_price")
                warehouse_ext = line.get("warehouse")
                well_formed = (
                    line_id.__class__ is str
                    and line_id != ""
                    and (sku_ext is None or sku_ext.__class__ is str)
                    and quantity.__class__ in numbers
                    and current.__class__ in numbers
                    and unit_price.__class__ in numbers
                    and (warehouse_ext is None or warehouse_ext.__class__ is str)
                )
            else:
                well_formed = False
            if not well_formed:
                try:
                    line_id, sku_ext, quantity, unit_price, warehouse_ext, current = _line_fields(
                        line
                    )
                except InvalidRecord as exc:
                    errors.append(invalid(_label(line), f"line of order {external_id}: {exc}"))
                    continue
            if not sku_ext:
                errors.append(invalid(line_id, f"line {line_id} has no SKU"))
                continue
            sku = skus.get(sku_ext)
            if sku is None:
                errors.append(unmapped_sku(sku_ext, line_id))
                continue
            warehouse = None
            if warehouse_ext:
                warehouse = warehouses.get(warehouse_ext)
                if warehouse is None:
                    errors.append(unmapped_warehouse(warehouse_ext, line_id))
                    continue
            if pending:
                good.append(
                    (external_id, line_id, order_number, channel, ordered_at, sku, sku_ext,
                     quantity, current)
                )  # fmt: skip
            else:
                good.append(
                    (external_id, line_id, sku, sku_ext, quantity, unit_price, warehouse, current)
                )
        if errors and not good:
            code, message = summarise(errors)
            items.append(
                Item(external_id, "failed", code, message, failed=1, payload=record, errors=errors)
            )
            continue
        lines.keys.append(external_id)
        lines.rows.extend(good)
        if not pending:
            orders.keys.append(external_id)
            orders.rows.append(
                (external_id, order_number, channel, channel_ext, ordered_at, updated_at,
                 currency, financial_status, total, False)
            )  # fmt: skip
        if errors:
            code, message = summarise(errors)
            items.append(
                Item(
                    external_id,
                    "partial_mapped",
                    code,
                    message,
                    loaded=1,
                    payload=record,
                    errors=errors,
                )
            )
        else:
            items.append(Item(external_id, ok, loaded=1))
    upserts = [lines] if pending else [orders, lines]
    return MappedPage(items, upserts, [other for other in others if other.keys])


def _invalid_item(record: Any, reason: str) -> Item:
    error = invalid(_label(record), reason)
    return Item(
        _label(record),
        "failed",
        error.code,
        error.message,
        failed=1,
        payload=record,
        errors=[error],
    )


RowMapper = Callable[
    [str, Mapping[str, Any], Mappings], tuple[tuple[Any, ...] | None, list[RecordError]]
]


def _product_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    sku_ext = _text(record, "sku")
    if not sku_ext:
        return None, [invalid(external_id, f"product {external_id} has no SKU")]
    sku = m.skus.get(sku_ext)
    if sku is None:
        return None, [unmapped_sku(sku_ext, external_id)]
    row = (
        external_id,
        sku,
        sku_ext,
        _text(record, "title"),
        _number(record, "price"),
        _timestamp(record, "updated_at"),
    )
    return row, []


def _channel_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    channel = m.channels.get(external_id)
    if channel is None:
        return None, [unmapped_channel(external_id, external_id)]
    return (external_id, channel, _text(record, "name")), []


def _forecast_version_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    return (external_id, _text(record, "name"), _timestamp(record, "created_at")), []


_SIMPLE: dict[str, tuple[TableSpec, RowMapper]] = {
    "products": (TABLES["products"], _product_row),
    "channels": (TABLES["channels"], _channel_row),
    "forecast_versions": (TABLES["forecast_versions"], _forecast_version_row),
}


def _map_simple(
    table: TableSpec,
    map_row: RowMapper,
    records: Sequence[Any],
    mappings: Mappings,
    *,
    dry_run: bool,
) -> MappedPage:
    upsert = Upsert(table)
    items: list[Item] = []
    ok = _loaded_status(dry_run)
    for record in records:
        try:
            external_id = _external_id(record)
            row, errors = map_row(external_id, record, mappings)
        except InvalidRecord as exc:
            items.append(_invalid_item(record, str(exc)))
            continue
        if row is None:
            code, message = summarise(errors)
            items.append(
                Item(external_id, "failed", code, message, failed=1, payload=record, errors=errors)
            )
            continue
        upsert.keys.append(external_id)
        upsert.rows.append(row)
        items.append(Item(external_id, ok, loaded=1))
    return MappedPage(items, [upsert])


# ---------------------------------------------------------------------------------- aggregates


def _sku(sku_ext: str | None, external_id: str, m: Mappings) -> str | RecordError:
    if not sku_ext:
        return invalid(external_id, f"record {external_id} has no SKU")
    sku = m.skus.get(sku_ext)
    return sku if sku is not None else unmapped_sku(sku_ext, external_id)


def _optional_channel(
    channel_ext: str | None, external_id: str, m: Mappings
) -> str | RecordError | None:
    if not channel_ext:
        return None
    channel = m.channels.get(channel_ext)
    return channel if channel is not None else unmapped_channel(channel_ext, external_id)


def _sku_and_channel(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[str, str | None] | list[RecordError]:
    """The record's SKU and (optional) channel as Tether codes, or every reason they are not."""
    sku = _sku(_text(record, "sku"), external_id, m)
    channel = _optional_channel(_text(record, "channel"), external_id, m)
    if isinstance(sku, RecordError) or isinstance(channel, RecordError):
        return [e for e in (sku, channel) if isinstance(e, RecordError)]
    return sku, channel


def _history_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    mapped = _sku_and_channel(external_id, record, m)
    if isinstance(mapped, list):
        return None, mapped
    sku, channel = mapped
    return (
        external_id,
        _date(record, "date"),
        sku,
        channel,
        _number(record, "quantity"),
        _number(record, "revenue"),
    ), []


def _inventory_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    warehouse_ext = _text(record, "warehouse")
    warehouse: str | RecordError | None
    if not warehouse_ext:
        warehouse = invalid(external_id, f"record {external_id} has no warehouse")
    else:
        found = m.warehouses.get(warehouse_ext)
        warehouse = found if found is not None else unmapped_warehouse(warehouse_ext, external_id)
    sku = _sku(_text(record, "sku"), external_id, m)
    errors = [e for e in (warehouse, sku) if isinstance(e, RecordError)]
    if errors:
        return None, errors
    return (
        external_id,
        warehouse,
        sku,
        _number(record, "on_hand"),
        _number(record, "available"),
        _timestamp(record, "as_of"),
    ), []


def _price_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    mapped = _sku_and_channel(external_id, record, m)
    if isinstance(mapped, list):
        return None, mapped
    sku, channel = mapped
    return (
        external_id,
        sku,
        channel,
        _number(record, "price"),
        _text(record, "currency"),
        _date(record, "valid_from"),
    ), []


def _forecast_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    mapped = _sku_and_channel(external_id, record, m)
    if isinstance(mapped, list):
        return None, mapped
    sku, channel = mapped
    return (
        external_id,
        _text(record, "version"),
        _date(record, "date"),
        sku,
        channel,
        _number(record, "quantity"),
    ), []


_AGGREGATE: dict[str, tuple[TableSpec, RowMapper]] = {
    "sales_history": (TABLES["sales_history"], _history_row),
    "warehouse_inventory": (TABLES["inventory_levels"], _inventory_row),
    "pricing": (TABLES["prices"], _price_row),
    "sales_forecast": (TABLES["sales_forecasts"], _forecast_row),
}


def _map_aggregate(
    capability: str,
    records: Sequence[Any],
    mappings: Mappings,
    *,
    dry_run: bool,
    label: str,
) -> MappedPage:
    """One aggregate item per page; rows are mapped column by column (``columnar``)."""
    from tether.engine.mapping.columnar import map_aggregate

    return map_aggregate(capability, records, mappings, dry_run=dry_run, label=label)

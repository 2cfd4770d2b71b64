"""Mapping pages of orders (``sales_orders``, ``pending_sales``): one item per order, its lines
as rows, and the order deleted from the table it no longer belongs in.

SKU, channel and warehouse external ids resolve through ``Mappings``: exact, case-sensitive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tether.engine.mapping.fields import (
    InvalidRecord,
    invalid,
    invalid_item,
    read_number,
    read_text,
    read_timestamp,
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
from tether.engine.mapping.tables import TABLES

_NUMBER_TYPES = frozenset({float, int, type(None)})
_TEXT_TYPES = frozenset({str, type(None)})


def _order_fields(record: Any) -> tuple[Any, ...]:
    """An order's fields (as in the fast path of ``map_orders``), checked and converted."""
    external_id = record_id(record)
    raw_lines = record.get("lines") or []
    if not isinstance(raw_lines, list):
        raise InvalidRecord("'lines' is not a list")
    return (
        external_id,
        read_text(record, "channel"),
        read_timestamp(record, "ordered_at"),
        read_timestamp(record, "updated_at"),
        read_number(record, "total"),
        raw_lines,
        read_text(record, "order_number"),
        read_text(record, "currency"),
        read_text(record, "financial_status"),
    )


def _line_fields(line: Any) -> tuple[str, str | None, Any, Any, str | None, Any]:
    """A line's (external_id, sku, quantity, unit_price, warehouse, current_quantity), checked
    and converted (``current_quantity`` is the ordered quantity when the source has none)."""
    quantity = read_number(line, "quantity")
    current = read_number(line, "current_quantity") if "current_quantity" in line else quantity
    return (
        record_id(line),
        read_text(line, "sku"),
        quantity,
        read_number(line, "unit_price"),
        read_text(line, "warehouse"),
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


def map_orders(
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
    ok = loaded_status(dry_run)
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
                items.append(invalid_item(record, f"unknown lifecycle {lifecycle!r}"))
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
                    timestamp_value(fields[2], "ordered_at"),
                    timestamp_value(fields[3], "updated_at"),
                    *fields[4:],
                )
        except InvalidRecord as exc:
            items.append(invalid_item(record, str(exc)))
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
                    errors.append(
                        invalid(record_label(line), f"line of order {external_id}: {exc}")
                    )
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

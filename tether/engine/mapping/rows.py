"""Row mappers: one canonical record to its ``data.*`` row tuple, or the reasons it cannot be.

Products, channels and forecast versions are mapped by them record by record; aggregate pages
go column by column (``columnar``), which leaves the records it cannot take to these mappers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tether.engine.mapping.fields import (
    InvalidRecord,
    invalid,
    invalid_item,
    read_date,
    read_number,
    read_text,
    read_timestamp,
    record_id,
    summarise,
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
from tether.engine.mapping.tables import TABLES, TableSpec

RowMapper = Callable[
    [str, Mapping[str, Any], Mappings], tuple[tuple[Any, ...] | None, list[RecordError]]
]


def _product_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    sku_ext = read_text(record, "sku")
    if not sku_ext:
        return None, [invalid(external_id, f"product {external_id} has no SKU")]
    sku = m.skus.get(sku_ext)
    if sku is None:
        return None, [unmapped_sku(sku_ext, external_id)]
    row = (
        external_id,
        sku,
        sku_ext,
        read_text(record, "title"),
        read_number(record, "price"),
        read_timestamp(record, "updated_at"),
    )
    return row, []


def _channel_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    channel = m.channels.get(external_id)
    if channel is None:
        return None, [unmapped_channel(external_id, external_id)]
    return (external_id, channel, read_text(record, "name")), []


def _forecast_version_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    return (external_id, read_text(record, "name"), read_timestamp(record, "created_at")), []


SIMPLE: dict[str, tuple[TableSpec, RowMapper]] = {
    "products": (TABLES["products"], _product_row),
    "channels": (TABLES["channels"], _channel_row),
    "forecast_versions": (TABLES["forecast_versions"], _forecast_version_row),
}


def map_simple(
    table: TableSpec,
    map_row: RowMapper,
    records: Sequence[Any],
    mappings: Mappings,
    *,
    dry_run: bool,
) -> MappedPage:
    upsert = Upsert(table)
    items: list[Item] = []
    ok = loaded_status(dry_run)
    for record in records:
        try:
            external_id = record_id(record)
            row, errors = map_row(external_id, record, mappings)
        except InvalidRecord as exc:
            items.append(invalid_item(record, str(exc)))
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
    sku = _sku(read_text(record, "sku"), external_id, m)
    channel = _optional_channel(read_text(record, "channel"), external_id, m)
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
        read_date(record, "date"),
        sku,
        channel,
        read_number(record, "quantity"),
        read_number(record, "revenue"),
    ), []


def _inventory_row(
    external_id: str, record: Mapping[str, Any], m: Mappings
) -> tuple[tuple[Any, ...] | None, list[RecordError]]:
    warehouse_ext = read_text(record, "warehouse")
    warehouse: str | RecordError | None
    if not warehouse_ext:
        warehouse = invalid(external_id, f"record {external_id} has no warehouse")
    else:
        found = m.warehouses.get(warehouse_ext)
        warehouse = found if found is not None else unmapped_warehouse(warehouse_ext, external_id)
    sku = _sku(read_text(record, "sku"), external_id, m)
    errors = [e for e in (warehouse, sku) if isinstance(e, RecordError)]
    if errors:
        return None, errors
    return (
        external_id,
        warehouse,
        sku,
        read_number(record, "on_hand"),
        read_number(record, "available"),
        read_timestamp(record, "as_of"),
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
        read_number(record, "price"),
        read_text(record, "currency"),
        read_date(record, "valid_from"),
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
        read_text(record, "version"),
        read_date(record, "date"),
        sku,
        channel,
        read_number(record, "quantity"),
    ), []


AGGREGATE: dict[str, tuple[TableSpec, RowMapper]] = {
    "sales_history": (TABLES["sales_history"], _history_row),
    "warehouse_inventory": (TABLES["inventory_levels"], _inventory_row),
    "pricing": (TABLES["prices"], _price_row),
    "sales_forecast": (TABLES["sales_forecasts"], _forecast_row),
}

"""The ``data.*`` tables the engine writes: their columns and upsert keys, and which capability
writes which."""

from __future__ import annotations

from dataclasses import dataclass


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

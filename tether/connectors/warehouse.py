"""The query contract shared by the data-warehouse services (BigQuery, Redshift).

Each enabled capability is defined by a user-written query in ``settings.queries.<capability>``
with a declared incremental ``cursor_column``; the cursor is bound as the query parameter
``@cursor`` (BigQuery) / ``%(cursor)s`` (Redshift) — never formatted into the SQL text.
The query's output must have the capability's required columns (checked on the first page; a
missing or mistyped column fails the execution with SOURCE_ERROR naming the column).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tether.connectors.base import ColumnRecords, ServiceSettings, capabilities
from tether.errors import DataError

REQUIRED_COLUMNS: dict[str, dict[str, str]] = {
    # column -> kind: "text" | "number" | "date" | "timestamp"
    "sales_history": {
        "date": "date", "sku": "text", "channel": "text", "quantity": "number", "revenue": "number",
    },
    "sales_orders": {
        "order_id": "text", "line_id": "text", "ordered_at": "timestamp", "channel": "text",
        "sku": "text", "quantity": "number", "unit_price": "number",
    },
    "pending_sales": {
        "order_id": "text", "line_id": "text", "ordered_at": "timestamp", "channel": "text",
        "sku": "text", "quantity": "number", "unit_price": "number",
    },
    "warehouse_inventory": {"warehouse": "text", "sku": "text", "on_hand": "number"},
    "products": {"sku": "text", "title": "text"},
    "channels": {"channel": "text", "name": "text"},
    "pricing": {
        "sku": "text", "channel": "text", "price": "number", "currency": "text",
        "valid_from": "date",
    },
    "forecast_versions": {"version": "text", "name": "text"},
    "sales_forecast": {
        "version": "text", "date": "date", "sku": "text", "channel": "text", "quantity": "number",
    },
}  # fmt: skip


WAREHOUSE_CAPABILITIES = capabilities(*REQUIRED_COLUMNS)
"""A warehouse offers every capability: each is just a query the user writes."""


class WarehouseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1)
    cursor_column: str | None = None
    """The incremental column; ``None`` re-reads the whole result every run."""


class WarehouseSettings(ServiceSettings):
    queries: dict[str, WarehouseQuery] = Field(default_factory=dict)
    page_size: int = Field(default=10_000, ge=1, le=1_000_000)


def check_columns(capability: str, columns: dict[str, str], service: str) -> None:
    """Raise ``DataError`` naming the first missing or mistyped required column.

    ``columns`` maps each result column to its kind (text | number | date | timestamp).
    """
    for name, kind in REQUIRED_COLUMNS[capability].items():
        got = columns.get(name)
        if got is None:
            raise DataError(
                f"{service} query for {capability} is missing required column '{name}' "
                f"(got: {', '.join(columns) or 'no columns'}).",
                hint="The source schema may have changed: update settings.queries."
                f"{capability}.sql so it returns '{name}'.",
            )
        compatible = got == kind or (kind == "date" and got == "timestamp")
        compatible = compatible or (kind == "text" and got in {"text", "number"})
        if not compatible:
            raise DataError(
                f"{service} query for {capability}: column '{name}' is {got}, expected {kind}.",
                hint=f"Cast it in settings.queries.{capability}.sql.",
            )


def columns_to_records(capability: str, columns: dict[str, list[Any]]) -> Sequence[dict[str, Any]]:
    """A result page, column by column, as canonical records.

    Orders group their line rows into one record each; every other capability's rows are its
    records, kept as ``ColumnRecords`` (no dict per row) with ``external_id`` made from the
    capability's key columns unless the query returns one.
    """
    if capability in ("sales_orders", "pending_sales"):
        names = list(columns)
        rows = zip(*columns.values(), strict=True)
        return _orders([dict(zip(names, row, strict=True)) for row in rows])
    if "external_id" not in columns:
        keys = [columns.get(name) or [None] * _length(columns) for name in KEY_COLUMNS[capability]]
        columns = {**columns, "external_id": _joined(keys)}
    return ColumnRecords(columns)


ORDER_CAPABILITIES = ("sales_orders", "pending_sales")

WINDOW_COLUMNS: dict[str, str] = {
    "sales_orders": "ordered_at",
    "pending_sales": "ordered_at",
    "sales_history": "date",
    "pricing": "valid_from",
    "sales_forecast": "date",
}
"""The output column a backfill or verify window filters on, per capability: the business date
the state keeps too, so both sides of ``tether verify`` count the same rows. Capabilities not
listed (snapshots and catalogues) are read and counted whole."""


def windowed(
    sql: str, capability: str, since: str, until: str | None, *, quote_id: str = '"'
) -> str:
    """The user's query restricted to rows whose window column is in ``[since, until)``.

    ``since`` / ``until`` are the parameter placeholders (``@window_since``, ``%(window_since)s``);
    the column is compared as a timestamp, so DATE and TIMESTAMP columns take the same bounds.
    Capabilities without a window column get the query unchanged.
    """
    column = WINDOW_COLUMNS.get(capability)
    if column is None:
        return sql
    ref = f"tether_window.{_quoted(column, quote_id)}"
    where = f"CAST({ref} AS TIMESTAMP) >= {since}"
    if until is not None:
        where += f" AND CAST({ref} AS TIMESTAMP) < {until}"
    return f"SELECT * FROM ({sql}\n) AS tether_window WHERE {where}"


def count_sql(sql: str, capability: str, *, quote_id: str = '"') -> str:
    """``COUNT(*)`` of the records ``sql`` yields: its distinct keys (order ids for orders, the
    ``KEY_COLUMNS`` otherwise), the way the state keys them, so a row the query repeats is
    counted once, as it is stored once."""
    keys = ("order_id",) if capability in ORDER_CAPABILITIES else KEY_COLUMNS[capability]
    columns = ", ".join(f"tether_count.{_quoted(k, quote_id)}" for k in keys)
    return (
        f"SELECT COUNT(*) AS n FROM (SELECT DISTINCT {columns} FROM ({sql}\n) AS tether_count) "
        "AS tether_keys"
    )


def _quoted(name: str, quote_id: str) -> str:
    return quote_id + name.replace(quote_id, quote_id * 2) + quote_id


KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales_history": ("date", "sku", "channel"),
    "warehouse_inventory": ("warehouse", "sku"),
    "products": ("sku",),
    "channels": ("channel",),
    "pricing": ("sku", "channel", "valid_from"),
    "forecast_versions": ("version",),
    "sales_forecast": ("version", "date", "sku", "channel"),
}
"""The columns whose values, joined with ``|``, identify a row of each capability."""


def _length(columns: dict[str, list[Any]]) -> int:
    return len(next(iter(columns.values()), []))


def _joined(keys: list[list[Any]]) -> list[str]:
    """``"|".join(str(v) ...)`` of each row's key values (a hot loop: it runs in C on text)."""
    texts = [_texts(values) for values in keys]
    return texts[0] if len(texts) == 1 else list(map("|".join, zip(*texts, strict=True)))


def _texts(values: list[Any]) -> list[str]:
    """``str`` of each value; dates and numbers (few distinct per page) are formatted once."""
    if {str}.issuperset(map(type, values)):
        return values
    text = {v: str(v) for v in set(values)}
    return [text[v] for v in values]


def _orders(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Line rows (one per order line) grouped into one order record each."""
    orders: dict[str, dict[str, Any]] = {}
    for r in rows:
        oid = str(r["order_id"])
        order = orders.get(oid)
        if order is None:
            order = orders[oid] = {
                "external_id": oid,
                "order_number": oid,
                "channel": r["channel"],
                "ordered_at": r["ordered_at"],
                "updated_at": r.get("updated_at", r["ordered_at"]),
                "currency": r.get("currency"),
                "financial_status": r.get("financial_status"),
                "lines": [],
            }
        order["lines"].append(
            {
                "external_id": str(r["line_id"]),
                "sku": None if r["sku"] is None else str(r["sku"]),
                "quantity": r["quantity"],
                "unit_price": r["unit_price"],
                "warehouse": r.get("warehouse"),
            }
        )
    return list(orders.values())

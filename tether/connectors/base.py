"""The whole seam between the sync engine and a service.

A connector is blocking and small: a ``ServiceSpec`` describing what the service offers, and
``fetch(capability, cursor)`` yielding pages of *canonical records* (shapes below). The engine owns
cursors, mapping, writing and statistics; a connector never touches the state.

Canonical record shapes, per capability (every record carries ``external_id``, a string unique per
integration and capability; extra keys are kept in the stored payload but otherwise ignored):

sales_orders / pending_sales (one item per order)::
    {"external_id": "gid://shopify/Order/1", "order_number": "#1001", "channel": "web",
     "ordered_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z",
     "currency": "USD", "financial_status": "paid", "total": 12.5,
     "lines": [{"external_id": "gid://shopify/LineItem/9", "sku": "ABC-12", "quantity": 2,
                "unit_price": 6.25, "warehouse": None}]}
sales_history (aggregate rows)::
    {"external_id": "2026-01-02|ABC-12|web", "date": "2026-01-02", "sku": "ABC-12",
     "channel": "web", "quantity": 3, "revenue": 18.0}
warehouse_inventory (aggregate rows)::
    {"external_id": "WH1|ABC-12", "warehouse": "WH1", "sku": "ABC-12", "on_hand": 10,
     "available": 8, "as_of": "2026-01-02T00:00:00Z"}
products::
    {"external_id": "gid://shopify/ProductVariant/3", "sku": "ABC-12", "title": "Hat",
     "price": 6.25, "updated_at": "..."}
channels::
    {"external_id": "web", "name": "Online Store"}
pricing (aggregate rows)::
    {"external_id": "ABC-12|web|2026-01-01", "sku": "ABC-12", "channel": "web", "price": 6.25,
     "currency": "USD", "valid_from": "2026-01-01"}
forecast_versions::
    {"external_id": "v2026-01", "name": "January plan", "created_at": "..."}
sales_forecast (aggregate rows)::
    {"external_id": "v2026-01|2026-02-01|ABC-12|web", "version": "v2026-01", "date": "2026-02-01",
     "sku": "ABC-12", "channel": "web", "quantity": 40}

Timestamps are ISO-8601 strings (UTC, ``Z``) or ``datetime``; dates are ``YYYY-MM-DD`` or ``date``.

A page's records are a list of dicts, or ``ColumnRecords`` when the service hands back columns
(the warehouses): the same records, held column by column so the engine's column mapper never
builds a dict per row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, overload

from pydantic import BaseModel, ConfigDict

Cursor = dict[str, Any]
"""Where the next fetch resumes; JSON-serialisable, opaque to the engine."""


class ColumnRecords(Sequence[dict[str, Any]]):
    """Records held as equal-length columns: ``records[i]`` is record ``i`` as a dict, built on
    demand (the row mappers and stored payloads need it only for the few records that fail);
    ``column(name)`` is one field of every record, without a dict per row."""

    __slots__ = ("_columns", "_length")

    def __init__(self, columns: Mapping[str, list[Any]]) -> None:
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        self._columns = dict(columns)
        self._length = lengths.pop() if lengths else 0

    def column(self, name: str) -> list[Any]:
        """The field ``name`` of every record (``None`` where absent, like ``dict.get``)."""
        values = self._columns.get(name)
        return [None] * self._length if values is None else values

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("record index out of range")
        return {name: values[index] for name, values in self._columns.items()}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = list(self._columns)
        for values in zip(*self._columns.values(), strict=True):
            yield dict(zip(names, values, strict=True))


@dataclass(frozen=True)
class CapabilitySpec:
    name: str
    display_name: str
    description: str


CAPABILITIES: dict[str, CapabilitySpec] = {
    c.name: c
    for c in (
        CapabilitySpec("sales_orders", "Sales Orders", "Individual sales order records"),
        CapabilitySpec("sales_history", "Sales History", "Aggregated historical sales data"),
        CapabilitySpec("pending_sales", "Pending Sales", "Orders not yet completed"),
        CapabilitySpec(
            "warehouse_inventory", "Warehouse Inventory", "Stock levels from warehouse systems"
        ),
        CapabilitySpec("products", "Products", "Product and SKU information"),
        CapabilitySpec("channels", "Channels", "Channel configuration data"),
        CapabilitySpec("pricing", "Pricing", "Pricing information"),
        CapabilitySpec("forecast_versions", "Forecast Versions", "Forecast data"),
        CapabilitySpec("sales_forecast", "Sales Forecast", "Sales forecast data"),
    )
}

AGGREGATE_CAPABILITIES = frozenset(
    {"sales_history", "warehouse_inventory", "pricing", "sales_forecast"}
)
"""Capabilities whose rows are recorded as aggregate items (one item per page, with ``records``)."""


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    type: str = "string"  # string | password | url | integer | json
    required: bool = True
    secret: bool = False
    placeholder: str = ""
    help: str = ""


class ServiceSettings(BaseModel):
    """Base of every service's ``settings:`` model. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    # (attribute docstrings become field descriptions: `tether add` shows them as help)

    base_url: str | None = None
    """Override the service endpoint (plain http only to loopback), e.g. for the sandbox."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    display_name: str
    description: str
    capabilities: tuple[CapabilitySpec, ...]
    credential_fields: tuple[CredentialField, ...]
    settings_model: type[ServiceSettings] = ServiceSettings

    def capability_names(self) -> list[str]:
        return [c.name for c in self.capabilities]


def capabilities(*names: str) -> tuple[CapabilitySpec, ...]:
    return tuple(CAPABILITIES[n] for n in names)


@dataclass(frozen=True)
class Page:
    records: Sequence[dict[str, Any]]
    """Canonical records (see module docstring): a list of dicts or ``ColumnRecords``."""
    cursor: Cursor | None
    """Where the next run resumes if this page commits; ``None`` keeps the previous cursor."""
    raw_count: int | None = None
    """Records as the service sent them, when that differs from ``len(records)``."""
    waited_s: float = 0.0
    """Seconds spent waiting on rate limits while fetching this page (shown as progress)."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Window:
    """A time window to re-fetch (``tether sync --since/--until``) or to count (``tether verify``).

    Records updated in ``[since, until)`` — or, for a source that filters by order or business date
    (Brewman, a warehouse query on ``order_date``), dated in it. ``until=None`` means up to now. A
    connector given a window ignores the committed cursor and yields pages with ``cursor=None``, so
    a backfill never moves the cursor.
    """

    since: datetime
    until: datetime | None = None


class Connector(Protocol):
    """A service's connector. Constructed per sync as ``cls(settings, credentials, full=...)``;
    connectors that support backfills also accept ``window=Window(...)`` (keyword) and then fetch
    only that window (see ``Window``)."""

    spec: ClassVar[ServiceSpec]

    def __init__(
        self,
        settings: ServiceSettings,
        credentials: Mapping[str, str],
        *,
        full: bool = False,
    ) -> None: ...

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        """Yield pages for ``capability`` from ``cursor`` (``None``: first or full sync).

        Raises ``AuthError``, ``RateLimitedError`` (after the wait budget; pages already
        yielded stay committed), ``UnavailableError`` or ``DataError``.
        """
        ...

    def close(self) -> None: ...


class Countable(Protocol):
    """A connector that can count what the source holds, for ``tether verify``."""

    def count(self, capability: str, window: Window | None) -> int | None:
        """How many records ``fetch`` would yield for ``capability`` over ``window`` (all
        history when ``None``); ``None`` when the service offers no way to count it."""
        ...


class Checkable(Protocol):
    """A connector that can prove, cheaply, that a sync would be let in (``tether doctor``)."""

    def check(self, capabilities: Sequence[str]) -> str:
        """One cheap authenticated call per service (no data is written, no cursor moves).

        Returns what was verified, in a sentence; raises ``AuthError`` when the credentials or
        the access they grant are not enough, other ``ConnectorError``s as ``fetch`` would.
        """
        ...

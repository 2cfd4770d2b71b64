"""What mapping takes and gives: the resolved ``Mappings``, and the ``MappedPage`` of items and
rows it makes of a page of canonical records.

Statuses (DESIGN §6): ``success`` (loaded), ``mapped`` (fully mapped in a dry run, not saved),
``partial_mapped`` (mapped part saved, the rest recorded as errors), ``failed`` (nothing saved),
``skipped`` (with the reason). Items not fully loaded keep their raw payload so ``tether retry``
can re-map them later without calling the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from tether.engine.mapping.tables import TableSpec

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


def loaded_status(dry_run: bool) -> str:
    """The status of a record mapped in full: saved, or (in a dry run) only mapped."""
    return "mapped" if dry_run else "success"

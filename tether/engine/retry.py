"""Re-mapping stored payloads of open failed/partial items, without calling the source.

An item that was not fully loaded keeps its raw payload. When the mappings change, ``tether retry``
(and every manual sync, before it fetches) maps those payloads again: items that now map become
``data.*`` rows, the rest are recorded again with today's errors. Either way the new item lives in
the retrying execution and the old item gets ``resolved_by`` = that execution, so an item is open
in exactly one place and the old executions keep their history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tether.connectors.base import AGGREGATE_CAPABILITIES
from tether.engine.mapping import (
    CAPABILITY_TABLES,
    Item,
    MappedPage,
    Mappings,
    TableSpec,
    Upsert,
    map_page,
)
from tether.engine.writer import Execution, SyncWriter

if TYPE_CHECKING:
    import duckdb

BATCH = 1000
"""Open items re-mapped per transaction."""


@dataclass(frozen=True)
class OpenItem:
    id: int
    execution_id: int
    external_id: str
    payload: Any


def remap_open_items(
    writer: SyncWriter,
    execution: Execution,
    mappings: Mappings,
    emit: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[int, int]:
    """Re-map every open item of ``execution.domain_type``; return (re-mapped, now loaded)."""
    remapped = loaded = 0
    after = -1
    while True:
        batch = _open_batch(writer.con, writer.integration_id, execution, after)
        if not batch:
            break
        after = batch[-1].id
        newer = _loaded_by(writer, execution.domain_type, batch)
        page = _remap(execution.domain_type, batch, mappings, newer)
        for old in batch:
            execution.open_items.pop(old.external_id, None)
        # Items still failing become open items of this execution (a fresh fetch takes over).
        writer.save_page(execution, page)
        remapped += len(batch)
        loaded += sum(1 for item in page.items if item.status == "success")
        if emit is not None:
            emit(
                {
                    "event": "remapped",
                    "domain_type": execution.domain_type,
                    "items": remapped,
                    "loaded": loaded,
                }
            )
    return remapped, loaded


def _open_batch(
    con: duckdb.DuckDBPyConnection, integration_id: str, execution: Execution, after: int
) -> list[OpenItem]:
    import orjson

    rows = con.execute(
        "SELECT s.id, s.execution_id, s.external_id, s.payload FROM sync_items s "
        "JOIN executions e ON e.id = s.execution_id "
        "WHERE s.integration_id = ? AND s.domain_type = ? AND s.resolved_by IS NULL "
        "AND s.status IN ('failed', 'partial_mapped') AND s.payload IS NOT NULL "
        "AND NOT e.dry_run AND s.execution_id <> ? AND s.id > ? ORDER BY s.id LIMIT ?",
        [integration_id, execution.domain_type, execution.id, after, BATCH],
    ).fetchall()
    return [OpenItem(int(r[0]), int(r[1]), r[2], orjson.loads(r[3])) for r in rows]


def _loaded_by(writer: SyncWriter, capability: str, batch: list[OpenItem]) -> dict[str, int]:
    """Aggregate rows: the execution that last loaded each key the batch's records have.

    An aggregate record is a level or a total as of its fetch (stock on hand, a day's sales);
    one a later execution already loaded is newer than the stored one, which must not
    overwrite it (a scheduled sync loads new levels without re-mapping old failures first).
    """
    if capability not in AGGREGATE_CAPABILITIES:
        return {}
    keys = sorted({key for old in batch for key in map(_key, _records(old)) if key is not None})
    (table,) = CAPABILITY_TABLES[capability]
    rows = writer.con.execute(
        f"SELECT external_id, max(execution_id) FROM data.{table} WHERE integration_id = ? "
        "AND external_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY external_id",
        [writer.integration_id, keys],
    ).fetchall()
    return {str(key): int(by) for key, by in rows if by is not None}


def _remap(
    capability: str, batch: list[OpenItem], mappings: Mappings, newer: dict[str, int]
) -> MappedPage:
    if capability in AGGREGATE_CAPABILITIES:
        items: list[Item] = []
        upserts: dict[str, Upsert] = {}
        for old in batch:
            records = _records(old)
            current, later = [], []  # records to map; executions that loaded the others since
            for record in records:
                key = _key(record)
                by = 0 if key is None else newer.get(key, 0)
                if by > old.execution_id:
                    later.append(by)
                else:
                    current.append(record)
            mapped = map_page(capability, current, mappings, label=old.external_id)
            if not mapped.items:  # a later execution loaded every one of its rows
                mapped.items.append(
                    Item(old.external_id, "skipped", records=len(records), aggregate=True,
                         error_message=f"Newer rows already loaded by execution {max(later)}")
                )  # fmt: skip
            for item in mapped.items:
                item.supersedes = (old.execution_id, old.id)
            items.extend(mapped.items)
            _merge(upserts, mapped.upserts)
        return MappedPage(items, list(upserts.values()))
    page = map_page(capability, [old.payload for old in batch], mappings)
    # Non-aggregate capabilities yield exactly one item per record, in order.
    for item, old in zip(page.items, batch, strict=True):
        item.supersedes = (old.execution_id, old.id)
    return page


def _records(old: OpenItem) -> list[Any]:
    """The records an open item kept (an aggregate keeps a list, any other item one record)."""
    return old.payload if isinstance(old.payload, list) else [old.payload]


def _key(record: Any) -> str | None:
    """The record's ``external_id`` as its data row's key, if it has one."""
    if not isinstance(record, dict) or record.get("external_id") is None:
        return None
    return str(record["external_id"])


def _merge(into: dict[str, Upsert], upserts: list[Upsert]) -> None:
    for upsert in upserts:
        table: TableSpec = upsert.table
        target = into.setdefault(table.name, Upsert(table))
        target.keys.extend(upsert.keys)
        target.rows.extend(upsert.rows)
        target.arrow.extend(upsert.arrow)

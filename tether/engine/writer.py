"""Writing syncs to the state: runs, executions, and one transaction per page.

``save_page`` is the rule of DESIGN §6 in code: the page's ``data.*`` upserts, its sync items and
item errors, the execution's statistics and the new cursor commit together or not at all. Rows go
in as Arrow tables (``INSERT … SELECT`` from a registered table), never row by row.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from tether.connectors.base import AGGREGATE_CAPABILITIES, Cursor
from tether.engine.bloom import FreshKeys, KeyFilter
from tether.engine.hashing import record_hashes, row_hashes, stored_values
from tether.engine.mapping import CAPABILITY_TABLES, TABLES, Item, MappedPage, Upsert, upsert_table
from tether.errors import StateError
from tether.state import store

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

ARROW = "_tether_arrow_page"
"""The name SQL uses for the Arrow table of ``SyncWriter._with_table``."""
ARROW_2 = "_tether_arrow_page_2"
"""The name of the second Arrow table of ``SyncWriter._with_tables``."""


class DuplicateRunError(StateError):
    """A run for this integration and cron tick already exists (the tick was launched before)."""

    def __init__(self, integration_id: str, scheduled_for: datetime) -> None:
        super().__init__(
            f"A run of '{integration_id}' for the tick {scheduled_for.isoformat()} already "
            "exists; a tick is never launched twice."
        )
        self.integration_id = integration_id
        self.scheduled_for = scheduled_for


@dataclass
class Execution:
    """One capability's execution in a run, with its statistics as committed so far."""

    id: int
    run_id: int
    integration_id: str
    domain_type: str
    trigger: str
    dry_run: bool
    full_resync: bool
    started_at: datetime
    records_fetched: int = 0
    success: int = 0
    failed: int = 0
    skipped: int = 0
    mapped: int = 0
    partial_mapped: int = 0
    rate_limit_wait_s: float = 0.0
    pages: int = 0
    items: int = 0
    status: str = "running"
    error_code: str | None = None
    error: str | None = None
    fresh: FreshKeys | None = None
    """Set when this execution's tables held no row of the integration when it started."""
    cursor_saved: bool = False
    """This execution has written its cursor row (later pages update it in place)."""
    hashing: bool = False
    """Loaded records get content hashes in ``sync_hashes`` (per-record domain types, not dry)."""
    compare_hashes: bool = False
    """``sync_hashes`` held hashes of this domain type at start: unchanged records are skipped."""
    rewrite: bool = False
    """Write every fetched record even when its hash is unchanged (a backfill: a row lost from
    ``data.*`` comes back); hashes are still replaced."""
    open_items: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """External id → (execution_id, item id) of unresolved items of earlier executions that a
    fresh fetch takes over (read when the execution starts)."""
    opened: KeyFilter | None = None
    """The external ids of the items this execution left open, for a later page that fetches
    the same record again. Only a Bloom filter: their item ids are looked up in ``sync_items``
    on a "maybe", since there can be as many open items as records (a dict of them took 17 MB
    in a 1M-order first sync)."""

    def count(self, items: Sequence[Item]) -> None:
        """Add a page's items to the statistics (aggregate items count their records)."""
        for item in items:
            self.items += 1
            if item.aggregate:
                if self.dry_run:
                    self.mapped += item.loaded
                else:
                    self.success += item.loaded
                self.failed += item.failed
                continue
            status = item.status
            if status == "success":
                self.success += 1
            elif status == "failed":
                self.failed += 1
            elif status == "partial_mapped":
                self.partial_mapped += 1
            elif status == "mapped":
                self.mapped += 1
            elif status == "skipped":
                self.skipped += 1

    def outcome(self) -> str:
        return "partial" if self.failed or self.partial_mapped else "success"


def _now() -> datetime:
    return datetime.now(UTC)


class SyncWriter:
    """The state writes of syncs, retries and resets for one integration."""

    def __init__(self, con: duckdb.DuckDBPyConnection, integration_id: str) -> None:
        self.con = con
        self.integration_id = integration_id
        row = con.execute("SELECT current_setting('enable_external_access')").fetchone()
        self._scan_by_name = bool(row and row[0])
        """DuckDB's replacement scans (a Python variable read by name) are part of its external
        access; the daemon turns that off (``tether.state.usersql``), so there the Arrow tables
        are registered instead."""

    # ----------------------------------------------------------------------------- runs

    def start_run(
        self,
        trigger: str,
        scheduled_for: datetime | None,
        actor: str,
        audit: dict[str, Any],
    ) -> int:
        """Create the run and its audit row; a tick already run raises ``DuplicateRunError``."""
        import duckdb

        con = self.con
        try:
            # a duplicate tick fails the insert (or the commit): the transaction rolls back,
            # then the constraint error becomes DuplicateRunError
            with store.transaction(con):
                row = con.execute(
                    "INSERT INTO runs (integration_id, trigger, scheduled_for, requested_by) "
                    "VALUES (?, ?, ?, ?) RETURNING id",
                    [self.integration_id, trigger, scheduled_for, actor],
                ).fetchone()
                assert row is not None
                run_id = int(row[0])
                self.audit(
                    actor, "retry" if trigger == "retry" else "sync", {"run_id": run_id, **audit}
                )
        except duckdb.ConstraintException:
            assert scheduled_for is not None
            raise DuplicateRunError(self.integration_id, scheduled_for) from None
        return run_id

    def audit(self, actor: str, action: str, detail: dict[str, Any]) -> None:
        """An ``audit_log`` row about this integration (``tether.state.store.audit``)."""
        store.audit(self.con, actor, action, detail, integration_id=self.integration_id)

    def start_execution(
        self, run_id: int, domain_type: str, trigger: str, *, dry_run: bool, full_resync: bool
    ) -> Execution:
        started = _now()
        row = self.con.execute(
            "INSERT INTO executions (run_id, integration_id, domain_type, trigger, status, "
            "dry_run, full_resync, started_at, pid) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?) "
            "RETURNING id",
            [
                run_id,
                self.integration_id,
                domain_type,
                trigger,
                dry_run,
                full_resync,
                started,
                os.getpid(),
            ],
        ).fetchone()
        assert row is not None
        execution = Execution(
            int(row[0]),
            run_id,
            self.integration_id,
            domain_type,
            trigger,
            dry_run,
            full_resync,
            started,
        )
        self.track_hashes(execution)
        return execution

    def finish_execution(
        self,
        execution: Execution,
        status: str,
        error_code: str | None = None,
        error: str | None = None,
    ) -> None:
        execution.status, execution.error_code, execution.error = status, error_code, error
        self._save_first_hashes(execution)
        finished = _now()
        self.con.execute(
            "UPDATE executions SET status = ?, error_code = ?, error = ?, finished_at = ?, "
            "duration_s = ? WHERE id = ?",
            [
                status,
                error_code,
                error,
                finished,
                (finished - execution.started_at).total_seconds(),
                execution.id,
            ],
        )

    # ------------------------------------------------------------------------- cursors

    def cursor(self, domain_type: str) -> Cursor | None:
        import orjson

        row = self.con.execute(
            "SELECT cursor FROM sync_state WHERE integration_id = ? AND domain_type = ?",
            [self.integration_id, domain_type],
        ).fetchone()
        if row is None or row[0] is None:
            return None
        value = orjson.loads(row[0])
        return value if isinstance(value, dict) else None

    # -------------------------------------------------------------------------- pages

    def save_page(
        self,
        execution: Execution,
        page: MappedPage,
        *,
        cursor: Cursor | None = None,
        records_fetched: int = 0,
        waited_s: float = 0.0,
    ) -> None:
        """Commit one page: data rows, items, item errors, statistics and cursor, together.

        In a dry run nothing but the items and statistics is written. ``cursor=None`` keeps the
        previous cursor.
        """
        execution.records_fetched += records_fetched
        execution.rate_limit_wait_s += waited_s
        execution.pages += 1
        with store.transaction(self.con):
            if not execution.dry_run:
                self._upsert_page(execution, page)
                self._take_over(execution, page.items)
            execution.count(page.items)
            self._insert_items(execution, page.items)
            self._save_statistics(execution)
            if cursor is not None and not execution.dry_run:
                self._save_cursor(execution, cursor)

    def track_fresh_tables(self, execution: Execution, tables: Sequence[str]) -> None:
        """Start skipping DELETEs if none of ``tables`` holds a row of this integration."""
        for table in tables:
            row = self.con.execute(
                f"SELECT EXISTS (SELECT 1 FROM data.{table} WHERE integration_id = ?)",
                [self.integration_id],
            ).fetchone()
            if row is None or row[0]:
                return
        execution.fresh = FreshKeys()

    def _upsert_page(self, execution: Execution, page: MappedPage) -> None:
        upserts = page.upserts
        rows = [_arrow_rows(upsert) for upsert in upserts]
        if execution.hashing and any(t is not None for t in rows):
            unchanged = self._skip_unchanged(execution, page.items, upserts, rows)
            if unchanged:
                rows = [
                    _without(t, u.table.key, unchanged) for t, u in zip(rows, upserts, strict=True)
                ]
                upserts = [
                    Upsert(u.table, [k for k in u.keys if k not in unchanged], u.rows)
                    for u in upserts
                ]
        keys = upserts[0].keys if len(upserts) == 1 else list({k for u in upserts for k in u.keys})
        fresh = execution.fresh
        seen = None if fresh is None else fresh.seen_then_add(keys)
        for upsert, table in zip(upserts, rows, strict=True):
            if seen is None:
                delete: Sequence[str] = upsert.keys
            else:
                delete = [k for k in upsert.keys if k in seen] if seen else []
            self._upsert(execution.id, upsert, delete, table)
        if execution.hashing and execution.compare_hashes and keys:
            self._save_hashes(execution, page.items, keys, upserts, rows)
        for removal in page.removals:
            # another capability's table: never "fresh" for this execution, always deleted
            self._upsert(execution.id, removal, removal.keys, None)

    def _upsert(
        self, execution_id: int, upsert: Upsert, delete: Sequence[str], rows: pa.Table | None
    ) -> None:
        """Delete the ``delete`` keys, then insert the rows (the last copy of each record)."""
        import pyarrow as pa

        table = upsert.table
        if delete:
            self._with_table(
                f"DELETE FROM data.{table.name} WHERE integration_id = ? "
                f"AND {table.key} IN (SELECT k FROM {ARROW})",
                pa.table({"k": pa.array(delete, pa.string())}),
                [self.integration_id],
            )
        if rows is None or not rows.num_rows:
            return
        names = ", ".join(table.column_names)
        values = stored_values(table)
        self._with_table(
            f"INSERT INTO data.{table.name} (integration_id, {names}, execution_id) "
            f"SELECT ?, {values}, ? FROM {ARROW}",
            rows,
            [self.integration_id, execution_id],
        )

    # -------------------------------------------------------------------- content hashes

    def track_hashes(self, execution: Execution) -> None:
        """Keep content hashes for this execution's records (per-record domain types only)."""
        if execution.dry_run or execution.domain_type in AGGREGATE_CAPABILITIES:
            return
        execution.hashing = True
        row = self.con.execute(
            "SELECT EXISTS (SELECT 1 FROM sync_hashes WHERE integration_id = ? "
            "AND domain_type = ?)",
            [self.integration_id, execution.domain_type],
        ).fetchone()
        execution.compare_hashes = bool(row and row[0])

    def _skip_unchanged(
        self,
        execution: Execution,
        items: Sequence[Item],
        upserts: Sequence[Upsert],
        rows: Sequence[pa.Table | None],
    ) -> set[str]:
        """Mark fetched records whose rows hash as stored ``skipped``; return their keys."""
        if not execution.compare_hashes or execution.rewrite:
            return set()
        # Only fully loaded, freshly fetched records are compared (re-mapped ones are retries).
        candidates = {i.external_id for i in items if i.status == "success" and not i.supersedes}
        if not candidates:
            return set()
        found = self._with_tables(
            "SELECT p.k, s.execution_id FROM (" + _page_hashes(upserts, rows) + ") p "
            "JOIN sync_hashes s ON s.external_id = p.k AND s.hash = p.h "
            "WHERE s.integration_id = ? AND s.domain_type = ?",
            rows,
            [self.integration_id, execution.domain_type],
        ).fetchall()
        since = {k: n for k, n in found if k in candidates}
        for item in items:
            n = since.get(item.external_id)
            if n is not None and item.status == "success" and not item.supersedes:
                item.status, item.loaded = "skipped", 0
                item.error_message = f"Unchanged since execution {n}"
        return set(since)

    def _save_hashes(
        self,
        execution: Execution,
        items: Sequence[Item],
        keys: Sequence[str],
        upserts: Sequence[Upsert],
        rows: Sequence[pa.Table | None],
    ) -> None:
        """Replace the hashes of the records this page wrote; keep only fully loaded ones.

        Only when hashes were stored before: an old hash must go in the transaction that
        rewrites its record, or a later fetch could skip a record whose rows changed.
        """
        import pyarrow as pa

        self._with_table(
            "DELETE FROM sync_hashes WHERE integration_id = ? AND domain_type = ? "
            f"AND external_id IN (SELECT k FROM {ARROW})",
            pa.table({"k": pa.array(keys, pa.string())}),
            [self.integration_id, execution.domain_type],
        )
        if all(table is None for table in rows):
            return  # every record of the page left the tables (closed orders): nothing to hash
        partial = [i.external_id for i in items if i.status != "success" and not i.aggregate]
        self._with_tables(
            "INSERT INTO sync_hashes SELECT ?, ?, k, h, ? FROM ("
            + _page_hashes(upserts, rows)
            + ") WHERE NOT list_contains(?, k)",
            rows,
            [self.integration_id, execution.domain_type, execution.id, partial],
        )

    def _save_first_hashes(self, execution: Execution) -> None:
        """Hash, in one statement, the records a first sync loaded in full.

        With no hash stored when the execution started there is none to replace, so instead of
        hashing every page (measured: +20% CPU on a first sync) the rows are hashed from
        ``data.*`` at the end. A crash before this only leaves records unhashed: the next sync
        rewrites them instead of skipping them.
        """
        if not execution.hashing or execution.compare_hashes:
            return
        specs = [TABLES[name] for name in CAPABILITY_TABLES.get(execution.domain_type, ())]
        if not specs:
            return
        loaded = [
            row_hashes(
                spec,
                f"data.{spec.name} WHERE integration_id = $1 AND execution_id = $3",
                stored=True,
            )
            for spec in specs
        ]
        self.con.execute(
            f"INSERT INTO sync_hashes SELECT $1, $2, k, h, $3 FROM ({record_hashes(loaded)}) "
            "WHERE k NOT IN (SELECT external_id FROM sync_items WHERE execution_id = $3 "
            "AND status <> 'success')",
            [self.integration_id, execution.domain_type, execution.id],
        )

    def _take_over(self, execution: Execution, items: Sequence[Item]) -> None:
        """A freshly fetched record takes over the older unresolved item of the same id."""
        if not execution.open_items and execution.opened is None:
            return
        fetched = [i.external_id for i in items if not i.aggregate and i.supersedes is None]
        old: list[tuple[int, int]] = []
        if execution.open_items:
            for external_id in fetched:
                old.extend(execution.open_items.pop(external_id, ()))
        if execution.opened is not None and fetched:
            maybe = execution.opened.maybe_added(fetched)
            if maybe:
                old.extend(self._opened_here(execution, maybe))
        self.resolve(old, execution.id)

    def _opened_here(self, execution: Execution, keys: list[str]) -> list[tuple[int, int]]:
        """(execution_id, item id) of the items of ``keys`` this execution left open so far."""
        import pyarrow as pa

        rows = self._with_tables(
            "SELECT execution_id, id FROM sync_items WHERE execution_id = ? "
            f"AND external_id IN (SELECT k FROM {ARROW}) AND payload IS NOT NULL "
            "AND resolved_by IS NULL",
            [pa.table({"k": pa.array(keys, pa.string())})],
            [execution.id],
        ).fetchall()
        return [(int(e), int(i)) for e, i in rows]

    def resolve(self, old: Sequence[tuple[int, int]], by_execution: int) -> None:
        """Mark items (execution_id, id) as taken over by ``by_execution``."""
        if not old:
            return
        import pyarrow as pa

        execution_ids, item_ids = zip(*old, strict=True)
        low, high = min(execution_ids), max(execution_ids)
        self._with_table(
            f"UPDATE sync_items SET resolved_by = ? WHERE execution_id BETWEEN ? AND ? "
            f"AND id IN (SELECT i FROM {ARROW}) AND resolved_by IS NULL",
            pa.table({"i": pa.array(item_ids, pa.int64())}),
            [by_execution, low, high],
        )

    def _insert_items(self, execution: Execution, items: Sequence[Item]) -> None:
        if not items:
            return
        import orjson
        import pyarrow as pa

        fetched = _now()
        payloads = [
            None if item.payload is None else orjson.dumps(item.payload, default=str).decode()
            for item in items
        ]
        columns: dict[str, Any] = {
            "external_id": pa.array([i.external_id for i in items], pa.string()),
            "status": pa.array([i.status for i in items], pa.string()),
            "error_code": pa.array([i.error_code for i in items], pa.string()),
            "error_message": pa.array([i.error_message for i in items], pa.string()),
            "records": pa.array([i.records for i in items], pa.int32()),
            "payload": pa.array(payloads, pa.string()),
        }
        # Item ids are needed here only to link item errors; a page of clean items lets the
        # INSERT draw them from the sequence itself.
        needs_ids = any(i.errors for i in items)
        ids: list[int] = []
        if needs_ids:
            ids = [
                r[0]
                for r in self.con.execute(
                    "SELECT nextval('sync_item_id_seq') FROM range(?)", [len(items)]
                ).fetchall()
            ]
            columns["id"] = pa.array(ids, pa.int64())
        item_id = "id" if needs_ids else "nextval('sync_item_id_seq')"
        self._with_table(
            "INSERT INTO sync_items (id, execution_id, integration_id, domain_type, external_id, "
            "status, error_code, error_message, fetched_at, records, payload) "
            f"SELECT {item_id}, ?, ?, ?, external_id, status, error_code, error_message, ?, "
            f"records, payload FROM {ARROW}",
            pa.table(columns),
            [execution.id, self.integration_id, execution.domain_type, fetched],
        )
        superseded = [item.supersedes for item in items if item.supersedes is not None]
        self.resolve(superseded, execution.id)
        if needs_ids:
            self._insert_errors(execution, items, ids)
        # Items still not fully loaded stay open; a later fetch of the same record takes over.
        if execution.dry_run:
            return
        opened = [i.external_id for i in items if i.payload is not None and not i.aggregate]
        if opened:
            if execution.opened is None:
                execution.opened = KeyFilter()
            execution.opened.add(opened)

    def _insert_errors(self, execution: Execution, items: Sequence[Item], ids: list[int]) -> None:
        rows = [
            (item_id, e.external_id, e.code, e.message, e.sku, e.channel, e.warehouse)
            for item, item_id in zip(items, ids, strict=True)
            for e in item.errors
        ]
        if not rows:
            return
        import pyarrow as pa

        item_ids, external_ids, codes, messages, skus, channels, warehouses = zip(
            *rows, strict=True
        )
        s = pa.string()
        self._with_table(
            "INSERT INTO sync_item_errors (item_id, execution_id, external_id, code, message, "
            f"sku, channel, warehouse) SELECT item_id, ?, external_id, code, message, sku, "
            f"channel, warehouse FROM {ARROW}",
            pa.table(
                {
                    "item_id": pa.array(item_ids, pa.int64()),
                    "external_id": pa.array(external_ids, s),
                    "code": pa.array(codes, s),
                    "message": pa.array(messages, s),
                    "sku": pa.array(skus, s),
                    "channel": pa.array(channels, s),
                    "warehouse": pa.array(warehouses, s),
                }
            ),
            [execution.id],
        )

    def _save_statistics(self, e: Execution) -> None:
        self.con.execute(
            "UPDATE executions SET records_fetched = ?, success = ?, failed = ?, skipped = ?, "
            "mapped = ?, partial_mapped = ?, rate_limit_wait_s = ? WHERE id = ?",
            [
                e.records_fetched,
                e.success,
                e.failed,
                e.skipped,
                e.mapped,
                e.partial_mapped,
                e.rate_limit_wait_s,
                e.id,
            ],
        )

    def _save_cursor(self, execution: Execution, cursor: Cursor) -> None:
        import orjson

        text = orjson.dumps(cursor, default=str).decode()
        params = [text, _now(), self.integration_id, execution.domain_type]
        if not execution.cursor_saved:
            # first page of the execution: the row may not exist yet (an UPDATE is cheaper after)
            self.con.execute(
                "DELETE FROM sync_state WHERE integration_id = ? AND domain_type = ?",
                params[2:],
            )
            self.con.execute(
                "INSERT INTO sync_state (cursor, updated_at, integration_id, domain_type, "
                "generation) VALUES (?, ?, ?, ?, 0)",
                params,
            )
            execution.cursor_saved = True
        else:
            self.con.execute(
                "UPDATE sync_state SET cursor = ?, updated_at = ? "
                "WHERE integration_id = ? AND domain_type = ?",
                params,
            )

    def _with_tables(
        self, sql: str, tables: Sequence[pa.Table | None], params: list[Any]
    ) -> duckdb.DuckDBPyConnection:
        """Run ``sql`` reading ``tables`` as ``ARROW``, ``ARROW_2`` (at most two; see below)."""
        assert len(tables) <= 2
        if not self._scan_by_name:
            return self._registered(sql, {ARROW: tables[0], ARROW_2: tables[-1]}, params)
        _tether_arrow_page = tables[0]  # read by name by DuckDB
        _tether_arrow_page_2 = tables[-1]
        return self.con.execute(sql, params)

    def _with_table(self, sql: str, table: pa.Table, params: list[Any]) -> None:
        """Run ``sql`` reading ``table`` as ``ARROW``.

        DuckDB finds the Arrow table by its variable name in this frame (a replacement scan):
        measured here twice as fast as ``register``/``unregister`` per statement.
        """
        if not self._scan_by_name:
            self._registered(sql, {ARROW: table}, params)
            return
        _tether_arrow_page = table  # read by name by DuckDB
        self.con.execute(sql, params)

    def _registered(
        self, sql: str, tables: dict[str, pa.Table | None], params: list[Any]
    ) -> duckdb.DuckDBPyConnection:
        """Run ``sql`` with ``tables`` registered under their names (no replacement scans).

        Each page's table replaces the last one's under the same name; it is not unregistered
        after the statement, whose result (RETURNING rows) the caller may still be reading.
        """
        for name, table in tables.items():
            if table is not None:
                self.con.register(name, table)
        return self.con.execute(sql, params)


def prepare_upsert(upsert: Upsert) -> None:
    """Convert the upsert's rows to the Arrow table the writer inserts, ahead of the write (the
    fetch worker does it, so the process that writes only runs SQL)."""
    upsert.prepared = _arrow_rows(upsert)
    upsert.rows, upsert.arrow = [], []


def _arrow_rows(upsert: Upsert) -> pa.Table | None:
    """The upsert's rows as an Arrow table (the last copy of each record), or None if none."""
    if upsert.prepared is not None or not (upsert.rows or upsert.arrow):
        return upsert.prepared
    if upsert.arrow:
        return upsert_table(upsert)
    if not upsert.rows:
        return None
    import pyarrow as pa

    columns = list(zip(*_last_per_key(upsert), strict=True))
    return pa.table(
        {
            name: pa.array(values, _ARROW_TYPES[kind]())
            for (name, kind), values in zip(upsert.table.columns, columns, strict=True)
        }
    )


def _without(rows: pa.Table | None, key: str, keys: set[str]) -> pa.Table | None:
    if rows is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    return rows.filter(pc.invert(pc.is_in(rows[key], value_set=pa.array(list(keys)))))


def _page_hashes(upserts: Sequence[Upsert], rows: Sequence[pa.Table | None]) -> str:
    """SQL: (k, h) per record of the page (``hashing``), its rows read as ``ARROW``, ``ARROW_2``."""
    return record_hashes(
        [
            row_hashes(upsert.table, ARROW if n == 0 else ARROW_2, stored=False)
            for n, (upsert, table) in enumerate(zip(upserts, rows, strict=True))
            if table is not None
        ]
    )


def _last_per_key(upsert: Upsert) -> list[tuple[Any, ...]]:
    """The rows, keeping only the last copy of a record that appears twice (never duplicate)."""
    names = upsert.table.column_names
    key, external_id = names.index(upsert.table.key), names.index("external_id")
    if key == external_id:
        if len(set(upsert.keys)) == len(upsert.rows):
            return upsert.rows
        latest = {row[key]: row for row in upsert.rows}
    else:
        # (order, line) pairs are unique when the line ids alone are: the usual case, in C
        if len(set(map(itemgetter(external_id), upsert.rows))) == len(upsert.rows):
            return upsert.rows
        latest = {(row[key], row[external_id]): row for row in upsert.rows}
    return list(latest.values())


class _Types(dict[str, Any]):
    """Arrow type constructors per ``TableSpec`` column kind (pyarrow is imported lazily)."""

    def __missing__(self, kind: str) -> Any:
        import pyarrow as pa

        constructors = {
            "str": pa.string,
            "float": pa.float64,
            "bool": pa.bool_,
            "date": pa.string,
            "ts": pa.string,
        }
        self[kind] = constructors[kind]
        return self[kind]


_ARROW_TYPES = _Types()


def open_items(
    con: duckdb.DuckDBPyConnection, integration_id: str, domain_type: str
) -> dict[str, list[tuple[int, int]]]:
    """External id → (execution_id, item id) of items not fully loaded and not yet taken over."""
    found: dict[str, list[tuple[int, int]]] = {}
    for external_id, execution_id, item_id in con.execute(
        "SELECT s.external_id, s.execution_id, s.id FROM sync_items s "
        "JOIN executions e ON e.id = s.execution_id "
        "WHERE s.integration_id = ? AND s.domain_type = ? AND s.resolved_by IS NULL "
        "AND s.status IN ('failed', 'partial_mapped') AND NOT e.dry_run",
        [integration_id, domain_type],
    ).fetchall():
        found.setdefault(external_id, []).append((execution_id, item_id))
    return found

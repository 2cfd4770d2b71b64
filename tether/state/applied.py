"""Reads of the applied configuration, for plan and apply (plain values: no config types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from tether.config.model import CachedMappingRows

if TYPE_CHECKING:
    import duckdb

INTEGRATION_COLUMNS = (
    "id", "name", "service", "enabled", "dry_run", "cron", "timezone", "capabilities",
    "settings", "credentials_ref", "credentials_fingerprint", "source_path",
    "retry_attempts", "retry_backoff_s",
)  # fmt: skip


@dataclass
class AppliedState:
    lineage: str | None = None
    serial: int = 0
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    paused: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_applied(con: duckdb.DuckDBPyConnection | None) -> AppliedState:
    state = AppliedState()
    if con is None:
        return state
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    state.lineage = meta.get("lineage")
    state.serial = int(meta.get("serial", 0))
    columns = ", ".join(INTEGRATION_COLUMNS)
    rows = con.execute(
        f"SELECT {columns}, paused, paused_reason, paused_by, paused_at FROM integrations"
    ).fetchall()
    for row in rows:
        record = dict(zip(INTEGRATION_COLUMNS, row[: len(INTEGRATION_COLUMNS)], strict=True))
        record["capabilities"] = list(record["capabilities"])
        record["settings"] = orjson.loads(record["settings"]) if record["settings"] else {}
        state.integrations[record["id"]] = record
        paused, reason, by, at = row[len(INTEGRATION_COLUMNS) :]
        if paused:
            state.paused[record["id"]] = {
                "reason": reason,
                "by": by,
                "at": at.isoformat() if at else None,
            }
    return state


MAPPING_DIFF_SQL = """
SELECT CASE WHEN a.target IS NULL THEN 'add' WHEN d.target IS NULL THEN 'remove' ELSE 'change' END,
       coalesce(d.kind, a.kind) AS kind, coalesce(d.integration_id, a.integration_id) AS scope,
       coalesce(d.external_id, a.external_id) AS external_id, a.target, d.target, d.line
FROM {desired} d
FULL OUTER JOIN {applied} a
  ON d.kind = a.kind AND d.integration_id = a.integration_id AND d.external_id = a.external_id
WHERE d.target IS DISTINCT FROM a.target
ORDER BY kind, scope, external_id
"""


def mapping_diff(con: duckdb.DuckDBPyConnection | None, desired: Any) -> list[tuple[Any, ...]]:
    """Keyed row diff of desired mapping rows (an Arrow table) against the applied ones.

    Runs inside DuckDB so unchanged rows — nearly all of them — never become Python objects.
    Returns (action, kind, integration_id, external_id, before, after, line) rows.
    """
    import duckdb

    own = con is None
    db = duckdb.connect() if own else con
    assert db is not None
    applied = (
        "(SELECT ''::VARCHAR AS kind, ''::VARCHAR AS integration_id, ''::VARCHAR AS external_id, NULL::VARCHAR AS target WHERE false)"
        if own
        else "mappings"
    )
    if isinstance(desired, CachedMappingRows) and not _reads_files(db):
        # The daemon's connection has external access off (docs/security.md): Python reads it
        import pyarrow.parquet as pq

        desired = pq.read_table(desired.path)
    registered = not isinstance(desired, CachedMappingRows)
    if registered:
        db.register("desired_mappings", desired)
        source = "desired_mappings"
    else:  # DuckDB reads the check cache's Parquet itself: a no-op plan never imports pyarrow
        source = "read_parquet('" + str(desired.path).replace("'", "''") + "')"
    try:
        return db.execute(MAPPING_DIFF_SQL.format(desired=source, applied=applied)).fetchall()
    finally:
        if registered:
            db.unregister("desired_mappings")
        if own:
            db.close()


def _reads_files(db: duckdb.DuckDBPyConnection) -> bool:
    # fetchall, not fetchone: an unfinished result blocks the daemon's shared connection
    rows = db.execute("SELECT current_setting('enable_external_access')").fetchall()
    return bool(rows and rows[0][0])


def history_counts(con: duckdb.DuckDBPyConnection | None, ids: list[str]) -> dict[str, Any]:
    """Executions and items an integration's destroy would drop."""
    if con is None or not ids:
        return {}
    rows = con.execute(
        """
        SELECT e.integration_id, count(DISTINCT e.id), coalesce(sum(e.records_fetched), 0)
        FROM executions e WHERE e.integration_id IN (SELECT unnest(?))
        GROUP BY 1
        """,
        [ids],
    ).fetchall()
    items = dict(
        con.execute(
            "SELECT integration_id, count(*) FROM sync_items "
            "WHERE integration_id IN (SELECT unnest(?)) GROUP BY 1",
            [ids],
        ).fetchall()
    )
    return {
        r[0]: {"executions": r[1], "records_fetched": int(r[2]), "items": items.get(r[0], 0)}
        for r in rows
    }


ERROR_COLUMN = {"sku": ("UNMAPPED_SKU", "sku"), "channel": ("UNMAPPED_CHANNEL", "channel"),
                "warehouse": ("UNMAPPED_WAREHOUSE", "warehouse")}  # fmt: skip


def mapping_impact(
    con: duckdb.DuckDBPyConnection | None, kind: str, keys: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Unresolved failed items that new mapping rows would map, per integration.

    ``keys`` are (integration_id or '' for all, external_id) of added or changed rows.
    """
    if con is None or not keys:
        return []
    import pyarrow as pa

    code, column = ERROR_COLUMN[kind]
    changed = pa.table(
        {"integration_id": [k[0] for k in keys], "external_id": [k[1] for k in keys]}
    )
    con.register("planned_mapping_keys", changed)
    try:
        rows = con.execute(
            f"""
            SELECT s.integration_id, count(DISTINCT err.{column}), count(DISTINCT s.id),
                   count(DISTINCT s.execution_id)
            FROM sync_item_errors err
            JOIN sync_items s ON s.id = err.item_id
            JOIN planned_mapping_keys k
              ON k.external_id = err.{column}
             AND (k.integration_id = '' OR k.integration_id = s.integration_id)
            WHERE err.code = ? AND s.resolved_by IS NULL
              AND s.status IN ('failed', 'partial_mapped')
            GROUP BY 1 ORDER BY 1
            """,
            [code],
        ).fetchall()
    finally:
        con.unregister("planned_mapping_keys")
    return [{"integration": r[0], "keys": r[1], "items": r[2], "executions": r[3]} for r in rows]

"""Apply a plan document to the state: one transaction, serial + 1, an audit row.

The document is applied exactly as planned; staleness (other files, other serial or lineage) is
checked first so an apply never does something the reviewer did not see.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from tether.errors import StalePlanError
from tether.state.store import audit, transaction

if TYPE_CHECKING:
    import duckdb

HISTORY_TABLES = ("sync_item_errors", "sync_items", "executions", "runs", "sync_state")


def check_fresh(
    doc: dict[str, Any], lineage: str | None, serial: int, config_hash: str | None = None
) -> None:
    """Refuse a plan made for another state (lineage, serial) or other files (``config_hash``;
    ``None`` skips that check, e.g. inside the apply transaction after the files were checked)."""
    if doc.get("lineage") != lineage and doc.get("lineage") is not None:
        raise StalePlanError(
            f"Saved plan is stale: it was made for state lineage {doc.get('lineage')}, "
            f"but the state's lineage is {lineage}.",
            hint="Run `tether plan -out FILE` again against this state.",
        )
    if doc.get("serial") != serial:
        raise StalePlanError(
            f"Saved plan is stale: it was made at serial {doc.get('serial')}, "
            f"but the state is at serial {serial} (another apply happened since).",
            hint="Run `tether plan -out FILE` again and review the new plan.",
        )
    if config_hash is not None and doc.get("config_hash") != config_hash:
        raise StalePlanError(
            "Saved plan is stale: the workspace files changed since the plan was made.",
            hint="Run `tether plan -out FILE` again and review the new plan.",
        )


def _delete_history(con: duckdb.DuckDBPyConnection, ids: list[str]) -> None:
    con.execute(
        "DELETE FROM sync_item_errors WHERE execution_id IN "
        "(SELECT id FROM executions WHERE integration_id IN (SELECT unnest(?)))",
        [ids],
    )
    for table in ("sync_items", "executions", "runs", "sync_state"):
        con.execute(f"DELETE FROM {table} WHERE integration_id IN (SELECT unnest(?))", [ids])


def _write_integrations(
    con: duckdb.DuckDBPyConnection, changes: list[dict[str, Any]], serial: int
) -> None:
    import pyarrow as pa

    upserts = [c for c in changes if c["action"] in ("create", "update", "replace")]
    removed = [c["id"] for c in changes if c["action"] in ("delete", "replace")]
    if removed:
        _delete_history(con, removed)
    keep: dict[str, tuple[Any, ...]] = {}
    updated = [c["id"] for c in upserts if c["action"] == "update"]
    if updated:
        for row in con.execute(
            "SELECT id, paused, paused_reason, paused_by, paused_at, created_at FROM integrations "
            "WHERE id IN (SELECT unnest(?))",
            [updated],
        ).fetchall():
            keep[row[0]] = row[1:]
    every = [c["id"] for c in changes]
    if every:
        con.execute("DELETE FROM integrations WHERE id IN (SELECT unnest(?))", [every])
    if not upserts:
        return
    now = datetime.now(UTC)
    records = [c["after"] for c in upserts]
    kept = [keep.get(r["id"], (False, None, None, None, now)) for r in records]
    table = pa.table(
        {
            "id": [r["id"] for r in records],
            "name": [r["name"] for r in records],
            "service": [r["service"] for r in records],
            "enabled": [bool(r["enabled"]) for r in records],
            "dry_run": [bool(r["dry_run"]) for r in records],
            "cron": [r["cron"] for r in records],
            "timezone": [r["timezone"] for r in records],
            "capabilities": pa.array(
                [list(r["capabilities"]) for r in records], pa.list_(pa.string())
            ),
            "settings": [
                orjson.dumps(r["settings"], option=orjson.OPT_SORT_KEYS).decode() for r in records
            ],
            "credentials_ref": [r["credentials_ref"] for r in records],
            "credentials_fingerprint": [r["credentials_fingerprint"] for r in records],
            "source_path": [r["source_path"] for r in records],
            "retry_attempts": [int(r["retry_attempts"]) for r in records],
            "retry_backoff_s": [float(r["retry_backoff_s"]) for r in records],
            "paused": [bool(k[0]) for k in kept],
            "paused_reason": pa.array([k[1] for k in kept], pa.string()),
            "paused_by": pa.array([k[2] for k in kept], pa.string()),
            "paused_at": pa.array([k[3] for k in kept], pa.timestamp("us", tz="UTC")),
            "applied_serial": [serial] * len(records),
            "created_at": pa.array([k[4] for k in kept], pa.timestamp("us", tz="UTC")),
            "updated_at": pa.array([now] * len(records), pa.timestamp("us", tz="UTC")),
        }
    )
    con.register("planned_integrations", table)
    try:
        con.execute(
            "INSERT INTO integrations BY NAME SELECT * REPLACE (settings::JSON AS settings) "
            "FROM planned_integrations"
        )
    finally:
        con.unregister("planned_integrations")


def _write_mappings(con: duckdb.DuckDBPyConnection, changes: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    if not changes:
        return
    gone = [c for c in changes if c["action"] in ("remove", "change")]
    new = [c for c in changes if c["action"] in ("add", "change")]
    if gone:
        keys = pa.table(
            {
                "kind": [c["kind"] for c in gone],
                "integration_id": [c["integration"] for c in gone],
                "external_id": [c["external_id"] for c in gone],
            }
        )
        con.register("gone_mappings", keys)
        try:
            con.execute(
                "DELETE FROM mappings m USING gone_mappings g WHERE m.kind = g.kind "
                "AND m.integration_id = g.integration_id AND m.external_id = g.external_id"
            )
        finally:
            con.unregister("gone_mappings")
    if new:
        rows = pa.table(
            {
                "kind": [c["kind"] for c in new],
                "integration_id": [c["integration"] for c in new],
                "external_id": [c["external_id"] for c in new],
                "target": [c["after"] for c in new],
            }
        )
        con.register("new_mappings", rows)
        try:
            con.execute("INSERT INTO mappings BY NAME SELECT * FROM new_mappings")
        finally:
            con.unregister("new_mappings")


def apply_plan(con: duckdb.DuckDBPyConnection, doc: dict[str, Any], actor: str) -> dict[str, Any]:
    """Write the plan in one transaction. Caller has checked freshness against files."""
    with transaction(con):
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        lineage = meta.get("lineage")
        serial = int(meta.get("serial", 0))
        check_fresh(doc, lineage, serial)  # again, inside the transaction
        new_serial = serial + 1
        lineage = lineage or str(uuid.uuid4())
        _write_integrations(con, doc["integrations"], new_serial)
        _write_mappings(con, doc["mappings"])
        if doc.get("alerts") is not None:  # alerts.yaml changed: the daemon re-reads meta.alerts
            after = doc["alerts"]["after"]
            con.execute("DELETE FROM meta WHERE key = 'alerts'")
            if after is not None:
                con.execute("INSERT INTO meta VALUES ('alerts', ?)", [orjson.dumps(after).decode()])
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('lineage', ?), ('serial', ?)",
            [lineage, str(new_serial)],
        )
        detail = {
            "serial": new_serial,
            "summary": doc["summary"],
            "config_hash": doc["config_hash"],
        }
        audit(con, actor, "apply", detail)
    return {"serial": new_serial, "lineage": lineage, "summary": doc["summary"]}

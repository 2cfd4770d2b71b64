"""Reset an integration's sync state (admin): history and cursors go, the data stays.

Deletes the integration's runs, executions, sync items, item errors and cursors, and writes an
audit row (the audit log is never deleted). The next sync finds no cursor and performs a full
re-sync (``full_resync = true`` on its executions); ``data.*`` rows are upserted by
``(integration_id, external_id)``, so the re-import replaces rather than duplicates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tether.engine.sync import SyncInProgressError, load_integration, recover_interrupted
from tether.engine.writer import SyncWriter
from tether.state.store import transaction

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class ResetResult:
    integration: str
    executions_deleted: int
    items_deleted: int
    cursors_deleted: int
    runs_deleted: int


def reset_integration(
    con: duckdb.DuckDBPyConnection, integration_id: str, *, actor: str
) -> ResetResult:
    integration = load_integration(con, integration_id)
    recover_interrupted(con, integration.id)
    running = con.execute(
        "SELECT count(*) FROM executions WHERE integration_id = ? AND status = 'running'",
        [integration.id],
    ).fetchone()
    if running and running[0]:
        raise SyncInProgressError(
            f"A sync of '{integration.id}' is running; reset after it finishes.",
            hint="Pause the integration (`tether pause`) so no new run starts meanwhile.",
        )

    def count(sql: str) -> int:
        row = con.execute(sql, [integration.id]).fetchone()
        return int(row[0]) if row else 0

    with transaction(con):
        result = ResetResult(
            integration=integration.id,
            executions_deleted=count("SELECT count(*) FROM executions WHERE integration_id = ?"),
            items_deleted=count("SELECT count(*) FROM sync_items WHERE integration_id = ?"),
            cursors_deleted=count("SELECT count(*) FROM sync_state WHERE integration_id = ?"),
            runs_deleted=count("SELECT count(*) FROM runs WHERE integration_id = ?"),
        )
        con.execute(
            "DELETE FROM sync_item_errors WHERE execution_id IN "
            "(SELECT id FROM executions WHERE integration_id = ?)",
            [integration.id],
        )
        for table in ("sync_items", "executions", "runs", "sync_state", "sync_hashes"):
            con.execute(f"DELETE FROM {table} WHERE integration_id = ?", [integration.id])
        SyncWriter(con, integration.id).audit(
            actor,
            "reset",
            {
                "executions_deleted": result.executions_deleted,
                "items_deleted": result.items_deleted,
                "cursors_deleted": result.cursors_deleted,
                "runs_deleted": result.runs_deleted,
            },
        )
    return result

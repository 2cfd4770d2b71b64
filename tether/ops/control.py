"""Operational overrides and the daemon's health: pause, resume (operator), health (viewer).

A pause is an operator's runtime override, not configuration: it lives in the ``integrations``
row (paused, paused_reason, paused_by, paused_at), is written to ``audit_log``, survives apply,
and ``tether plan`` reports it as a change made outside the files. A paused integration keeps
its history and can still be synced by hand; only its schedule stops.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from tether.errors import NotFoundError
from tether.ops import Context, operation
from tether.state.store import audit, transaction


def _row(con: Any, integration: str) -> dict[str, Any]:
    from tether.ops.workspace import integration_rows

    rows: list[dict[str, Any]] = integration_rows(con, datetime.now(UTC), only=integration)
    return rows[0]


def _require(con: Any, integration: str) -> tuple[bool, str | None]:
    found = con.execute(
        "SELECT paused, paused_reason FROM integrations WHERE id = ?", [integration]
    ).fetchone()
    if found is None:
        known = [r[0] for r in con.execute("SELECT id FROM integrations ORDER BY 1").fetchall()]
        raise NotFoundError(
            f"No applied integration '{integration}'.",
            hint=f"Known: {', '.join(known)}." if known else "Run `tether apply` first.",
        )
    return bool(found[0]), found[1]


@operation("pause", "operator", reloads=True)
def pause(ctx: Context, integration: str, reason: str | None = None) -> dict[str, Any]:
    """Stop an integration's scheduled syncs until it is resumed."""
    with ctx.state.write("pause") as con:
        with transaction(con):
            paused, old_reason = _require(con, integration)
            if not paused or (reason is not None and reason != old_reason):
                con.execute(
                    "UPDATE integrations SET paused = true, paused_reason = ?, paused_by = ?, "
                    "paused_at = now() WHERE id = ?",
                    [reason, ctx.actor, integration],
                )
                audit(con, ctx.actor, "pause", {"reason": reason}, integration_id=integration)
        return _row(con, integration)


@operation("resume", "operator", reloads=True)
def resume(ctx: Context, integration: str) -> dict[str, Any]:
    """Resume a paused integration's schedule from its next tick (missed ticks are not run)."""
    with ctx.state.write("resume") as con:
        with transaction(con):
            paused, reason = _require(con, integration)
            if paused:
                con.execute(
                    "UPDATE integrations SET paused = false, paused_reason = NULL, "
                    "paused_by = NULL, paused_at = NULL WHERE id = ?",
                    [integration],
                )
                audit(
                    con, ctx.actor, "resume", {"was_paused_for": reason}, integration_id=integration
                )
        return _row(con, integration)


@operation("health", "viewer")
def health(ctx: Context) -> dict[str, Any]:
    """The daemon's health: scheduler lag, running and waiting runs, missed ticks."""
    from tether.state.db import meta

    with ctx.state.read() as con:
        serial = meta(con).get("serial")
        running = (
            {}
            if con is None
            else dict(
                con.execute(
                    "SELECT integration_id, max(run_id) FROM executions "
                    "WHERE status = 'running' GROUP BY 1"
                ).fetchall()
            )
        )
    doc: dict[str, Any] = {
        "ok": False,
        "daemon": False,
        "pid": None,
        "state_file": str(ctx.workspace.state_path),
        "socket": str(ctx.workspace.socket_path),
        "serial": int(serial) if serial is not None else None,
        "scheduler_lag_s": 0.0,
        "running": [],
    }
    daemon = ctx.services.get("daemon")
    if daemon is None:
        doc["message"] = "No daemon is running: nothing runs on a schedule."
        return doc
    doc.update(daemon())
    doc.update(daemon=True, pid=os.getpid())
    for run in doc["running"]:
        run["run_id"] = running.get(run["integration"])
    return doc

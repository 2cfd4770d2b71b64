"""Sync operations: sync and retry (operator), reset (admin). Shapes: docs ops contract."""

from __future__ import annotations

from typing import Any

from tether.ops import Context, operation


@operation("sync", "operator")
def sync(
    ctx: Context,
    integration: str,
    capabilities: list[str] | None = None,
    dry_run: bool | None = None,
    full: bool = False,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Run a sync of an integration now (a manual run; a backfill with ``since``)."""
    hook = ctx.services.get("sync")
    if hook is not None:
        # The daemon queues a manual run behind one in progress; same answer shape.
        window = {"since": since, "until": until} if since or until else {}
        result: dict[str, Any] = hook(
            ctx,
            integration=integration,
            capabilities=capabilities,
            dry_run=dry_run,
            full=full,
            **window,
        )
        return result
    return run_manual_sync(ctx, integration, capabilities, dry_run, full, since, until)


def run_manual_sync(
    ctx: Context,
    integration: str,
    capabilities: list[str] | None = None,
    dry_run: bool | None = None,
    full: bool = False,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Run the sync in this process and answer with its executions (also used by the daemon).

    ``since`` (and ``until``) make it a backfill: that window is re-fetched, trigger
    ``backfill``, and no cursor moves.
    """
    from datetime import UTC, datetime

    from tether.engine.sync import run_sync
    from tether.engine.window import parse_window, window_json
    from tether.state import queries

    window = parse_window(since, until, now=datetime.now(UTC))
    with ctx.state.write("sync") as con:
        result = run_sync(
            con,
            ctx.workspace,
            integration,
            capabilities=capabilities or None,
            trigger="manual" if window is None else "backfill",
            dry_run=dry_run,
            full=full,
            actor=ctx.actor,
            progress=ctx.progress,
            cancel=ctx.cancel,
            window=window,
        )
        return {
            "window": window_json(window),
            "run_id": result.run_id,
            "queued": False,
            "executions": queries.executions_by_id(con, result.execution_ids),
            "remapped": {"items": result.remapped, "loaded": result.loaded},
            "cancelled": result.cancelled,
        }


@operation("retry", "operator", run_policy="queued")
def retry(ctx: Context, integration: str) -> dict[str, Any]:
    """Re-map stored failed items against today's mappings, without refetching."""
    from tether.engine.sync import run_retry
    from tether.state import queries

    with ctx.state.write("retry") as con:
        result = run_retry(con, integration, actor=ctx.actor, progress=ctx.progress)
        found = queries.executions_by_id(con, result.execution_ids)
        return {
            "run_id": result.run_id,
            "items_retried": result.remapped,
            "items_loaded": result.loaded,
            "still_failed": sum(e["failed"] + e["partial_mapped"] for e in found),
            "executions": found,
        }


@operation("reset", "admin", run_policy="exclusive", reloads=True)
def reset(ctx: Context, integration: str, confirm: str | None = None) -> dict[str, Any]:
    """Delete an integration's sync history and cursors; the next sync is a full re-sync."""
    from tether.engine.reset import reset_integration
    from tether.errors import TetherError

    if confirm != integration:
        raise TetherError(
            f"Reset of '{integration}' not confirmed.",
            hint=f"Pass confirm='{integration}' (the CLI asks you to type the id).",
        )
    with ctx.state.write("reset") as con:
        result = reset_integration(con, integration, actor=ctx.actor)
        return {
            "integration": result.integration,
            "executions_deleted": result.executions_deleted,
            "items_deleted": result.items_deleted,
            "cursors_deleted": result.cursors_deleted,
            "runs_deleted": result.runs_deleted,
        }

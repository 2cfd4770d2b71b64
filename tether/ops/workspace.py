"""Operations on the workspace and the applied configuration: validate, plan, apply, status…"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tether.config.model import DesiredState
from tether.config.workspace import files_digest, load_workspace
from tether.engine.alerts import alerts_change, applied_alerts
from tether.engine.apply import apply_plan, check_fresh
from tether.engine.health import Health, HealthBook, read_health
from tether.engine.plan import make_plan, mapping_changes
from tether.engine.schedule import upcoming
from tether.engine.services import service_infos
from tether.errors import NotFoundError, StateError, TetherError
from tether.ops import Context, operation
from tether.state.applied import history_counts, load_applied, mapping_diff, mapping_impact
from tether.state.store import audit


def desired_state(ctx: Context) -> DesiredState:
    return load_workspace(ctx.workspace, service_infos(ctx.workspace.state_path.parent / "cache"))


@operation("validate", "viewer")
def validate(ctx: Context) -> dict[str, Any]:
    """Check every file of the workspace."""
    desired = desired_state(ctx)
    return {
        "valid": True,
        "integrations": len(desired.integrations),
        "mappings": desired.mapping_counts(),
    }


@operation("services", "viewer")
def services(ctx: Context) -> dict[str, Any]:
    """Every known service with its capabilities and credential fields."""
    from dataclasses import asdict

    from tether.connectors.registry import services as registry

    return {
        "services": [
            {
                "name": spec.name,
                "display_name": spec.display_name,
                "description": spec.description,
                "capabilities": [asdict(c) for c in spec.capabilities],
                "credential_fields": [asdict(f) for f in spec.credential_fields],
                "settings": sorted(spec.settings_model.model_fields),
            }
            for spec in registry().values()
        ]
    }


def _impact(con: Any, desired: DesiredState, changes: list[Any]) -> list[dict[str, Any]]:
    impact = []
    for kind in ("sku", "channel", "warehouse"):
        keys = [
            (c.integration, c.external_id)
            for c in changes
            if c.kind == kind and c.action in ("add", "change")
        ]
        for row in mapping_impact(con, kind, keys):
            impact.append({"kind": kind, **row})
    return impact


@operation("plan", "viewer")
def plan(ctx: Context) -> dict[str, Any]:
    """Diff the workspace files against the applied state."""
    desired = desired_state(ctx)
    with ctx.state.read() as con:
        applied = load_applied(con)
        changes = mapping_changes(mapping_diff(con, desired.mappings))
        removed = [i for i in applied.integrations if i not in desired.integrations]
        service_moves = [
            i
            for i, c in desired.integrations.items()
            if i in applied.integrations and applied.integrations[i]["service"] != c.service
        ]
        history = history_counts(con, removed + service_moves)
        impact = _impact(con, desired, changes)
        applied_routes = applied_alerts(con) if con is not None else None
    result = make_plan(
        desired,
        applied,
        history=history,
        impact=impact,
        mapping_changes=changes,
        now=datetime.now(UTC),
    )
    doc = result.to_doc()
    routes = alerts_change(applied_routes, desired.alerts.to_doc() if desired.alerts else None)
    if routes is not None:
        doc.update(alerts=routes, has_changes=True)
    return doc


@operation("apply", "admin")
def apply(ctx: Context, plan: dict[str, Any]) -> dict[str, Any]:
    """Apply a plan document (from `plan`, or a saved plan file) exactly as planned."""
    if plan.get("format_version") != 1:
        raise TetherError(
            f"Unsupported plan format {plan.get('format_version')!r}.",
            hint="Make the plan with this version of tether.",
        )
    # The files are not re-validated: the plan was made from them, and a digest of their bytes
    # proves they are unchanged (any edit makes the plan stale).
    files = files_digest(ctx.workspace)
    with ctx.state.write("apply") as con:
        applied = load_applied(con)
        check_fresh(plan, applied.lineage, applied.serial, files)
        if not plan.get("has_changes"):
            return {
                "serial": applied.serial,
                "lineage": applied.lineage,
                "summary": plan["summary"],
            }
        result = apply_plan(con, plan, ctx.actor)
    notify = ctx.services.get("on_apply")
    if callable(notify):
        notify(result["serial"])
    return result


@operation("unlock", "admin")
def unlock(ctx: Context) -> dict[str, Any]:
    """Clear a state lock left by a dead process."""
    from tether.state.db import StateLock, read_holder

    path = ctx.workspace.state_path
    holder = read_holder(path)
    if holder is None:
        return {"unlocked": False, "message": "The state is not locked."}
    if holder.alive() and holder.pid != _own_pid():
        raise StateError(
            f"The state lock holder is still running ({holder.describe()}).",
            hint="Stop that process first; unlock only clears locks whose holder is dead.",
        )
    lock = StateLock(path, "unlock")
    lock.acquire()
    lock.release()
    with ctx.state.write("unlock") as con:
        audit(con, ctx.actor, "unlock", {"cleared": holder.describe()})
    return {"unlocked": True, "message": f"Cleared the lock held by {holder.describe()}."}


def _own_pid() -> int:
    import os

    return os.getpid()


def _iso(value: Any) -> str | None:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else None


def health_book(ctx: Context) -> HealthBook | None:
    """The daemon's evaluator (``None`` without a daemon: health is evaluated per call)."""
    book = ctx.services.get("health")
    return book if isinstance(book, HealthBook) else None


STATUS_SQL = """
WITH latest AS (  -- the newest execution per integration: an index-friendly max, not a sort
    SELECT integration_id, max(id) AS id FROM executions GROUP BY 1
),
recent AS (  -- the last 10 statuses of each integration, oldest first (sparklines, health)
    SELECT integration_id, list(status ORDER BY id) AS recent FROM (
        SELECT integration_id, id, status FROM executions
        QUALIFY row_number() OVER (PARTITION BY integration_id ORDER BY id DESC) <= 10
    ) GROUP BY 1
)
SELECT i.id, i.name, i.service, i.enabled, i.paused, i.paused_reason, i.dry_run, i.capabilities,
       i.cron, i.timezone, i.created_at,
       e.id, e.run_id, e.started_at, e.finished_at, e.status, e.domain_type,
       r.recent
FROM integrations i
LEFT JOIN latest l ON l.integration_id = i.id
LEFT JOIN executions e ON e.id = l.id
LEFT JOIN recent r ON r.integration_id = i.id
{where}
ORDER BY i.id
"""


def integration_rows(
    con: Any, now: datetime, only: str | None = None, book: HealthBook | None = None
) -> list[dict[str, Any]]:
    """Status rows; ``health`` is the daemon's last evaluation when it runs (``book``), else
    evaluated now from the state: the same rule either way (``tether.engine.health``)."""
    if con is None:
        return []
    where = "WHERE i.id = ?" if only else ""
    rows = con.execute(STATUS_SQL.format(where=where), [only] if only else []).fetchall()
    known = book.snapshot() if book is not None else {}
    missing = [r[0] for r in rows if r[0] not in known]
    if missing:
        known.update(read_health(con, now, None if not only and book is None else missing))
    result = []
    for r in rows:
        (iid, name, service, enabled, paused, reason, dry_run, caps, cron, tz, _created,
         eid, run_id, started, finished, status, domain, recent) = r  # fmt: skip
        active = enabled and not paused
        health = known.get(iid) or Health(iid, (), now)
        next_sync = next(iter(upcoming(cron, tz, 1, after=now)), None) if active else None
        result.append(
            {
                "id": iid,
                "name": name,
                "service": service,
                "enabled": enabled,
                "paused": paused,
                "paused_reason": reason,
                "dry_run": dry_run,
                "capabilities": list(caps),
                "cron": cron,
                "timezone": tz,
                "next_sync": _iso(next_sync),
                "last_sync": None
                if eid is None
                else {
                    "execution_id": eid,
                    "run_id": run_id,
                    "started_at": _iso(started),
                    "finished_at": _iso(finished),
                    "status": status,
                    "domain_type": domain,
                },
                "overdue": any(f.code == "overdue" for f in health.flags),
                "recent": list(recent or []),
                "health": health.to_doc(),
            }
        )
    return result


@operation("status", "viewer")
def status(ctx: Context) -> dict[str, Any]:
    """Applied integrations with their last and next sync."""
    now = datetime.now(UTC)
    with ctx.state.read() as con:
        applied_meta = (
            {} if con is None else dict(con.execute("SELECT key, value FROM meta").fetchall())
        )
        rows = integration_rows(con, now, book=health_book(ctx))
    scheduler = ctx.services.get("scheduler")
    if scheduler is not None and hasattr(scheduler, "next_sync"):
        for row in rows:
            planned = scheduler.next_sync(row["id"])
            if planned is not None:
                row["next_sync"] = planned
    serial = applied_meta.get("serial")
    return {
        "serial": int(serial) if serial is not None else None,
        "lineage": applied_meta.get("lineage"),
        "integrations": rows,
    }


@operation("integration", "viewer")
def integration(ctx: Context, id: str) -> dict[str, Any]:
    """One integration's applied configuration (never its secrets)."""
    import orjson

    now = datetime.now(UTC)
    with ctx.state.read() as con:
        rows = integration_rows(con, now, only=id, book=health_book(ctx))
        if not rows:
            known = (
                []
                if con is None
                else [
                    r[0] for r in con.execute("SELECT id FROM integrations ORDER BY 1").fetchall()
                ]
            )
            raise NotFoundError(
                f"No applied integration '{id}'.",
                hint=f"Known: {', '.join(known)}." if known else "Run `tether apply` first.",
            )
        assert con is not None  # rows were found
        found = con.execute(
            "SELECT settings, credentials_ref, source_path FROM integrations WHERE id = ?", [id]
        ).fetchone()
        assert found is not None
        settings, ref, source = found
        from tether.state.queries import latest_verify

        verified = latest_verify(con, id)
    row = rows[0]
    from tether.connectors.registry import services as registry

    spec = registry().get(row["service"])
    row.update(
        settings=orjson.loads(settings) if settings else {},
        credentials_ref=ref,
        credentials_fields=[f.name for f in spec.credential_fields] if spec else [],
        source_path=source,
        next_fire_times=[
            t.isoformat() for t in upcoming(row["cron"], row["timezone"], 5, after=now)
        ],
        verify=verified,
    )
    return row


@operation("sql", "viewer")
def sql(ctx: Context, query: str, limit: int | None = None) -> dict[str, Any]:
    """Run read-only SQL over the state."""
    import logging

    from tether.state import usersql

    error: TetherError | None = None
    try:
        statement = usersql.check(query)
    except TetherError as exc:
        error = exc
    with ctx.state.query() as con:
        if error is None:
            try:
                columns, types, rows = usersql.run(usersql.require_state(con), statement, limit)
            except TetherError as exc:
                error = exc
        if con is not None:
            try:
                ctx.state.audit_sql(ctx.actor, query, error)
            except Exception as exc:  # the answer matters more than its audit row
                logging.getLogger("tether.audit").warning(
                    "sql audit row not written", extra={"fields": {"reason": type(exc).__name__}}
                )
    if error is not None:
        raise error
    return {"columns": columns, "types": types, "rows": [[_jsonable(v) for v in r] for r in rows]}


def _jsonable(value: Any) -> Any:
    """Cell values as JSON can carry them (same output locally and through the daemon)."""
    from datetime import date, time
    from decimal import Decimal
    from uuid import UUID

    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)

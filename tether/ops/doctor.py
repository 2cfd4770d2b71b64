"""``doctor`` (viewer): the seed's diagnostic steps for every integration, plus a support bundle.

Steps 1–4 read the state; step 5 makes one cheap authenticated call per enabled integration
(in a few threads, after the state has been read, so no state connection waits on a service).
The live call uses the credentials inside this process, as a sync does; nothing of them is in
the answer. The rules are in ``tether.engine.doctor``.
"""

from __future__ import annotations

import platform
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from tether.errors import ConfigError, NotFoundError, TetherError
from tether.ops import Context, operation

LIVE_CHECK_THREADS = 8
BUNDLE_VERSION = 1


@operation("doctor", "viewer")
def doctor(
    ctx: Context, integration: str | None = None, live: bool = True, bundle: bool = False
) -> dict[str, Any]:
    """Diagnose integrations: status, executions, failed execution, error analysis, live check."""
    from tether.engine import doctor as rules
    from tether.engine.sync import load_integration
    from tether.ops.workspace import health_book, integration_rows
    from tether.state import queries

    workspace_steps = [_files_step(ctx), _daemon_step(ctx)]
    now = datetime.now(UTC)
    gathered = []
    with ctx.state.read() as con:
        if con is None:
            raise TetherError(
                "Nothing is applied yet: there is no state to diagnose.",
                hint="Run `tether plan` and `tether apply` first.",
            )
        workspace_steps.append(_alerts_step(con))
        rows = integration_rows(con, now, only=integration, book=health_book(ctx))
        if integration is not None and not rows:
            known = ", ".join(queries.integration_ids(con)) or "none"
            raise NotFoundError(f"No applied integration '{integration}'.", hint=f"Known: {known}.")
        scheduler = ctx.services.get("scheduler")
        for row in rows:
            if scheduler is not None and row["next_sync"] is not None:
                row["next_sync"] = scheduler.next_sync(row["id"]) or row["next_sync"]
            executions = queries.executions(con, integration=row["id"], limit=rules.RECENT)
            recent = executions["executions"]
            inspected = next((e for e in recent if e["status"] in ("failed", "partial")), None)
            inspected_errors = (
                queries.error_analysis(con, execution_id=inspected["id"])["top_errors"]
                if inspected
                else []
            )
            analysis = queries.error_analysis(con, integration=row["id"])
            support = _support(con, row, recent, analysis) if bundle else None
            gathered.append((row, recent, inspected, inspected_errors, analysis, support,
                             load_integration(con, row["id"])))  # fmt: skip

    def check(found: Any) -> Any:
        if not live:
            return rules.Step(5, "Connection check", "skip", "not run (--no-live)")
        return rules.live_step(found, ctx.workspace)

    with ThreadPoolExecutor(LIVE_CHECK_THREADS, thread_name_prefix="doctor") as pool:
        checks = list(pool.map(check, [g[-1] for g in gathered]))
    reports = []
    for (row, recent, inspected, errors, analysis, support, _), live_result in zip(
        gathered, checks, strict=True
    ):
        report = rules.diagnose(row, recent, inspected, errors, analysis, live_result)
        if support is not None:
            report["support"] = support
        reports.append(report)
    problems = sum(r["problems"] for r in reports) + sum(
        1 for s in workspace_steps if s["verdict"] == "fail"
    )
    doc: dict[str, Any] = {
        "version": 1,
        "checked_at": now.isoformat(),
        "ok": problems == 0,
        "problems": problems,
        "workspace": workspace_steps,
        "integrations": reports,
    }
    if bundle:
        doc["bundle"] = _environment(ctx)
    return doc


def _files_step(ctx: Context) -> dict[str, Any]:
    from tether.ops.workspace import desired_state

    try:
        desired = desired_state(ctx)
    except ConfigError as exc:
        shown = [str(p) for p in exc.problems[:5]]
        return {"title": "Workspace files", "verdict": "fail",
                "summary": f"{len(exc.problems)} problem(s) in the workspace files",
                "details": shown, "next": "tether validate"}  # fmt: skip
    return {"title": "Workspace files", "verdict": "ok",
            "summary": f"{len(desired.integrations)} integrations valid", "details": [],
            "next": None}  # fmt: skip


def _daemon_step(ctx: Context) -> dict[str, Any]:
    if ctx.services.get("scheduler") is not None:
        return {"title": "Daemon", "verdict": "ok", "summary": "running: schedules fire",
                "details": [], "next": None}  # fmt: skip
    return {"title": "Daemon", "verdict": "warn",
            "summary": "not running: scheduled syncs do not happen",
            "details": [], "next": "tether daemon  (under systemd or docker in production)"}  # fmt: skip


ALERT_WINDOW_SQL = (
    "SELECT count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = "
    "'retrying'), count(*) FROM alert_deliveries WHERE created_at > now() - INTERVAL 1 DAY"
)


def _alerts_step(con: Any) -> dict[str, Any]:
    """Alert messages that did not arrive in the last day (a silent alerting path is a problem
    nobody sees otherwise)."""
    import duckdb

    try:
        failed, retrying, total = con.execute(ALERT_WINDOW_SQL).fetchone()
    except duckdb.Error:  # a state without the alerts table
        return {"title": "Alerts", "verdict": "skip", "summary": "no alert deliveries recorded",
                "details": [], "next": None}  # fmt: skip
    if failed:
        return {"title": "Alerts", "verdict": "warn",
                "summary": f"{failed} of {total} alert messages in the last day were not delivered",
                "details": [], "next": "tether alerts  (and `tether alerts test ROUTE`)"}  # fmt: skip
    summary = f"{total} alert messages in the last day, none failed"
    if retrying:
        summary += f" ({retrying} still retrying)"
    return {"title": "Alerts", "verdict": "ok", "summary": summary, "details": [], "next": None}


def _support(
    con: Any, row: dict[str, Any], recent: list[dict[str, Any]], analysis: dict[str, Any]
) -> dict[str, Any]:
    """The seed's "Information to Provide" for one integration (state only: no secrets)."""
    troubled = [e for e in recent if e["status"] in ("failed", "partial", "interrupted")]
    streak: list[dict[str, Any]] = []
    for e in recent:  # newest first: the run of not-successful executions up to now
        if e["status"] == "success":
            break
        streak.append(e)
    tried = con.execute(
        "SELECT logged_at, actor, action FROM audit_log WHERE integration_id = ? "
        "ORDER BY id DESC LIMIT 20",
        [row["id"]],
    ).fetchall()
    return {
        "integration": {
            "id": row["id"],
            "name": row["name"],
            "service": row["service"],
            "capabilities": row["capabilities"],
            "cron": row["cron"],
            "timezone": row["timezone"],
            "enabled": row["enabled"],
            "paused": row["paused"],
        },
        "execution_ids": [e["id"] for e in troubled],
        "error_messages": [
            *(
                {"execution_id": e["id"], "code": e["error_code"], "message": e["error"]}
                for e in troubled
                if e.get("error")
            ),
            *(
                {"code": t["code"], "message": t["message"], "count": t["count"]}
                for t in analysis.get("top_errors") or []
            ),
        ],
        "started": streak[-1]["started_at"] if streak else None,
        "steps_tried": [
            {"at": at.astimezone(UTC).isoformat(), "actor": actor, "action": action}
            for at, actor, action in tried
        ],
        "unmapped": {
            k: analysis.get(k) or []
            for k in ("unmapped_skus", "unmapped_channels", "unmapped_warehouses")
        },
    }


def _environment(ctx: Context) -> dict[str, Any]:
    from tether import __version__

    return {
        "version": BUNDLE_VERSION,
        "tether": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "workspace": ctx.workspace.settings.project.name,
        "note": "Made by `tether doctor --bundle`: state and diagnosis only; no credentials, "
        "no settings, no synced data.",
    }

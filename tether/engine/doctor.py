"""``tether doctor``: the troubleshooting guide's diagnostic steps (seed 000) as one check.

Per integration, the five steps of "Diagnostic Steps", each with a verdict and what to do next:

1. **Integration status** — enabled, paused, last and next sync, overdue.
2. **Recent executions** — the latest execution of each capability; failed or partial ones.
3. **Failed execution** — the newest failed/partial execution: statistics, dry run, its errors.
4. **Error analysis** — the unmapped SKUs / channels / warehouses still open, top errors.
5. **Connection check** — instead of "trigger a manual sync", one cheap authenticated call
   (``Connector.check``): Shopify's granted access scopes, a BigQuery dry run, a Redshift
   ``LIMIT 0``, a TrackStar/Brewman read of one record. Nothing is written, no cursor moves.

Verdicts: ``ok``, ``warn`` (worth a look, not broken), ``fail`` (a problem to fix: doctor exits
non-zero), ``skip`` (not applicable, e.g. a disabled integration has no connection check).
Steps 1–4 read the state only; their rules are pure functions of plain rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tether.errors import ConnectorError, TetherError

if TYPE_CHECKING:
    from tether.config.project import Workspace
    from tether.engine.sync import Integration

Verdict = Literal["ok", "warn", "fail", "skip"]
VERDICT_ORDER: dict[str, int] = {"skip": 0, "ok": 1, "warn": 2, "fail": 3}
RECENT = 10
"""Executions step 2 looks at (the seed's "sync execution history")."""


@dataclass
class Step:
    number: int
    title: str
    verdict: Verdict
    summary: str
    details: list[str] = field(default_factory=list)
    next: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def worst(verdicts: Sequence[str]) -> str:
    return max(verdicts, key=lambda v: VERDICT_ORDER[v], default="ok")


# --- step 1 ---------------------------------------------------------------------------------


def status_step(row: Mapping[str, Any]) -> Step:
    """``row`` is one integration of the ``status`` operation."""
    iid = row["id"]
    last = row.get("last_sync")
    when = (
        f"last sync {last['started_at']} ({last['status']})" if last else "never synced"
    ) + f", next sync {row.get('next_sync') or '-'}"
    if not row["enabled"]:
        return Step(1, "Integration status", "skip", f"disabled (enabled: false); {when}",
                    next=f"Set enabled: true in integrations/{iid}.yaml and apply to sync it.")  # fmt: skip
    if row["paused"]:
        reason = f": {row['paused_reason']}" if row.get("paused_reason") else ""
        return Step(1, "Integration status", "fail", f"paused{reason}; {when}",
                    details=["A paused integration does not run on its schedule."],
                    next=f"tether resume {iid}")  # fmt: skip
    if last is None:
        return Step(1, "Integration status", "warn", f"enabled; {when}",
                    next=f"tether sync {iid}  (or wait for the schedule)")  # fmt: skip
    if row.get("overdue"):
        return Step(1, "Integration status", "warn",
                    f"enabled, but the last sync is older than the schedule implies; {when}",
                    next="Is the daemon running? `tether daemon health`; start it with "
                    "`tether daemon`.")  # fmt: skip
    return Step(1, "Integration status", "ok", f"enabled; {when}")


# --- step 2 ---------------------------------------------------------------------------------


def executions_step(iid: str, executions: Sequence[Mapping[str, Any]]) -> Step:
    """``executions`` newest first (the ``executions`` operation's rows)."""
    finished = [e for e in executions if e["status"] not in ("running",)]
    if not finished:
        return Step(2, "Recent executions", "skip", "no finished executions yet")
    latest: dict[str, Mapping[str, Any]] = {}
    for e in finished:
        latest.setdefault(str(e["domain_type"]), e)
    failed = [e for e in latest.values() if e["status"] in ("failed", "interrupted")]
    partial = [e for e in latest.values() if e["status"] == "partial"]
    streak = 0
    for e in finished:
        if e["status"] != "failed":
            break
        streak += 1
    details = [
        f"{d}: execution {e['id']} {e['status']} ({e['success']} ok, {e['failed']} failed, "
        f"{e['skipped']} skipped){' — ' + str(e['error_code']) if e.get('error_code') else ''}"
        for d, e in sorted(latest.items())
    ]
    counts = f"{len(finished)} recent execution{'s' if len(finished) != 1 else ''}"
    if failed:
        names = ", ".join(sorted(str(e["domain_type"]) for e in failed))
        more = f"; {streak} failed in a row" if streak > 1 else ""
        return Step(2, "Recent executions", "fail", f"latest {names} failed{more} ({counts})",
                    details, next=f"tether executions {iid} --status failed")  # fmt: skip
    if partial:
        names = ", ".join(sorted(str(e["domain_type"]) for e in partial))
        return Step(2, "Recent executions", "warn", f"latest {names} partial ({counts})", details,
                    next=f"tether items {partial[0]['id']} --status failed")  # fmt: skip
    return Step(2, "Recent executions", "ok", f"latest of each capability succeeded ({counts})",
                details)  # fmt: skip


# --- step 3 ---------------------------------------------------------------------------------


def failed_execution_step(
    execution: Mapping[str, Any] | None, top_errors: Sequence[Mapping[str, Any]]
) -> Step:
    """The newest failed or partial execution (``None``: there is none to inspect)."""
    if execution is None:
        return Step(3, "Failed execution", "ok", "no failed or partial execution to inspect")
    e = execution
    summary = (
        f"execution {e['id']} ({e['domain_type']}, {e['status']}, started {e['started_at']}): "
        f"{e['records_fetched']} records, {e['success']} ok, {e['failed']} failed, "
        f"{e['skipped']} skipped, {e['partial_mapped']} partial"
    )
    details = []
    if e.get("dry_run"):
        details.append("This was a dry run: nothing was saved (dry runs never load data).")
    if e.get("error"):
        details.append(f"{e.get('error_code') or 'error'}: {e['error']}")
    details += [f"{t['count']} × {t['code']}: {t['message']}" for t in top_errors[:5]]
    verdict: Verdict = "fail" if e["status"] == "failed" else "warn"
    return Step(3, "Failed execution", verdict, summary, details,
                next=f"tether items {e['id']} --status failed")  # fmt: skip


# --- step 4 ---------------------------------------------------------------------------------

UNMAPPED = (
    ("unmapped_skus", "sku", "SKU", "skus.csv"),
    ("unmapped_channels", "channel", "channel", "channels.csv"),
    ("unmapped_warehouses", "warehouse", "warehouse", "warehouses.csv"),
)


def _affected(unmapped: Mapping[str, Any]) -> str:
    """ "5 items", or "1 item, 37 records" for aggregate items (one item, many rows)."""
    items, records = int(unmapped["items"]), int(unmapped.get("records") or 0)
    text = f"{items} item{'s' if items != 1 else ''}"
    return f"{text}, {records} records" if records > items else text


def analysis_step(iid: str, analysis: Mapping[str, Any]) -> Step:
    """``analysis`` is the ``errors`` operation's answer for the integration (open items)."""
    details: list[str] = []
    files: list[str] = []
    counts: list[str] = []
    for key, column, label, csv in UNMAPPED:
        found = analysis.get(key) or []
        if found:
            files.append(f"mappings/{csv}")
            counts.append(f"{len(found)} unmapped {label}{'s' if len(found) > 1 else ''}")
            shown = ", ".join(f"'{u[column]}' ({_affected(u)})" for u in found[:5])
            more = f" and {len(found) - 5} more" if len(found) > 5 else ""
            details.append(f"{len(found)} unmapped {label}{'s' if len(found) > 1 else ''}: "
                           f"{shown}{more}")  # fmt: skip
    others = [t for t in analysis.get("top_errors") or [] if not str(t["code"]).startswith("UNMAP")]
    details += [f"{t['count']} × {t['code']}: {t['message']}" for t in others[:3]]
    if files:
        return Step(4, "Error analysis", "fail", ", ".join(counts), details,
                    next=f"Add the external ids to {' and '.join(files)}, then `tether plan` "
                    f"(shows the items they map), `tether apply`, `tether retry {iid}`.")  # fmt: skip
    if others:
        return Step(4, "Error analysis", "warn", f"{len(others)} kinds of open item errors",
                    details, next=f"tether errors {iid}")  # fmt: skip
    return Step(4, "Error analysis", "ok", "no open item errors, nothing unmapped")


# --- step 5 ---------------------------------------------------------------------------------

LIVE_NEXT = {
    "AUTH_FAILED": "Update the credentials: `sops {ref}` (then `tether plan` shows the change "
    "and `tether apply`), or check the app's access in the service.",
    "CONNECTION_TIMEOUT": "The service did not answer: check settings.base_url and the network, "
    "or the service's status page; the daemon retries failed scheduled runs.",
    "RATE_LIMITED": "The service is rate limiting: wait for the next scheduled sync.",
}


def live_step(integration: Integration, workspace: Workspace) -> Step:
    """One cheap authenticated call to the service (see ``Connector.check``)."""
    from tether.engine.sync import open_connector

    if not integration.enabled:
        return Step(5, "Connection check", "skip", "disabled: not checked")
    ref = integration.credentials_ref or "the credentials file"
    try:
        connector = open_connector(integration, workspace)
        try:
            check = getattr(connector, "check", None)
            if check is None:
                return Step(5, "Connection check", "skip",
                            f"the {integration.service} connector has no live check")  # fmt: skip
            verified = str(check(list(integration.capabilities)))
        finally:
            connector.close()
    except ConnectorError as exc:
        hint = LIVE_NEXT.get(exc.code, exc.hint or "See the message; then `tether sync`.")
        return Step(5, "Connection check", "fail", f"{exc.code}: {exc.message}",
                    next=hint.format(ref=ref))  # fmt: skip
    except TetherError as exc:
        return Step(5, "Connection check", "fail", exc.message, next=exc.hint)
    return Step(5, "Connection check", "ok", verified)


# --- one integration ------------------------------------------------------------------------


def diagnose(
    row: Mapping[str, Any],
    executions: Sequence[Mapping[str, Any]],
    inspected: Mapping[str, Any] | None,
    inspected_errors: Sequence[Mapping[str, Any]],
    analysis: Mapping[str, Any],
    live: Step,
) -> dict[str, Any]:
    """The report of one integration: its steps, verdict and the first thing to do."""
    iid = str(row["id"])
    steps = [
        status_step(row),
        executions_step(iid, executions),
        failed_execution_step(inspected, inspected_errors),
        analysis_step(iid, analysis),
        live,
    ]
    verdict = worst([s.verdict for s in steps])
    # Fixes first (status, error analysis, connection); "look at it" steps only without one.
    fixes = [s.next for s in steps if s.verdict == "fail" and s.next and s.number in (1, 4, 5)]
    looks = [s.next for s in steps if s.verdict == "fail" and s.next and s.number in (2, 3)]
    todo = [*reversed(fixes)] if fixes else looks[:1]
    if verdict == "fail" and row["enabled"] and not row["paused"]:
        todo.append(f"tether sync {iid}, then `tether executions {iid}` to see the new run.")
    return {
        "id": iid,
        "name": row["name"],
        "service": row["service"],
        "health": row.get("health"),
        "verdict": verdict,
        "problems": sum(1 for s in steps if s.verdict == "fail"),
        "steps": [s.as_dict() for s in steps],
        "next": todo,
    }

"""`tether daemon` (and `tether daemon health`), `tether pause`, `tether resume`."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from tether.cli import output


@click.group(invoke_without_command=True)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=lambda: os.environ.get("TETHER_LOG_FORMAT", "text"),
    show_default="text, or $TETHER_LOG_FORMAT",
    help="Logs on stderr: key=value text, or one JSON object per line.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="debug also logs every API request.",
)
@click.pass_context
def daemon(ctx: click.Context, log_format: str, log_level: str) -> None:
    """Run the scheduler and the API in the foreground (for systemd or docker).

    \b
    The daemon holds the state file for its lifetime; while it runs, every tether command
    goes through its socket ([daemon] socket in tether.toml). SIGTERM or Ctrl-C stops it:
    running syncs commit their page in flight and end `cancelled`. SIGHUP re-reads [access].

    \b
    tether daemon health     is it up, is the scheduler on time, what is running
    """
    if ctx.invoked_subcommand is not None:
        return
    # Imported here, not at the top: only this command *is* the daemon (and loads the engine).
    from tether.daemon.service import run_daemon

    sys.exit(run_daemon(output.workspace(ctx), log_format=log_format, log_level=log_level))


@daemon.command()
@output.json_option
@click.pass_context
def health(ctx: click.Context, as_json: bool) -> None:
    """Health of the running daemon; exits 1 when it is not ok (docker HEALTHCHECK)."""
    doc = output.backend(ctx).call("health")
    if as_json:
        output.echo_json(doc)
    else:
        _print_health(doc)
    if not doc.get("ok"):
        sys.exit(1)


def _print_health(doc: dict[str, Any]) -> None:
    out = output.console()
    if not doc.get("daemon"):
        out.print(f"[red]not running[/red]  {doc.get('message', '')}")
        out.print(f"state {doc['state_file']} (serial {doc['serial']})")
        return
    state = "[green]ok[/green]" if doc["ok"] else "[red]NOT OK[/red]"
    out.print(
        f"{state}  pid {doc['pid']}, up {doc['uptime_s']:.0f}s, serial {doc['serial']}, "
        f"{doc['scheduled']} scheduled, max {doc['max_concurrent_syncs']} concurrent"
    )
    out.print(
        f"scheduler lag {doc['scheduler_lag_s']:.1f}s (last launch {doc['last_launch_lag_s']:.2f}s"
        f" late); {doc['launched']} runs launched, {doc['coalesced']} ticks coalesced; "
        f"next tick {doc['next_fire'] or '—'}"
    )
    for run in doc["running"]:
        out.print(
            f"  running  {run['integration']}  {run['trigger']}  run {run.get('run_id') or '—'}"
            f"  for {run['running_s']:.1f}s"
        )
    if doc["waiting_count"]:
        out.print(f"  waiting  {doc['waiting_count']} runs due but not started")
    for retry in (doc.get("retries") or {}).get("pending", []):
        out.print(
            f"  retry    {retry['integration']}  attempt {retry.get('attempt')} after run "
            f"{retry.get('retry_of')}, due {retry['due_at']}"
        )
    if doc.get("metrics"):
        out.print(f"metrics at {doc['metrics']}")
    if doc.get("preloaded"):
        out.print(f"connector modules preloaded: {', '.join(doc['preloaded'])}")
    catch_up = doc["catch_up"]
    if catch_up["integrations"]:
        out.print(
            f"missed while down (catch_up = {catch_up['mode']}): {catch_up['missed_ticks']} ticks"
            f" of {catch_up['integrations']} integrations"
        )
        for item in catch_up["missed"]:
            out.print(f"  {item['integration']}: {item['action']}")
    alerts = doc.get("alerts")
    if alerts is not None:
        routes = ", ".join(alerts["routes"]) or "none (no alerts.yaml applied)"
        out.print(
            f"alerts: routes {routes}; {alerts['delivered']} delivered, {alerts['pending']} "
            f"pending, {alerts['retried']} retried, {alerts['failed']} failed; "
            f"{alerts['integrations_flagged']} integrations need attention"
        )
        if alerts.get("last_error"):
            out.print(f"  [red]last delivery failure[/red] {alerts['last_error_at']}: "
                      f"{alerts['last_error']}")  # fmt: skip


def _paused_text(row: dict[str, Any]) -> str:
    reason = f" ({row['paused_reason']})" if row.get("paused_reason") else ""
    return f"Paused {row['id']}{reason}: scheduled syncs stop until `tether resume {row['id']}`."


@click.command()
@click.argument("integration")
@click.option("--reason", help="Why, for the audit log, `tether status` and `tether plan`.")
@output.json_option
@click.pass_context
def pause(ctx: click.Context, integration: str, reason: str | None, as_json: bool) -> None:
    """Pause an integration's schedule (operator). Manual syncs still work."""
    row = output.backend(ctx).call("pause", integration=integration, reason=reason)
    if as_json:
        output.echo_json(row)
    else:
        click.echo(_paused_text(row))


@click.command()
@click.argument("integration")
@output.json_option
@click.pass_context
def resume(ctx: click.Context, integration: str, as_json: bool) -> None:
    """Resume a paused integration from its next tick (operator)."""
    row = output.backend(ctx).call("resume", integration=integration)
    if as_json:
        output.echo_json(row)
        return
    when = row.get("next_sync")
    click.echo(
        f"Resumed {row['id']}: next scheduled sync {when}."
        if when
        else f"Resumed {row['id']}; it is disabled, so nothing is scheduled."
    )

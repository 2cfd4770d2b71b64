"""`tether status`, `tether sql`, `tether unlock`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

from tether.cli import output


def relative(iso: str | None, now: datetime | None = None) -> str:
    if not iso:
        return "—"
    when = datetime.fromisoformat(iso)
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)}{unit}"
            break
    else:
        text = f"{int(seconds)}s"
    return f"in {text}" if future else f"{text} ago"


STATUS_STYLE = {"success": "green", "partial": "yellow", "failed": "red", "running": "cyan",
                "cancelled": "magenta", "interrupted": "magenta"}  # fmt: skip


def _state_label(row: dict[str, Any]) -> str:
    if not row["enabled"]:
        return "disabled"
    if row["paused"]:
        return "paused"
    return "enabled"


@click.command()
@output.json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the applied integrations: state, schedule, last and next sync.

    An integration whose last sync is older than its schedule implies is flagged OVERDUE
    ("Data not syncing": check it is enabled, its schedule, and its last execution).
    The Health column and the list under the table are the daemon's health flags (a failed
    last sync, rejected credentials, repeated rate limiting, unusually low volume, unmapped
    SKUs, a verify mismatch, …): the same ones the monitor shows and alerts are sent for.
    """
    result = output.backend(ctx).call("status")
    if as_json:
        output.echo_json(result)
        return
    print_status(result)


def print_status(result: dict[str, Any]) -> None:
    from rich.table import Table

    out = output.console()
    if not result["integrations"]:
        out.print("No integrations applied yet. Run `tether plan` and `tether apply`.")
        return
    table = Table(title=f"Integrations (state serial {result['serial']})", title_justify="left")
    for col in ("Integration", "Service", "State", "Dry run", "Capabilities", "Schedule",
                "Last sync", "Next sync", "Health"):  # fmt: skip
        table.add_column(col)
    for row in result["integrations"]:
        last = row["last_sync"]
        last_text = "never"
        if last:
            style = STATUS_STYLE.get(last["status"], "")
            last_text = f"{relative(last['started_at'])} [{style}]{last['status']}[/{style}]"
        if row["overdue"]:
            last_text += " [bold red]OVERDUE[/bold red]"
        state = _state_label(row)
        if row["paused"] and row["paused_reason"]:
            state += f" ({row['paused_reason']})"
        table.add_row(
            f"{row['id']}\n[dim]{row['name']}[/dim]",
            row["service"],
            state,
            "yes" if row["dry_run"] else "no",
            ", ".join(row["capabilities"]),
            f"{row['cron']}\n[dim]{row['timezone']}[/dim]",
            last_text,
            (row["next_sync"] and f"{row['next_sync']}\n[dim]{relative(row['next_sync'])}[/dim]")
            or "—",
            _health_cell(row.get("health") or {}),
        )
    out.print(table)
    attention = [
        (row["id"], flag) for row in result["integrations"]
        for flag in (row.get("health") or {}).get("flags") or []
    ]  # fmt: skip
    if attention:
        from rich.markup import escape

        out.print(f"Needs attention ({len(attention)}):")
        for ident, flag in attention:
            style = "red" if flag.get("severity") == "error" else "yellow"
            out.print(f"  [{style}]⚠[/{style}] {ident}: {escape(str(flag['message']))}")


def _health_cell(health: dict[str, Any]) -> str:
    from rich.markup import escape

    if not health.get("flags"):
        return "[green]ok[/green]"
    return f"[red]⚠ {escape(str(health.get('summary')))}[/red]"


@click.command()
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option("--limit", type=int, default=None, help="Return at most N rows.")
@click.pass_context
def sql(ctx: click.Context, query: str, fmt: str, limit: int | None) -> None:
    """Run read-only SQL over the state.

    Control tables (integrations, mappings, runs, executions, sync_items, sync_item_errors,
    sync_state, audit_log, meta) and views (v_executions, v_failed_items, v_unmapped_skus,
    v_sync_health) are in the default schema; synced data in schema `data`.
    Statements are checked with DuckDB's own parser: only SELECT/EXPLAIN run.

    \b
    Examples:
      tether sql "select * from v_unmapped_skus order by items desc"
      tether sql "select count(*) from data.sales_orders" --format csv
    """
    result = output.backend(ctx).call("sql", query=query, limit=limit)
    if fmt == "json":
        output.echo_json([dict(zip(result["columns"], row, strict=True)) for row in result["rows"]])
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(result["columns"])
        writer.writerows(result["rows"])
    else:
        from rich.table import Table

        table = Table(show_lines=False)
        for column in result["columns"]:
            table.add_column(column)
        for row in result["rows"]:
            table.add_row(*("NULL" if v is None else str(v) for v in row))
        out = output.console()
        out.print(table)
        out.print(f"[dim]{len(result['rows'])} rows[/dim]")


@click.command()
@click.pass_context
def unlock(ctx: click.Context) -> None:
    """Clear a state lock whose holder is dead (admin).

    A lock held by a running process is never cleared: stop that process first.
    """
    from tether.daemon.client import LocalBackend

    result = LocalBackend(output.workspace(ctx)).call("unlock")
    click.echo(result["message"])

"""``tether sync / executions / items / errors / retry / reset``: run syncs and triage them.

Every command calls an operation through the backend (the daemon when it runs, else in-process)
and renders its JSON answer; ``--json`` prints that answer as is.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from tether.cli import output

if TYPE_CHECKING:
    from rich.table import Table

STATUS_STYLES = {
    "success": "green",
    "partial": "yellow",
    "partial_mapped": "yellow",
    "mapped": "cyan",
    "failed": "red",
    "interrupted": "red",
    "cancelled": "magenta",
    "running": "blue",
    "processing": "blue",
    "skipped": "dim",
}


def _styled(status: str | None) -> str:
    if not status:
        return ""
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/]" if style else status


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def _when(iso: str | None) -> str:
    return iso.replace("T", " ")[:19] if iso else "–"


def _table(*columns: str) -> Table:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(
            column,
            justify="right" if column in _NUMERIC else "left",
            no_wrap=column not in ("Error", "Message"),
        )
    return table


_NUMERIC = {
    "ID",
    "Run",
    "Records",
    "Success",
    "Failed",
    "Partial",
    "Mapped",
    "Skipped",
    "Items",
    "Count",
    "Executions",
    "Waited",
    "Duration",
    "Open",
}


def _trigger(e: dict[str, Any]) -> str:
    """ "retry_after_failure #2" for the second attempt of a run that failed transiently."""
    attempt = f" #{e['attempt']}" if e.get("attempt") else ""
    return f"{e['trigger']}{attempt}{' (full)' if e['full_resync'] else ''}"


def _executions_table(executions: list[dict[str, Any]], *, compact: bool = False) -> Table:
    """Executions as a table; ``compact`` (after a sync or retry) leaves out what the title says."""
    columns: list[tuple[str, Any]] = [
        ("ID", lambda e: str(e["id"])),
        ("Integration", lambda e: e["integration_id"]),
        ("Domain type", lambda e: e["domain_type"]),
        ("Trigger", _trigger),
        ("Status", lambda e: _styled(e["status"])),
        ("Dry run", lambda e: "[cyan]DRY RUN[/]" if e["dry_run"] else ""),
        ("Started", lambda e: _when(e["started_at"])),
        ("Duration", lambda e: _duration(e["duration_s"])),
        ("Records", lambda e: str(e["records_fetched"])),
        ("Success", lambda e: str(e["success"])),
        ("Failed", lambda e: str(e["failed"])),
        ("Partial", lambda e: str(e["partial_mapped"])),
        ("Mapped", lambda e: str(e["mapped"])),
        ("Skipped", lambda e: str(e["skipped"])),
        ("Error", lambda e: e["error_code"] or ("error" if e["error"] else "")),
    ]
    if compact:
        hidden = {"Integration", "Trigger", "Dry run", "Started", "Skipped"}
        columns = [c for c in columns if c[0] not in hidden]
    table = _table(*(name for name, _ in columns))
    for e in executions:
        table.add_row(*(render(e) for _, render in columns))
    return table


def _print_execution_errors(executions: list[dict[str, Any]]) -> None:
    """Full error messages under the table (they are too long for a column)."""
    from rich.markup import escape

    out = output.console()
    for e in executions:
        if e.get("error"):
            code = f"{e['error_code']}: " if e.get("error_code") else ""
            out.print(
                f"[red]Execution {e['id']} ({e['domain_type']}) {e['status']}:[/] "
                + escape(code + e["error"])
            )


# ------------------------------------------------------------------------------------------ sync


class _SyncProgress:
    """Live view of a running sync on a terminal: one line per execution."""

    def __init__(self) -> None:
        from rich.live import Live

        self.rows: dict[str, dict[str, Any]] = {}
        self.live = Live(self._render(), console=output.console(stderr=True), transient=True)

    def __enter__(self) -> _SyncProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def __call__(self, event: dict[str, Any]) -> None:
        domain = event.get("domain_type")
        if domain is None:
            return
        row = self.rows.setdefault(domain, {})
        row.update(event)
        self.live.update(self._render())

    def _render(self) -> Table:
        table = _table(
            "Domain type",
            "Status",
            "Records",
            "Success",
            "Failed",
            "Partial",
            "Mapped",
            "Waited",
            "Re-mapped",
        )
        for domain, row in self.rows.items():
            status = row.get("status") or "running"
            table.add_row(
                domain,
                _styled(status),
                str(row.get("records_fetched", 0)),
                str(row.get("success", 0)),
                str(row.get("failed", 0)),
                str(row.get("partial_mapped", 0)),
                str(row.get("mapped", 0)),
                f"{row.get('rate_limit_wait_s', 0.0):.1f}s",
                str(row.get("items", "")) if row.get("event") == "remapped" else "",
            )
        return table


@click.command()
@click.argument("integration")
@click.option(
    "--capability",
    "-c",
    "capabilities",
    multiple=True,
    help="Sync only this capability (repeatable). Default: all of the integration's.",
)
@click.option(
    "--dry-run/--no-dry-run",
    "dry_run",
    default=None,
    help="Fetch and map, record items, save no data and no cursor "
    "(default: the integration's dry_run setting).",
)
@click.option("--full", is_flag=True, help="Ignore the saved cursors: a full re-sync.")
@click.option(
    "--since",
    metavar="DATE",
    help="Backfill: re-fetch only records from DATE (2026-03-01, an ISO time, or 7d / 12h ago); "
    "the cursor does not move.",
)
@click.option(
    "--until", metavar="DATE", help="Backfill: end of the window (exclusive; default now)."
)
@output.json_option
@click.pass_context
def sync(
    ctx: click.Context,
    integration: str,
    capabilities: tuple[str, ...],
    dry_run: bool | None,
    full: bool,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Run a sync of INTEGRATION now.

    A manual sync first re-maps the stored failed items against today's mappings, then fetches
    new data from where the last sync stopped. Exits 1 if any execution failed.

    With --since it is a backfill (trigger "backfill" in `tether executions`): only the window
    [since, until) is re-fetched — by updated_at (Shopify, TrackStar), by order date (Brewman,
    warehouse orders) or by the capability's date (sales history, pricing, forecasts) — every
    record in it is rewritten, and the saved cursor stays where it was, so the next scheduled
    sync continues as before. Use it after an outage, or for late edits a source filtered by
    order date never re-sends; check with `tether verify INTEGRATION --since DATE`.

    \b
    Examples:
      tether sync brewery --since 2026-03-01 --until 2026-03-08 --dry-run
      tether sync shopify_us -c sales_orders --since 3d
    """
    backend = output.backend(ctx)
    params: dict[str, Any] = {
        "integration": integration,
        "capabilities": list(capabilities) or None,
        "dry_run": dry_run,
        "full": full,
    }
    if since is not None or until is not None:
        params.update(since=since, until=until)
    if not as_json and sys.stderr.isatty():
        with _SyncProgress() as progress:
            result = backend.call("sync", progress=progress, **params)
    else:
        result = backend.call("sync", **params)
    executions = result.get("executions", [])
    if as_json:
        output.echo_json(result)
    else:
        _print_sync(integration, result)
    if any(e["status"] == "failed" for e in executions):
        sys.exit(1)


def _print_sync(integration: str, result: dict[str, Any]) -> None:
    out = output.console()
    executions = result.get("executions", [])
    if result.get("queued"):
        out.print(f"A run of {integration} is in progress; this sync is queued after it.")
        return
    remapped = result.get("remapped") or {}
    if remapped.get("items"):
        out.print(
            f"Re-mapped {remapped['items']} stored failed item(s) against today's mappings: "
            f"{remapped.get('loaded', 0)} now loaded."
        )
    dry = any(e["dry_run"] for e in executions)
    trigger = executions[0]["trigger"] if executions else "manual"
    full = " (full)" if any(e["full_resync"] for e in executions) else ""
    window = result.get("window")
    if window:
        full = f" of {window['since']} → {window.get('until') or 'now'} (cursor unchanged)"
    title = f"Run {result.get('run_id')} of {integration}: {trigger}{full}" + (
        " [cyan](DRY RUN: nothing saved)[/]" if dry else ""
    )
    out.print(title)
    out.print(_executions_table(executions, compact=True))
    _print_execution_errors(executions)
    for e in executions:
        if e["failed"] or e["partial_mapped"]:
            status = "failed" if e["failed"] else "partial_mapped"
            out.print(
                f"[yellow]{e['domain_type']}: {e['failed']} failed, {e['partial_mapped']} "
                f"partially mapped[/] — see `tether errors {e['id']}` and "
                f"`tether items {e['id']} --status {status}`."
            )
    if result.get("cancelled"):
        out.print("[magenta]Cancelled: committed pages are kept; the next run resumes.[/]")


# ----------------------------------------------------------------------------------- executions


@click.command()
@click.argument("integration", required=False)
@click.option("--status", "-s", help="Only executions with this status.")
@click.option("--limit", "-n", default=20, show_default=True, help="How many (newest first).")
@click.option("--before", "before_id", type=int, help="Page: executions older than this id.")
@output.json_option
@click.pass_context
def executions(
    ctx: click.Context,
    integration: str | None,
    status: str | None,
    limit: int,
    before_id: int | None,
    as_json: bool,
) -> None:
    """List sync executions (of INTEGRATION, or of all), newest first."""
    result = output.backend(ctx).call(
        "executions", integration=integration, status=status, limit=limit, before_id=before_id
    )
    if as_json:
        output.echo_json(result)
        return
    out = output.console()
    if not result["executions"]:
        out.print("No executions yet." if not status else f"No {status} executions.")
        return
    out.print(_executions_table(result["executions"]))
    _print_execution_errors(result["executions"])
    if result.get("next_before_id"):
        out.print(f"[dim]More: --before {result['next_before_id']}[/]")


# ---------------------------------------------------------------------------------------- items


@click.command()
@click.argument("execution_id", metavar="EXECUTION", type=int)
@click.option("--status", "-s", help="success | failed | skipped | mapped | partial_mapped.")
@click.option("--search", "-q", help="Text in the external id or error message.")
@click.option("--domain-type", "-d", help="Only items of this domain type.")
@click.option("--after", "after_id", type=int, help="Page: items after this item id.")
@click.option("--limit", "-n", default=50, show_default=True)
@click.option("--item", "item_id", type=int, help="Show one item: its errors and payload.")
@output.json_option
@click.pass_context
def items(
    ctx: click.Context,
    execution_id: int,
    status: str | None,
    search: str | None,
    domain_type: str | None,
    after_id: int | None,
    limit: int,
    item_id: int | None,
    as_json: bool,
) -> None:
    """List the sync items of EXECUTION, or show one with --item ID."""
    backend = output.backend(ctx)
    if item_id is not None:
        detail = backend.call("item", execution_id=execution_id, item_id=item_id)
        if as_json:
            output.echo_json(detail)
        else:
            _print_item(detail)
        return
    result = backend.call(
        "items",
        execution_id=execution_id,
        status=status,
        search=search,
        domain_type=domain_type,
        after_id=after_id,
        limit=limit,
    )
    if as_json:
        output.echo_json(result)
        return
    from rich.markup import escape

    out = output.console()
    table = _table("ID", "Status", "Domain type", "External ID", "Records", "Fetched", "Error")
    for item in result["items"]:
        error = item["error_message"] or ""
        table.add_row(
            str(item["id"]),
            _styled(item["status"]),
            item["domain_type"],
            escape(item["external_id"]),
            str(item["records"]),
            _when(item["fetched_at"]),
            escape(f"{item['error_code']}: {error}" if item["error_code"] else error),
        )
    out.print(table)
    shown = len(result["items"])
    more = f"; next page: --after {result['next_after_id']}" if result["next_after_id"] else ""
    total = f"{result['total']:,}" + ("+" if result.get("total_capped") else "")
    out.print(f"[dim]{shown} of {total} matching item(s){more}[/]")


def _print_item(detail: dict[str, Any]) -> None:
    from rich.markup import escape

    out = output.console()
    item = detail["item"]
    out.print(
        f"Item {item['id']} of execution {item['execution_id']}: {escape(item['external_id'])} "
        f"({item['domain_type']}) {_styled(item['status'])}"
        + (f", {item['records']} records" if item["aggregate"] else "")
    )
    if item.get("resolved_by"):
        out.print(f"[dim]Taken over by execution {item['resolved_by']}.[/]")
    if item["error_message"]:
        out.print(escape(f"{item['error_code']}: {item['error_message']}"))
    if detail["errors"]:
        table = _table("External ID", "Code", "Message", "SKU", "Channel", "Warehouse")
        for e in detail["errors"]:
            table.add_row(
                *(
                    escape(str(e[k] or ""))
                    for k in ("external_id", "code", "message", "sku", "channel", "warehouse")
                )
            )
        out.print(table)
    if detail["payload"] is not None:
        import orjson

        out.print("Payload (kept for re-mapping):")
        out.print(escape(orjson.dumps(detail["payload"], option=orjson.OPT_INDENT_2).decode()))


# --------------------------------------------------------------------------------------- errors


@click.command()
@click.argument("target", metavar="EXECUTION|INTEGRATION")
@output.json_option
@click.pass_context
def errors(ctx: click.Context, target: str, as_json: bool) -> None:
    """Error analysis: unmapped SKUs/channels/warehouses, top errors, and the ledger.

    A number is an execution id; anything else is an integration id (then only items still
    failing count).
    """
    params: dict[str, Any] = (
        {"execution_id": int(target)} if target.isdigit() else {"integration": target}
    )
    result = output.backend(ctx).call("errors", **params)
    if as_json:
        output.echo_json(result)
        return
    _print_errors(target, result)


def _print_errors(target: str, result: dict[str, Any]) -> None:
    from rich.markup import escape

    out = output.console()
    scope = f"execution {target}" if "execution_id" in result["scope"] else f"integration {target}"
    sections = (
        ("Unmapped SKUs", "unmapped_skus", "sku", "skus.csv"),
        ("Unmapped channels", "unmapped_channels", "channel", "channels.csv"),
        ("Unmapped warehouses", "unmapped_warehouses", "warehouse", "warehouses.csv"),
    )
    empty = True
    for title, key, column, csv in sections:
        rows = result[key]
        if not rows:
            continue
        empty = False
        out.print(f"[bold]{title}[/] ({len(rows)}) — add them to mappings/{csv}")
        table = _table(column.capitalize(), "Items", "Executions")
        for r in rows:
            table.add_row(escape(str(r[column])), str(r["items"]), str(r["executions"]))
        out.print(table)
    if result["top_errors"]:
        empty = False
        out.print("[bold]Top errors[/]")
        table = _table("Count", "Code", "Message")
        for r in result["top_errors"]:
            table.add_row(str(r["count"]), r["code"], escape(r["message"]))
        out.print(table)
    if result.get("ledger"):
        out.print("[bold]Ledger across runs[/]")
        table = _table(
            "State", "Code", "Key", "Domain type", "First seen", "Last seen", "Items", "Open"
        )
        styles = {"new": "red", "persisting": "yellow", "resolved": "green"}
        for r in result["ledger"]:
            table.add_row(
                f"[{styles[r['state']]}]{r['state']}[/]",
                r["code"],
                escape(str(r["key"])),
                r.get("domain_type", ""),
                str(r["first_seen_execution"]),
                str(r["last_seen_execution"]),
                str(r["items"]),
                str(r.get("open_items", "")),
            )
        out.print(table)
    if empty:
        out.print(f"No item errors in {scope}.")
    elif result["unmapped_skus"] or result["unmapped_channels"] or result["unmapped_warehouses"]:
        out.print(
            "[dim]Fix: edit mappings/*.csv → `tether plan` → `tether apply` → "
            "`tether retry <integration>`.[/]"
        )


# ---------------------------------------------------------------------------------- retry/reset


@click.command()
@click.argument("integration")
@output.json_option
@click.pass_context
def retry(ctx: click.Context, integration: str, as_json: bool) -> None:
    """Re-map INTEGRATION's stored failed items against today's mappings (no refetch)."""
    result = output.backend(ctx).call("retry", integration=integration)
    if as_json:
        output.echo_json(result)
        return
    out = output.console()
    if not result["items_retried"]:
        out.print(f"Nothing to retry: {integration} has no open failed items.")
        return
    out.print(
        f"Retried {result['items_retried']} item(s) of {integration}: "
        f"{result['items_loaded']} now loaded, {result['still_failed']} still failing."
    )
    out.print(_executions_table(result["executions"], compact=True))
    if result["still_failed"]:
        out.print(f"[dim]See what is left: `tether errors {integration}`.[/]")


@click.command()
@click.argument("integration")
@click.option("--yes", "-y", is_flag=True, help="Do not ask to type the id (scripts).")
@output.json_option
@click.pass_context
def reset(ctx: click.Context, integration: str, yes: bool, as_json: bool) -> None:
    """Delete INTEGRATION's execution history and cursors (admin).

    Data already synced stays; the next sync is a full re-sync that upserts it (no duplicates).
    The audit log keeps a record of the reset.
    """
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(
                "reset deletes execution history; refusing on a non-interactive terminal "
                "without --yes."
            )
        click.echo(
            f"This deletes every execution, item and cursor of '{integration}'. "
            "The next sync will be a full re-sync.",
            err=True,
        )
        typed = click.prompt(
            "Type the integration id to confirm", err=True, default="", show_default=False
        )
        if typed.strip() != integration:
            raise click.ClickException("Confirmation did not match; nothing was reset.")
    result = output.backend(ctx).call("reset", integration=integration, confirm=integration)
    if as_json:
        output.echo_json(result)
        return
    output.console().print(
        f"Reset {integration}: deleted {result['executions_deleted']} execution(s), "
        f"{result['items_deleted']} item(s), {result['cursors_deleted']} cursor(s). "
        "The next sync is a full re-sync."
    )

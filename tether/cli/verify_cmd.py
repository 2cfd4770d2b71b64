"""``tether verify``: does the state hold what the source holds, per capability?"""

from __future__ import annotations

import sys
from typing import Any

import click

from tether.cli import output

EXIT_MISMATCH = 1
"""Counts differ (like ``diff``)."""
EXIT_ERROR = 2
"""Counts agree where they could be taken, but the source could not count something."""

STATUS_STYLES = {
    "match": "green",
    "missing": "red",
    "extra": "yellow",
    "not_countable": "dim",
    "error": "red",
}


@click.command()
@click.argument("integration")
@click.option(
    "--since",
    metavar="DATE",
    help="Start of the window: 2026-03-01, 2026-03-01T06:00:00Z (UTC unless zoned), 7d / 12h "
    "ago, or 'all' (what a full sync reads vs the whole state). Default: 30 days ago.",
)
@click.option("--until", metavar="DATE", help="End of the window (exclusive). Default: now.")
@click.option(
    "--capability",
    "-c",
    "capabilities",
    multiple=True,
    help="Verify only this capability (repeatable). Default: all of the integration's.",
)
@output.json_option
@click.pass_context
def verify(
    ctx: click.Context,
    integration: str,
    since: str | None,
    until: str | None,
    capabilities: tuple[str, ...],
    as_json: bool,
) -> None:
    """Count records at the source and in the state over a window, per capability.

    \b
    Equal means: source count = records loaded in data.* + records fetched but
    not loaded (failed items), both over the same window on the same field
    (Shopify/TrackStar: updated_at; Brewman and warehouse orders: ordered_at;
    sales history: date). Snapshots (inventory, products, channels) count whole.

    \b
    Exit status: 0 every count matches, 1 some differ (the output says what
    to do, usually `tether sync INTEGRATION --since DATE`, a backfill),
    2 the source could not count a capability.
    The result is saved in the state (verify_runs) and shown in the monitor.

    \b
    Examples:
      tether verify shopify_us                     last 30 days
      tether verify brewery --since 2026-03-01 --until 2026-03-08
      tether verify shopify_us --since 7d --json
    """
    params: dict[str, Any] = {
        "integration": integration,
        "since": since,
        "until": until,
        "capabilities": list(capabilities) or None,
    }
    result = output.backend(ctx).call("verify", **params)
    if as_json:
        output.echo_json(result)
    else:
        print_verify(result)
    outcome = result.get("outcome")
    if outcome == "mismatch":
        sys.exit(EXIT_MISMATCH)
    if outcome == "error":
        sys.exit(EXIT_ERROR)


def print_verify(result: dict[str, Any]) -> None:
    """The per-capability table, then what differs and what to do, then the verdict."""
    from rich.markup import escape
    from rich.table import Table

    out = output.console()
    window = result.get("window") or {}
    span = f"{window.get('since')} → {window.get('until') or 'now'}" if window else "all history"
    out.print(f"Verify {result['integration']} over {span}")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("Capability", "Window field", "Source", "State", "Loaded", "Failed", "Diff"):
        table.add_column(column, justify="left" if column[0] in "CW" else "right")
    table.add_column("Status")
    checks = result.get("capabilities") or []
    for c in checks:
        style = STATUS_STYLES.get(c["status"], "")
        table.add_row(
            c["capability"],
            c.get("window_field") or "(whole)",
            _number(c.get("source")),
            _number(c.get("state")),
            _number(c.get("loaded")),
            _number(c.get("failed")),
            _signed(c.get("difference")),
            f"[{style}]{c['status']}[/]" if style else c["status"],
        )
    out.print(table)
    for c in checks:
        if c.get("note"):
            out.print(f"[dim]{c['capability']}: {escape(c['note'])}[/]")
        if c["status"] == "match" and not c.get("hint"):
            continue
        style = STATUS_STYLES.get(c["status"], "")
        out.print(f"[{style}]{c['capability']}:[/] {escape(c.get('message') or '')}")
        if c.get("hint"):
            out.print(f"  hint: {escape(c['hint'])}")
    verdict = {
        "match": "[green]Complete: every count matches.[/]",
        "mismatch": "[red]Incomplete: counts differ (see above).[/]",
        "error": "[red]Not verified: the source could not count everything (see above).[/]",
    }
    out.print(verdict.get(str(result.get("outcome")), ""))
    if result.get("recorded") is False:
        out.print("[dim]Not recorded in the state: you cannot write its directory.[/]")


def _number(value: Any) -> str:
    return "–" if value is None else str(value)


def _signed(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:+d}" if value else "0"

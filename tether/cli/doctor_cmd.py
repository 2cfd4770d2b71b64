"""`tether doctor [INTEGRATION] [--json] [--bundle FILE]`: diagnose, say what to do next."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from tether.cli import output

MARKS = {"ok": "[green]✔[/]", "warn": "[yellow]![/]", "fail": "[red]✘[/]", "skip": "[dim]–[/]"}


@click.command()
@click.argument("integration", required=False)
@output.json_option
@click.option(
    "--bundle",
    "bundle_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write a support bundle (JSON, no secrets) to FILE.",
)
@click.option(
    "--live/--no-live",
    default=True,
    show_default=True,
    help="Make the connection check (one cheap authenticated call per integration).",
)
@click.pass_context
def doctor(
    ctx: click.Context,
    integration: str | None,
    as_json: bool,
    bundle_path: Path | None,
    live: bool,
) -> None:
    """Diagnose integrations the way the troubleshooting guide does, in one command.

    For each integration (or only INTEGRATION): 1. status (enabled, paused, last and next
    sync), 2. recent executions, 3. the newest failed execution, 4. error analysis (unmapped
    SKUs, channels, warehouses), 5. a live connection check (Shopify access scopes, a BigQuery
    dry run, a Redshift LIMIT 0 query, a TrackStar/Brewman read of one record). Each step gets
    a verdict (✔ ok, ! warning, ✘ problem) and what to do next.

    Exit code: 0 when nothing needs fixing (warnings allowed), 1 when a problem was found.
    --bundle FILE writes what support asks for (integration and service, execution ids, error
    messages, when it started, what was tried) without credentials or synced data.

    \b
    Examples:
      tether doctor
      tether doctor shopify_us --bundle support.json
      tether doctor --json | jq '.integrations[] | select(.verdict == "fail") | .id'
    """
    doc = output.backend(ctx).call(
        "doctor", integration=integration, live=live, bundle=bundle_path is not None
    )
    if bundle_path is not None:
        _write_bundle(bundle_path, doc)
    if as_json:
        output.echo_json(doc)
    else:
        _print(doc)
        if bundle_path is not None:
            click.echo(
                f"Support bundle written to {bundle_path} (no secrets; review before sending)."
            )
    if not doc["ok"]:
        raise SystemExit(1)  # click's ctx.exit is swallowed outside standalone mode


def _write_bundle(path: Path, doc: dict[str, Any]) -> None:
    import orjson

    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    # Created 0600: a bundle names systems and errors even though it holds no secrets.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data + b"\n")


def _print(doc: dict[str, Any]) -> None:
    out = output.console()
    out.soft_wrap = True  # a command to copy must never be broken over two lines
    for step in doc["workspace"]:
        _line(out, step, "")
    for report in doc["integrations"]:
        out.print()
        mark = MARKS[report["verdict"]]
        health = report.get("health") or {}
        flags = "" if health.get("ok", True) else f"  [dim]health: {health.get('summary')}[/]"
        out.print(f"{mark} [bold]{report['id']}[/]  {report['name']} ({report['service']}){flags}")
        for step in report["steps"]:
            _line(out, step, f"{step['number']}. ")
        for todo in report["next"]:
            out.print(f"    [bold]→[/] {todo}", markup=True, highlight=False)
    out.print()
    failing = [r["id"] for r in doc["integrations"] if r["verdict"] == "fail"]
    if doc["ok"]:
        out.print(f"[green]Doctor: no problems[/] in {len(doc['integrations'])} integrations.")
    else:
        where = f" in {', '.join(failing)}" if failing else ""
        out.print(f"[red]Doctor: {doc['problems']} problem(s){where}.[/] Fix them in the order "
                  "shown, then run `tether doctor` again.")  # fmt: skip


def _line(out: Any, step: dict[str, Any], prefix: str) -> None:
    from rich.markup import escape

    title = f"{prefix}{step['title']}"
    out.print(f"  {MARKS[step['verdict']]} {title:<22} {escape(step['summary'])}")
    if step["verdict"] in ("warn", "fail"):
        for detail in step["details"]:
            out.print(f"      {escape(detail)}")
        if step["next"] and prefix == "":
            out.print(f"      [bold]→[/] {escape(step['next'])}")

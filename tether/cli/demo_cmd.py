"""`tether demo`: the main job end to end on the bundled demo workspace, offline.

Starts the sandbox servers on loopback, validates, plans and applies the repository-root
workspace, syncs every enabled integration, then shows the status table and the error analysis
the demo data deliberately produces (unmapped SKUs, an unknown channel, a missing warehouse,
refunded orders filtered out) — the starting point for `tether monitor`.
"""

from __future__ import annotations

import socket
from typing import Any

import click

from tether.cli import output


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _start_sandboxes() -> list[Any]:
    from tether.cli.sandbox_cmds import start_sandboxes
    from tether.sandbox import DEMO_PORTS

    servers: list[Any] = []
    for service, port in DEMO_PORTS.items():
        if _listening(port):
            click.echo(f"  {service:10} using the server already on 127.0.0.1:{port}")
            continue
        (server,) = start_sandboxes([service], [], None)
        servers.append(server)
        click.echo(f"  {service:10} {server.url}")
    return servers


def _step(title: str) -> None:
    output.console().rule(f"[bold]{title}")


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Run the bundled demo end to end against the local sandbox servers."""
    from tether.cli.plan_cmds import _print_plan
    from tether.cli.state_cmds import print_status
    from tether.cli.sync_cmds import _print_errors, _print_sync

    workspace = output.workspace(ctx)
    backend = output.backend(ctx)
    out = output.console()
    from tether.sandbox import SANDBOXES

    _step(f"1. Sandbox servers ({', '.join(SANDBOXES)}) on loopback")
    servers = _start_sandboxes()
    try:
        _step("2. tether validate")
        checked = backend.call("validate")
        click.echo(f"Success! {checked['integrations']} integrations are valid.")
        _step("3. tether plan")
        doc = backend.call("plan")
        _print_plan(doc, "text")
        _step("4. tether apply")
        if doc["has_changes"]:
            result = backend.call("apply", plan=doc)
            click.echo(f"Apply complete! State serial {result['serial']}.")
        else:
            click.echo("Nothing to apply.")
        status = backend.call("status")
        enabled = [r for r in status["integrations"] if r["enabled"] and not r["paused"]]
        _step(f"5. tether sync — each of the {len(enabled)} enabled integrations")
        for row in enabled:
            click.echo(f"\n$ tether sync {row['id']}")
            _print_sync(row["id"], backend.call("sync", integration=row["id"]))
        _step("6. tether status")
        print_status(backend.call("status"))
        _step("7. tether errors — what needs triage")
        for row in enabled:
            analysis = backend.call("errors", integration=row["id"])
            if analysis["top_errors"]:
                output.console().print(f"\n[bold]$ tether errors {row['id']}[/bold]")
                _print_errors(row["id"], {**analysis, "ledger": []})  # first run: all "new"
    finally:
        for server in servers:
            server.stop()
    out.print(
        f"""
[bold]Next:[/bold] triage in the terminal UI:   [cyan]tether monitor[/cyan]   (workspace {workspace.root})
Fix the mapping loop: add the unmapped SKUs above to mappings/skus.csv, then
  tether plan      # shows how many failed items the new rows will map
  tether apply
  tether retry shopify_us
Query the state:      tether sql "select * from v_unmapped_skus order by items desc"
Sandboxes stay up with: tether sandbox serve
""",
        markup=True,
        highlight=False,
    )

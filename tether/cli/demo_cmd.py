"""`tether demo`: the main job end to end on the bundled demo workspace, offline.

Starts the sandbox servers on loopback, validates, plans and applies the repository-root
workspace, syncs every enabled integration, then shows the status table and the error analysis
the demo data deliberately produces (unmapped SKUs, an unknown channel, a missing warehouse,
refunded orders filtered out) — the starting point for `tether monitor`. In between, the Shopify
sandbox has a busy hour (refunds, payments, new orders) and a second sync brings the delta in.
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


SHOP = "shopify_us"
"""The demo workspace's Shopify integration."""


def _sql(backend: Any, query: str) -> list[list[Any]]:
    rows: list[list[Any]] = backend.call("sql", query=query)["rows"]
    return rows


def _busy_hour(backend: Any, server: Any) -> None:
    """Refund one synced order and change a few hundred more in the sandbox, sync again, and
    show the refund leave ``data.sales_orders`` and the current quantities drop."""
    from tether.cli.sync_cmds import _print_sync
    from tether.sandbox.shopify_store import ORDER_BASE

    where = f"integration_id = '{SHOP}'"
    picked = _sql(
        backend,
        f"SELECT external_id, order_number FROM data.sales_orders WHERE {where} "
        "AND financial_status = 'paid' ORDER BY external_id LIMIT 1",
    )
    demand = (
        f"SELECT sum(quantity), sum(current_quantity) FROM data.sales_order_lines WHERE {where}"
    )
    before = _sql(backend, demand)[0]
    with server.lock:
        if picked:
            server.store.refund(int(picked[0][0].rsplit("/", 1)[1]) - ORDER_BASE)
        done = server.store.busy_day(edited=150, new=60)
    click.echo(
        f"In Shopify: {picked[0][1] if picked else 'no order'} refunded; {done['new']} new "
        f"orders, {done['paid']} paid, {done['refunded']} refunded, "
        f"{done['partially_refunded']} partly refunded, {done['voided']} voided, "
        f"{done['edited']} edited."
    )
    click.echo(f"\n$ tether sync {SHOP}")
    _print_sync(SHOP, backend.call("sync", integration=SHOP))
    after = _sql(backend, demand)[0]
    if picked:
        left = _sql(
            backend,
            f"SELECT count(*) FROM data.sales_orders WHERE {where} "
            f"AND external_id = '{picked[0][0]}'",
        )[0][0]
        gone = "gone from" if not left else "STILL IN"
        click.echo(f"{picked[0][1]} (refunded) is {gone} data.sales_orders.")
    click.echo(
        f"Units ordered {before[0]:,.0f} -> {after[0]:,.0f}; units after refunds and edits "
        f"(current_quantity, what a forecast should read) {before[1]:,.0f} -> {after[1]:,.0f}."
    )


def _verify(backend: Any, integrations: list[str]) -> None:
    from tether.cli.verify_cmd import print_verify
    from tether.errors import TetherError

    for integration in integrations:
        click.echo(f"\n$ tether verify {integration}")
        try:
            print_verify(backend.call("verify", integration=integration))
        except TetherError as exc:
            click.echo(f"Error: {exc.render()}")


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
        shopify = next((s for s in servers if hasattr(getattr(s, "store", None), "busy_day")), None)
        if shopify is not None and any(r["id"] == SHOP for r in enabled):
            _step("6. A busy hour at the Shopify store, then the next sync: the delta")
            _busy_hour(backend, shopify)
        _step("7. tether status")
        print_status(backend.call("status"))
        _step("8. tether errors — what needs triage")
        for row in enabled:
            analysis = backend.call("errors", integration=row["id"])
            if analysis["top_errors"]:
                output.console().print(f"\n[bold]$ tether errors {row['id']}[/bold]")
                _print_errors(row["id"], {**analysis, "ledger": []})  # first run: all "new"
        _step("9. tether verify — does the state hold what each source holds? (last 30 days)")
        _verify(backend, [row["id"] for row in enabled])
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

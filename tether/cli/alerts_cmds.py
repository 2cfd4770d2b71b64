"""`tether alerts` (routes and recent deliveries) and `tether alerts test [ROUTE]`."""

from __future__ import annotations

import click

from tether.cli import output


@click.group(invoke_without_command=True)
@output.json_option
@click.pass_context
def alerts(ctx: click.Context, as_json: bool) -> None:
    """Alert routes (alerts.yaml, as applied) and the latest deliveries.

    \b
    Routes say which events go where: execution_failed, sync_recovered, flag_raised,
    flag_resolved, unmapped, escalated. Destinations are names in a SOPS file
    (secrets/alerts.sops.yaml) holding apprise URLs; URLs are never shown. The daemon sends
    alerts; see docs/alerts.md.

    \b
    tether alerts test [ROUTE]   send a test message now (every route without ROUTE)
    """
    if ctx.invoked_subcommand is not None:
        return
    doc = output.backend(ctx).call("alerts")
    if as_json:
        output.echo_json(doc)
        return
    from rich.markup import escape

    out = output.console()
    if not doc["routes"]:
        out.print("No alert routes applied. Write alerts.yaml, then `tether plan` / `apply`.")
    for route in doc["routes"]:
        out.print(
            f"route [bold]{route['name']}[/bold]: {', '.join(route['events'])} for "
            f"{', '.join(route['integrations'])} → {', '.join(route['to'])} "
            f"(escalate after {route['escalate_after']})"
        )
    if doc["deliveries"]:
        out.print("Latest deliveries:")
    for d in doc["deliveries"]:
        error = f" — {escape(d['last_error'])}" if d.get("last_error") else ""
        out.print(
            f"  {d['created_at'][:19]}  {d['status']:<9} {d['route']}/{d['destination']}  "
            f"{escape(d['title'])} ({d['attempts']} attempts){error}"
        )


@alerts.command("test")
@click.argument("route", required=False)
@output.json_option
@click.pass_context
def test(ctx: click.Context, route: str | None, as_json: bool) -> None:
    """Send a test message through ROUTE (or every route) of alerts.yaml (operator).

    Uses the workspace's alerts.yaml, so a new route can be tried before `tether apply`.
    Exits 1 when a destination did not accept the message.
    """
    doc = output.backend(ctx).call("alerts_test", route=route)
    if as_json:
        output.echo_json(doc)
        return
    for sent in doc["sent"]:
        click.echo(f"Sent a test message: route {sent['route']} → {sent['destination']} ✔")

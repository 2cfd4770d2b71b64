"""`tether sandbox serve`: the local servers of each service's real API, in the foreground."""

from __future__ import annotations

import dataclasses
import signal
import threading
from typing import Any

import click

from tether.errors import TetherError


def _coerce(current: Any, field_type: Any, text: str) -> Any:
    kind = field_type if isinstance(field_type, type) else type(current)
    if kind is bool or isinstance(current, bool):
        if text.lower() in {"1", "true", "yes", "on"}:
            return True
        if text.lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"expected true/false, got {text!r}")
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    return text


def scenario_for(service: str, settings: list[str]) -> Any:
    """The service's default Scenario with ``key=value`` overrides (`--set bad_token=true`)."""
    from tether.sandbox import sandbox_module

    module = sandbox_module(service)
    scenario = module.Scenario()
    fields = {f.name: f for f in dataclasses.fields(scenario)}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise TetherError(f"--set {item!r}: expected KEY=VALUE.")
        if "." in key:
            target, _, key = key.partition(".")
            if target != service:
                continue
        if key not in fields:
            raise TetherError(
                f"--set {key}: the {service} sandbox has no such switch.",
                hint=f"Switches: {', '.join(sorted(fields))}.",
            )
        try:
            setattr(scenario, key, _coerce(getattr(scenario, key), fields[key].type, value))
        except ValueError as exc:
            raise TetherError(f"--set {key}={value}: {exc}") from None
    return scenario


def start_sandboxes(services: list[str], settings: list[str], port_base: int | None) -> list[Any]:
    """Start each sandbox on its demo port (or port_base + offset, or any free port with 0)."""
    from tether.sandbox import DEMO_PORTS, sandbox_module

    servers: list[Any] = []
    for index, service in enumerate(services):
        module = sandbox_module(service)
        port = DEMO_PORTS[service] if port_base is None else (port_base and port_base + index)
        try:
            server = module.serve(scenario_for(service, settings), port=port)
        except ValueError as exc:  # a switch value the sandbox refuses (e.g. an unknown plan)
            for running in servers:
                running.stop()
            raise TetherError(f"The {service} sandbox cannot start: {exc}.") from None
        except OSError as exc:
            for running in servers:
                running.stop()
            raise TetherError(
                f"Cannot start the {service} sandbox on 127.0.0.1:{port}: {exc.strerror}.",
                hint="Another sandbox may already run there (`tether sandbox serve`), or pass "
                "--port-base 0 for free ports.",
            ) from None
        servers.append(server.start())
    return servers


@click.group()
def sandbox() -> None:
    """Local servers that speak each service's real API (for the demo and tests)."""


@sandbox.command()
@click.argument("services", nargs=-1)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Scenario switch, e.g. --set orders=100000, --set shopify.bad_token=true.",
)
@click.option(
    "--port-base",
    type=int,
    default=None,
    help="First port (default: each service's demo port; 0 for free ports).",
)
def serve(services: tuple[str, ...], settings: tuple[str, ...], port_base: int | None) -> None:
    """Run sandbox servers in the foreground until Ctrl-C.

    SERVICES: which sandboxes (default: all; an unknown name lists them). The demo workspace's
    integrations point at the default ports through `settings.base_url`.

    \b
    Examples:
      tether sandbox serve
      tether sandbox serve shopify --set orders=100000 --set unknown_channel_rate=0.1
      tether sandbox serve shopify --set bad_token=true      # see AUTH_FAILED
    """
    from tether.sandbox import SANDBOXES

    chosen = list(services) or list(SANDBOXES)
    unknown = [s for s in chosen if s not in SANDBOXES]
    if unknown:
        raise TetherError(
            f"No sandbox for {', '.join(unknown)}.",
            hint=f"Sandboxes: {', '.join(SANDBOXES)}.",
        )
    servers = start_sandboxes(chosen, list(settings), port_base)
    for service, server in zip(chosen, servers, strict=True):
        click.echo(f"{service:10} {server.url}")
    click.echo("Serving; press Ctrl-C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()

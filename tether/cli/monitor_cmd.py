"""``tether monitor``: open the Textual triage monitor on this workspace's state."""

from __future__ import annotations

import click


@click.command("monitor")
@click.option(
    "--refresh",
    "refresh_s",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds between live refreshes (0 turns live refresh off).",
)
@click.option(
    "--theme",
    default=None,
    help="Textual theme, e.g. textual-light for light terminals (ctrl+p → Theme to switch).",
)
@click.pass_context
def monitor(ctx: click.Context, refresh_s: float, theme: str | None) -> None:
    """Open the terminal monitor: integrations, executions, items, error analysis, actions.

    \b
    Keys: Enter open · Esc back · t sync · d dry run · r retry · p pause/resume
          R reset (admin) · f failed only · / search · e error analysis · ? help
    """
    from tether.cli.output import workspace
    from tether.daemon.client import connect
    from tether.tui.app import MonitorApp
    from tether.tui.datasource import BackendSource

    ws = workspace(ctx)
    backend = connect(ws)
    where = f"daemon at {ws.socket_path}" if backend.via_daemon else f"state file {ws.state_path}"
    role = getattr(backend, "role", None)
    description = f"{ws.settings.project.name} · {where}" + (f" · {role}" if role else "")
    from tether.tui.setup_source import SetupSource

    setup = SetupSource(connect(ws, local=True))  # `add` writes as you, never via the daemon
    MonitorApp(
        BackendSource(backend, description), refresh_s=refresh_s, theme=theme, setup=setup
    ).run()

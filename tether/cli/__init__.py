"""The ``tether`` command. Thin: parse, call an operation, render.

Subcommands live in small modules and are imported only when run, so ``tether --help`` stays fast;
their one-line help is listed here for the same reason.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from tether import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:attribute, one-line help shown by `tether --help`)
    "init": ("tether.cli.workspace_cmds:init", "Create a new workspace in DIR."),
    "validate": (
        "tether.cli.workspace_cmds:validate",
        "Check the workspace; report every problem.",
    ),
    "services": (
        "tether.cli.workspace_cmds:services",
        "List services, capabilities, credential fields.",
    ),
    "plan": ("tether.cli.plan_cmds:plan", "Show what apply would change."),
    "apply": ("tether.cli.plan_cmds:apply", "Apply the workspace (or a saved plan) to the state."),
    "show": ("tether.cli.plan_cmds:show", "Show a saved plan file."),
    "status": ("tether.cli.state_cmds:status", "Applied integrations, last and next sync."),
    "sql": ("tether.cli.state_cmds:sql", "Run read-only SQL over the state."),
    "unlock": ("tether.cli.state_cmds:unlock", "Clear a state lock whose holder is dead (admin)."),
    "sync": ("tether.cli.sync_cmds:sync", "Run a sync of an integration now."),
    "executions": ("tether.cli.sync_cmds:executions", "List sync executions."),
    "items": ("tether.cli.sync_cmds:items", "List the sync items of an execution."),
    "errors": ("tether.cli.sync_cmds:errors", "Error analysis of an execution or integration."),
    "retry": ("tether.cli.sync_cmds:retry", "Re-map stored failed items without refetching."),
    "reset": ("tether.cli.sync_cmds:reset", "Delete sync history and cursors (admin)."),
    "pause": ("tether.cli.daemon_cmds:pause", "Pause an integration's schedule (operator)."),
    "resume": ("tether.cli.daemon_cmds:resume", "Resume a paused integration (operator)."),
    "daemon": ("tether.cli.daemon_cmds:daemon", "Run the scheduler and API in the foreground."),
    "monitor": ("tether.cli.monitor_cmd:monitor", "Open the terminal monitor for triage."),
    "sandbox": ("tether.cli.sandbox_cmds:sandbox", "Run the local sandbox servers."),
    "demo": ("tether.cli.demo_cmd:demo", "Run the bundled demo end to end."),
    "doctor": ("tether.cli.doctor_cmd:doctor", "Diagnose integrations; say what to do next."),
    "alerts": ("tether.cli.alerts_cmds:alerts", "Alert routes, deliveries; `alerts test`."),
    "verify": ("tether.cli.verify_cmd:verify", "Compare record counts: source vs state."),
    "add": ("tether.cli.add_cmd:add", "Set up an integration: its YAML and encrypted secrets."),
    "secrets": ("tether.cli.secrets_cmds:secrets", "Age keys and encrypted credentials."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target[0].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TETHER_WORKSPACE",
    help="Workspace root (default: nearest tether.toml upwards from here).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.version_option(__version__, prog_name="tether")
@click.pass_context
def cli(ctx: click.Context, workspace: Path | None, debug: bool) -> None:
    """Tether keeps data integrations as code.

    \b
    Typical flow:
      tether validate          check integrations/, mappings/, secrets/
      tether plan -out p.out   review what would change
      tether apply p.out       reconcile the state
      tether daemon            run syncs on their schedules
      tether monitor           triage failed items and unmapped SKUs
    """
    ctx.ensure_object(dict)
    ctx.obj["workspace"] = workspace
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    from tether.errors import TetherError

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="tether", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code != 2 else 1)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except TetherError as exc:
        if debug:
            raise
        click.echo(_error_text(exc), err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


def _error_text(exc: Any) -> str:
    from tether.errors import ConfigError

    text: str = exc.render()
    return text if isinstance(exc, ConfigError) else f"Error: {text}"

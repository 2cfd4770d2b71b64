"""`tether init`, `tether validate`, `tether services`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tether.cli import output

if TYPE_CHECKING:
    from tether.config.project import Workspace


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Project name (default: the directory name).")
def init(directory: Path, name: str | None) -> None:
    """Create a new workspace in DIRECTORY.

    Writes tether.toml, integrations/, mappings/*.csv with headers, secrets/, .sops.yaml and a
    .gitignore for state/. Then three commands lead to a first sync:

    \b
      tether secrets keygen   your age key, added to .sops.yaml
      tether add shopify      asks for the integration and its credentials, encrypts them
      tether apply            reconciles the state; `tether sync ID` runs a sync now
    """
    from tether.cli.scaffold import NEXT_STEPS, scaffold

    created = scaffold(directory, name or directory.resolve().name)
    out = output.console()
    for path in created:
        out.print(f"  created {path}", markup=False)
    out.print(f"\nWorkspace ready in {directory}. Next, inside it:\n", markup=False)
    for number, command in enumerate(NEXT_STEPS, start=1):
        out.print(f"  {number}. {command}", markup=False)


@click.command()
@output.json_option
@click.pass_context
def validate(ctx: click.Context, as_json: bool) -> None:
    """Check the workspace and report every problem at once.

    Each problem reads path:line:col: message, with a hint where one helps. Exit 1 on any
    problem; nothing is written.
    """
    from tether.daemon.client import LocalBackend

    result = LocalBackend(output.workspace(ctx)).call("validate")
    if as_json:
        output.echo_json(result)
        return
    kinds = result["mappings"]
    rows = ", ".join(f"{n} {k} mapping{'s' if n != 1 else ''}" for k, n in kinds.items())
    click.echo(
        f"Success! {result['integrations']} integrations"
        + (f", {rows}" if rows else "")
        + " are valid."
    )


@click.command()
@output.json_option
@click.pass_context
def services(ctx: click.Context, as_json: bool) -> None:
    """List the services Tether can sync from.

    Shows each service's capabilities (what it can sync) and the credential fields its SOPS file
    must hold. Services come from the `tether.connectors` entry-point group, so installed plugins
    appear here too.
    """
    from rich.table import Table

    from tether.ops import Context, LocalStateAccess, run
    from tether.state.db import current_user

    workspace = _optional_workspace(ctx)
    ops_ctx = Context(workspace, LocalStateAccess(workspace), current_user(), "viewer")
    result = run(ops_ctx, "services", {})
    if as_json:
        output.echo_json(result)
        return
    out = output.console()
    for svc in result["services"]:
        out.print(f"[bold]{svc['display_name']}[/bold] ({svc['name']}): {svc['description']}")
        caps = Table(show_header=True, box=None, padding=(0, 2), header_style="dim")
        caps.add_column("capability")
        caps.add_column("name")
        caps.add_column("description")
        for cap in svc["capabilities"]:
            caps.add_row(cap["name"], cap["display_name"], cap["description"])
        out.print(caps)
        creds = Table(show_header=True, box=None, padding=(0, 2), header_style="dim")
        for col in ("credential field", "label", "type", "required", "secret", "placeholder"):
            creds.add_column(col)
        for f in svc["credential_fields"]:
            creds.add_row(
                f["name"],
                f["label"],
                f["type"],
                "yes" if f["required"] else "no",
                "yes" if f["secret"] else "no",
                f["placeholder"],
            )
        out.print(creds)
        out.print()


def _optional_workspace(ctx: click.Context) -> Workspace:
    """`services` works outside a workspace too."""
    from tether.config.project import ProjectSettings
    from tether.errors import WorkspaceNotFoundError

    try:
        return output.workspace(ctx)
    except WorkspaceNotFoundError:
        from tether.config.project import Workspace

        return Workspace(Path.cwd(), ProjectSettings())

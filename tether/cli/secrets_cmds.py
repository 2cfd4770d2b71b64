"""`tether secrets keygen|set|check`: the age key and the SOPS files, without ever showing a
secret (the age key and credential values never reach stdout or logs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from tether.cli import output


@click.group()
def secrets() -> None:
    """Age keys and the SOPS-encrypted credentials in secrets/.

    \b
      tether secrets keygen        make your age key and add it to .sops.yaml
      tether secrets set ID FIELD  change one credential (asked without echo, or from stdin)
      tether secrets check         which files are encrypted for which keys
    """


def _backend(ctx: click.Context) -> Any:
    from tether.daemon.client import connect

    return connect(output.workspace(ctx), local=True)


@secrets.command()
@click.option(
    "--output",
    "-o",
    "key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Key file to create (default: [secrets] age_key_file, or SOPS_AGE_KEY_FILE).",
)
@output.json_option
@click.pass_context
def keygen(ctx: click.Context, key_file: Path | None, as_json: bool) -> None:
    """Create an age key (file mode 0600) and add its public key to .sops.yaml.

    An existing key file is never overwritten: its first key's public key is added instead, so a
    teammate who already has a key runs this too. Only the public key (age1…) is printed.
    """
    result = _backend(ctx).call("secrets_keygen", output=str(key_file) if key_file else None)
    if as_json:
        output.echo_json(result)
        return
    verb = "Created" if result["created"] else "Using the existing key in"
    click.echo(f"{verb} {result['key_file']}")
    click.echo(f"Public key: {result['recipient']}")
    if result["added_to_sops_yaml"]:
        click.echo("Added it to .sops.yaml: new secrets files are encrypted for it.")
    else:
        click.echo(".sops.yaml already lists it.")
    if not result["key_file_in_use"]:
        click.echo(
            f"Note: this workspace reads its key from elsewhere; set SOPS_AGE_KEY_FILE="
            f"{result['key_file']} or [secrets] age_key_file in tether.toml."
        )
    if result["existing_secrets"] and result["added_to_sops_yaml"]:
        click.echo(
            "Existing files are not re-encrypted for it: someone who can open them runs "
            "`sops updatekeys secrets/*.sops.yaml`."
        )
    click.echo("Keep the key file out of git and back it up. Next: tether add SERVICE")


@secrets.command(name="set")
@click.argument("integration_id", metavar="ID")
@click.argument("field")
@click.pass_context
def set_(ctx: click.Context, integration_id: str, field: str) -> None:
    """Change one credential FIELD of integration ID, e.g. rotate a token.

    On a terminal the value is asked (without echo for secret fields); otherwise it is read
    from stdin. The other credentials are neither decrypted to disk nor shown; `tether plan`
    then shows the integration's credentials as changed. A missing credentials file is
    created, encrypted, with this one field: repeat for each field of a hand-written integration.
    """
    if sys.stdin.isatty():
        value = click.prompt(
            f"New value for {field}",
            default="",
            show_default=False,
            hide_input=True,
            confirmation_prompt=True,
        )
    else:
        value = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    result = _backend(ctx).call("secrets_set", id=integration_id, field=field, text=value)
    verb = "Created" if result["created"] else "Updated"
    click.echo(f"{verb} {field} in {result['credentials']} (value not shown). Next: tether plan")


@secrets.command()
@output.json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Show which files in secrets/ are encrypted for which age recipients.

    Names every file that is not encrypted, not encrypted for a key you hold (so `tether sync`
    could not open it here), or lacks a recipient .sops.yaml lists. Exit 1 if any.
    """
    result = _backend(ctx).call("secrets_check")
    if as_json:
        output.echo_json(result)
    else:
        _show_check(result)
    if not result["ok"]:
        raise SystemExit(1)


def _show_check(result: dict[str, Any]) -> None:
    held = set(result["held"])
    click.echo(
        f"Your key file: {result['key_file']} ({len(held)} key{'s' if len(held) != 1 else ''})"
    )
    if not held:
        click.echo(
            "  no age key there: `tether secrets keygen` makes one (or set SOPS_AGE_KEY_FILE)"
        )
    if not result["files"]:
        click.echo("No files in secrets/ yet. Create one with `tether add SERVICE`.")
    for f in result["files"]:
        mark = "ok " if not f["problems"] else "✗  "
        who = ", ".join(_short(r) + (" (yours)" if r in held else "") for r in f["recipients"])
        click.echo(f"{mark}{f['path']}: " + (f"for {who}" if f["recipients"] else "no recipients"))
        for problem in f["problems"]:
            click.echo(f"     {problem}")
        for missing in f["missing_recipients"]:
            click.echo(f"     missing {_short(missing)} (run `sops updatekeys {f['path']}`)")
    bad = [f["path"] for f in result["files"] if f["problems"]]
    if bad:
        raise_text = (
            f"{len(bad)} file{'s' if len(bad) != 1 else ''} need attention: {', '.join(bad)}"
        )
        click.echo(raise_text, err=True)


def _short(recipient: str) -> str:
    return recipient if len(recipient) < 20 else f"{recipient[:12]}…{recipient[-6:]}"

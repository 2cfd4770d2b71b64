"""`tether plan`, `tether apply`, `tether show`: the reviewable change, then the change."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from tether.cli import output


def _print_plan(doc: dict[str, Any], fmt: str) -> None:
    from tether.render.plan import render_markdown, render_text

    if fmt == "json":
        output.echo_json(doc)
    elif fmt == "markdown":
        text = render_markdown(doc)
        click.echo(text, nl=False)
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file:
            with open(summary_file, "a", encoding="utf-8") as handle:
                handle.write(text)
    else:
        out = output.console()
        if out.is_terminal:
            out.print(render_text(doc, color=True), soft_wrap=True)
        else:
            click.echo(render_text(doc))


def _save_plan(doc: dict[str, Any], path: Path) -> None:
    import orjson

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def _load_plan(path: Path) -> dict[str, Any]:
    import orjson

    from tether.errors import PlanError

    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise PlanError(f"Plan file {path} does not exist.") from None
    except orjson.JSONDecodeError as exc:
        raise PlanError(
            f"{path} is not a Tether plan file ({exc}).",
            hint="Make one with `tether plan -out FILE`.",
        ) from None
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise PlanError(
            f"{path} is not a Tether plan file.", hint="Make one with `tether plan -out FILE`."
        )
    return doc


@click.command()
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are changes, 1 on error.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the versioned plan document.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="markdown: a PR comment (also appended to $GITHUB_STEP_SUMMARY when set).",
)
@click.option(
    "-out",
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan to FILE for `tether apply FILE`.",
)
@click.pass_context
def plan(
    ctx: click.Context, detailed_exitcode: bool, as_json: bool, fmt: str, out_file: Path | None
) -> None:
    """Show what `tether apply` would change.

    Diffs integrations/, mappings/ and secrets/ against the applied state: + create, ~ update,
    - destroy, -/+ replace, with attribute-level changes; mapping rows as keyed row diffs with
    their data impact; credentials as "(sensitive value changed)" (compared by the SOPS MAC, so
    no key is needed). Runs validation first.

    \b
    Examples:
      tether plan
      tether plan -out plan.out && tether apply plan.out
      tether plan --format markdown      # PR comment
      tether plan --detailed-exitcode    # CI: 0 no changes, 2 changes, 1 error
    """
    doc = output.backend(ctx).call("plan")
    _print_plan(doc, "json" if as_json else fmt)
    if out_file is not None:
        _save_plan(doc, out_file)
        if not as_json and fmt == "text":
            click.echo(
                f"\nSaved the plan to {out_file}. Apply exactly this plan with: tether apply {out_file}"
            )
    if detailed_exitcode and doc["has_changes"]:
        sys.exit(2)


def _confirm() -> bool:
    if not sys.stdin.isatty():
        from tether.errors import TetherError

        raise TetherError(
            "Refusing to apply without confirmation: stdin is not a terminal.",
            hint="Pass --auto-approve, or apply a reviewed saved plan: tether apply plan.out",
        )
    click.echo(
        "\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n"
    )
    answer: str = click.prompt("  Enter a value", default="", show_default=False)
    return answer.strip() == "yes"


@click.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Skip the interactive 'yes' confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def apply(ctx: click.Context, planfile: Path | None, auto_approve: bool, as_json: bool) -> None:
    """Apply the workspace to the state, in one transaction.

    With PLANFILE, applies exactly that saved plan, refusing it if it is stale (the files, the
    serial or the lineage changed since). Without it, plans, shows the plan and asks for 'yes'.
    """
    backend = output.backend(ctx)
    if planfile is not None:
        doc = _load_plan(planfile)
    else:
        doc = backend.call("plan")
        if not as_json:
            _print_plan(doc, "text")
        if not doc["has_changes"]:
            if as_json:
                output.echo_json({"applied": False, "summary": doc["summary"]})
            return
        if not auto_approve and not _confirm():
            click.echo("\nApply cancelled.")
            sys.exit(1)
    result = backend.call("apply", plan=doc)
    if as_json:
        output.echo_json({"applied": True, **result})
        return
    s = result["summary"]
    click.echo(
        f"\nApply complete! Integrations: {s['add']} added, {s['change']} changed, "
        f"{s['destroy']} destroyed. Mappings: {s['mappings_add']} added, "
        f"{s['mappings_change']} changed, {s['mappings_remove']} removed. "
        f"State serial {result['serial']}."
    )


@click.command()
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the plan document.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text")
def show(planfile: Path, as_json: bool, fmt: str) -> None:
    """Show a saved plan file."""
    _print_plan(_load_plan(planfile), "json" if as_json else fmt)

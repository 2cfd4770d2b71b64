"""The docs as a user meets them: a short README, every page on the site, and every `tether`
command they show accepted by the real CLI (so a renamed flag cannot leave a stale example)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from tether.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
CONSOLE = re.compile(r"```console\n(.*?)```", re.S)
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "2>&1"}
GLOBAL_OPTIONS = {"-w": 1, "--workspace": 1, "--debug": 0}


def nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in nav_pages(value)]
    return []


def documented_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) for every `$ tether …` line in a console block of the README and docs."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for block in CONSOLE.finditer(text):
            line_no = text[: block.start()].count("\n") + 2
            # a line ending in a backslash goes on in the next one, as in a shell
            lines = block.group(1).replace("\\\n", " ").splitlines()
            for offset, line in enumerate(lines):
                if not line.startswith("$ "):
                    continue
                words = shlex.split(line[2:], comments=True)
                # only the first command of a pipeline or list is Tether's
                ends = [i for i, word in enumerate(words) if word in SHELL_OPERATORS]
                words = words[: ends[0]] if ends else words
                if words and words[0].split("/")[-1] == "tether":
                    where = f"{page.relative_to(ROOT)}:{line_no + offset}"
                    found.append((where, words[1:]))
    return found


def test_the_readme_is_a_front_page_not_a_manual() -> None:
    assert len((ROOT / "README.md").read_bytes()) <= 12 * 1024
    assert (ROOT / "README.md").read_text().startswith("# Tether\n\n```\nmake demo")


def test_every_docs_page_is_on_the_site_and_every_nav_entry_exists() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = set(nav_pages(config["nav"]))
    on_disk = {page.name for page in DOCS.glob("*.md")}
    assert on_disk - listed == set(), "pages missing from mkdocs.yml nav"
    assert listed - on_disk == set(), "nav entries with no page"


def test_the_docs_show_commands() -> None:
    assert len(documented_commands()) >= 20


@pytest.mark.parametrize(("where", "argv"), documented_commands(), ids=lambda v: str(v))
def test_every_documented_command_is_accepted_by_the_cli(where: str, argv: list[str]) -> None:
    args = list(argv)
    while args and args[0] in GLOBAL_OPTIONS:
        del args[: 1 + GLOBAL_OPTIONS[args[0]]]
    command: click.Command = cli
    context = click.Context(cli, info_name="tether")
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(context, args[0])
        assert sub is not None, f"{where}: no command {args[0]!r} (`tether {' '.join(argv)}`)"
        command, args = sub, args[1:]
        context = click.Context(command, info_name=command.name, parent=context)
    if "--help" in args or "-h" in args:
        return
    try:
        command.make_context(command.name, args, parent=context.parent)
    except click.UsageError as exc:
        pytest.fail(
            f"{where}: `tether {' '.join(argv)}` is refused by the CLI: {exc.format_message()}"
        )

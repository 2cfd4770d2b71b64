"""Shared rendering for commands: JSON for scripts, Rich tables for people."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

    from tether.config.project import Workspace
    from tether.daemon.client import Backend


def workspace(ctx: click.Context) -> Workspace:
    from tether.config.project import find_root, load_project

    root: Path | None = ctx.obj.get("workspace") if ctx.obj else None
    return load_project(root.resolve() if root else find_root())


def backend(ctx: click.Context) -> Backend:
    from tether.daemon.client import connect

    return connect(workspace(ctx))


def echo_json(value: Any) -> None:
    import orjson

    sys.stdout.write(
        orjson.dumps(
            value, default=_default, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
        ).decode()
        + "\n"
    )


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    out = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not out.is_terminal:
        # Pipes and logs: don't squeeze tables into 80 columns.
        out.width = max(160, int(os.environ.get("COLUMNS", "0") or 0))
    return out


def json_option(fn: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(fn)

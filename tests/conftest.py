"""Shared fixtures: a throwaway age key, workspaces with SOPS-encrypted credentials, and a way to
run the real `tether` command in-process and see what a user would see."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tether.config import secrets


@dataclass(frozen=True)
class AgeKey:
    path: Path
    recipient: str


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture(scope="session")
def age_key(tmp_path_factory: pytest.TempPathFactory) -> AgeKey:
    secret, recipient = secrets.generate_age_key()
    path = tmp_path_factory.mktemp("age") / "keys.txt"
    path.write_text(secret + "\n")
    return AgeKey(path, recipient)


class TerminalInput(io.StringIO):
    """What a user types at a terminal: stdin that is a tty (prompts ask instead of refusing)."""

    def isatty(self) -> bool:
        return True


def run_tether(
    *args: str, input: str | None = None, env: dict[str, str] | None = None, terminal: bool = False
) -> Result:
    """Run `tether ARGS` in this process, as a user would, capturing exit code and output.

    ``terminal=True`` types ``input`` at a terminal rather than piping it."""
    from tether.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_env = dict(os.environ)
    old_stdin = sys.stdin
    os.environ.update(env or {})
    sys.stdin = (TerminalInput if terminal else io.StringIO)(input or "")
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = old_stdin
        os.environ.clear()
        os.environ.update(old_env)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def tether() -> Callable[..., Result]:
    return run_tether


def write_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    yaml = YAML()
    with path.open("w") as handle:
        yaml.dump(data, handle)


class WorkspaceBuilder:
    """Builds a workspace in a temp dir: integrations, mappings, encrypted credentials."""

    def __init__(self, root: Path, key: AgeKey) -> None:
        self.root = root
        self.key = key
        root.mkdir(parents=True, exist_ok=True)
        (root / "tether.toml").write_text(
            f'[project]\nname = "test"\n\n[secrets]\nage_key_file = "{key.path}"\n\n'
            '[access]\nadmins = ["root", "{user}"]\n'.replace("{user}", _user())
        )
        for name, header in (
            ("skus.csv", "sku,external_id,integration"),
            ("channels.csv", "channel,external_id,integration"),
            ("warehouses.csv", "warehouse,external_id,integration"),
        ):
            path = root / "mappings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(header + "\n")
        (root / "integrations").mkdir(exist_ok=True)

    def credentials(self, integration_id: str, fields: dict[str, str]) -> str:
        ref = f"secrets/{integration_id}.sops.yaml"
        path = self.root / ref
        write_yaml(path, fields)
        secrets.encrypt_file(path, self.key.recipient)
        return ref

    def integration(
        self,
        integration_id: str,
        service: str,
        capabilities: list[str],
        *,
        credentials: dict[str, str] | None = None,
        settings: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Path:
        doc: dict[str, Any] = {"name": fields.pop("name", integration_id), "service": service}
        doc.update(fields)
        doc["capabilities"] = capabilities
        if credentials is not None:
            doc["credentials"] = self.credentials(integration_id, credentials)
        if settings:
            doc["settings"] = settings
        path = self.root / "integrations" / f"{integration_id}.yaml"
        write_yaml(path, doc)
        return path

    def mappings(self, kind: str, rows: list[tuple[str, str, str]]) -> None:
        """Append (target, external_id, integration) rows to mappings/<kind>s.csv."""
        path = self.root / "mappings" / f"{kind}s.csv"
        with path.open("a") as handle:
            for row in rows:
                handle.write(",".join(row) + "\n")

    def apply(self) -> Result:
        result = run_tether("-w", str(self.root), "apply", "--auto-approve")
        assert result.exit_code == 0, result.output
        return result

    @property
    def state_path(self) -> Path:
        return self.root / "state" / "tether.duckdb"

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Read the state file directly (the test's own eyes; not through tether)."""
        import duckdb

        con = duckdb.connect(str(self.state_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()


def _user() -> str:
    from tether.state.db import current_user

    return current_user()


@pytest.fixture
def workspace(tmp_path: Path, age_key: AgeKey) -> WorkspaceBuilder:
    return WorkspaceBuilder(tmp_path / "ws", age_key)


@pytest.fixture
def workspace_factory(
    tmp_path: Path, age_key: AgeKey
) -> Iterator[Callable[[str], WorkspaceBuilder]]:
    def make(name: str = "ws") -> WorkspaceBuilder:
        return WorkspaceBuilder(tmp_path / name, age_key)

    yield make


@pytest.fixture(autouse=True)
def _tether_logging_restored() -> Iterator[None]:
    """`tether daemon` run in-process configures the "tether" logger for the process (a stderr
    handler at INFO); without this, a later test's in-process daemon logs into that test's captured
    stderr, as a real daemon never does into a CLI user's terminal."""
    import logging

    logger = logging.getLogger("tether")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], level, logger.propagate = saved[0], saved[1], saved[2]
    logger.setLevel(level)

"""A new user's machine for `tether add` / `tether secrets` tests: own HOME (where the age key
goes), own TMPDIR, and a workspace made by `tether init` + `tether secrets keygen`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from conftest import Result, run_tether


@dataclass(frozen=True)
class NewUser:
    env: dict[str, str]
    workspace: Path

    @property
    def key_file(self) -> Path:
        return Path(self.env["HOME"]) / ".config" / "sops" / "age" / "keys.txt"

    @property
    def watched(self) -> list[Path]:
        return [self.workspace, Path(self.env["HOME"]), Path(self.env["TMPDIR"])]

    def tether(self, *args: str, input: str | None = None, **env: str) -> Result:
        return run_tether("-w", str(self.workspace), *args, input=input, env={**self.env, **env})


def user_env(tmp_path: Path) -> dict[str, str]:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "TETHER_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), TETHER_NO_DAEMON="1", TERM="xterm", COLUMNS="120")
    return env


def new_user(tmp_path: Path, *, keygen: bool = True) -> NewUser:
    env = user_env(tmp_path)
    workspace = tmp_path / "acme"
    assert run_tether("init", str(workspace), env=env).exit_code == 0
    user = NewUser(env, workspace)
    if keygen:
        result = user.tether("secrets", "keygen")
        assert result.exit_code == 0, result.output
    return user

"""``tether.toml``: project settings, and finding the workspace (like git finds its repo)."""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tether.errors import ConfigError, Problem, WorkspaceNotFoundError

PROJECT_FILE = "tether.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectSection(_Section):
    name: str = "tether"


class StateSection(_Section):
    path: str = "state/tether.duckdb"


class DaemonSection(_Section):
    socket: str = "state/tether.sock"
    max_concurrent_syncs: int = Field(default=4, ge=1, le=256)
    catch_up: Literal["once", "skip"] = "once"
    socket_group: str | None = None
    """Unix group given read/write on the socket (mode 0660) in addition to its owner."""
    metrics: str | None = None
    """``HOST:PORT`` of the Prometheus metrics listener (e.g. "127.0.0.1:9464"); off when unset."""

    @field_validator("metrics")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            metrics_address(value)
        return value


def metrics_address(value: str) -> tuple[str, int]:
    """ "127.0.0.1:9464" → ("127.0.0.1", 9464); port 0 picks a free port (tests)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f'expected "HOST:PORT" such as "127.0.0.1:9464", got {value!r}')
    return host.strip("[]"), int(port)


class SecretsSection(_Section):
    age_key_file: str = "~/.config/sops/age/keys.txt"


class AccessSection(_Section):
    admins: list[str] = Field(default_factory=lambda: ["root"])
    operators: list[str] = Field(default_factory=list)


class ProjectSettings(_Section):
    project: ProjectSection = Field(default_factory=ProjectSection)
    state: StateSection = Field(default_factory=StateSection)
    daemon: DaemonSection = Field(default_factory=DaemonSection)
    secrets: SecretsSection = Field(default_factory=SecretsSection)
    access: AccessSection = Field(default_factory=AccessSection)


class Workspace:
    """A workspace root and its project settings; paths resolve relative to the root."""

    def __init__(self, root: Path, settings: ProjectSettings) -> None:
        self.root = root
        self.settings = settings
        self._real_dirs: dict[str, str] | None = None
        self._links: dict[str, frozenset[str]] | None = None

    @property
    def state_path(self) -> Path:
        return self.resolve(self.settings.state.path)

    @property
    def socket_path(self) -> Path:
        return self.resolve(self.settings.daemon.socket)

    @property
    def age_key_file(self) -> Path:
        env = os.environ.get("SOPS_AGE_KEY_FILE")
        return Path(env) if env else Path(self.settings.secrets.age_key_file).expanduser()

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.root / p

    def outside(self, path: Path) -> Path | None:
        """Where ``path`` really is (symlinks followed) when that is outside the workspace.

        Workspace files (integrations, mappings, credentials) must live in it: a reference like
        ``../../etc/shadow``, ``/etc/shadow`` or a link out would let whoever edits the files
        (or a pull request) make tether read, digest and report on any file it can read.
        """
        # Strings, not pathlib: a plan asks this of every file, 1,000s of times.
        real = self._real(os.fspath(path))
        root = self._real_folder(os.fspath(self.root))
        inner = root if root.endswith(os.sep) else root + os.sep
        return None if real == root or real.startswith(inner) else Path(real)

    @contextlib.contextmanager
    def one_pass(self) -> Iterator[None]:
        """Within it, each folder is resolved and listed once: a plan checks 1,000s of files in
        the same few folders (one scandir each instead of an lstat per file and a walk up the
        tree). Outside it — and afresh in every pass, since a folder may have become a link
        meanwhile — every path is resolved."""
        outer = self._real_dirs is not None
        if not outer:
            self._real_dirs = {}
            self._links = {}
        try:
            yield
        finally:
            if not outer:
                self._real_dirs = None
                self._links = None

    def _real(self, path: str) -> str:
        folder, name = os.path.split(path)
        if self._real_dirs is None or name in ("", ".", "..") or name in self._linked(folder):
            return os.path.realpath(path)
        return os.path.join(self._real_folder(folder), name)

    def _real_folder(self, folder: str) -> str:
        if self._real_dirs is None:
            return os.path.realpath(folder)
        real = self._real_dirs.get(folder)
        if real is None:
            real = self._real_dirs[folder] = os.path.realpath(folder)
        return real

    def _linked(self, folder: str) -> frozenset[str]:
        """The names in ``folder`` that are symbolic links (one scandir per pass; the entry
        types come with the listing, so no lstat per file)."""
        assert self._links is not None
        links = self._links.get(folder)
        if links is None:
            try:
                with os.scandir(folder or ".") as entries:
                    links = frozenset(e.name for e in entries if e.is_symlink())
            except OSError:  # not a folder (yet): nothing in it is a link
                links = frozenset()
            self._links[folder] = links
        return links

    def inside(self, ref: str) -> Path | None:
        """``ref`` (relative to the root) as a path in the workspace; ``None`` if it is not."""
        if os.path.isabs(ref) or ref.startswith("~"):
            return None
        path = self.root / ref
        return None if self.outside(path) is not None else path


def find_root(start: Path | None = None) -> Path:
    env = os.environ.get("TETHER_WORKSPACE")
    if env:
        root = Path(env).resolve()
        if not (root / PROJECT_FILE).is_file():
            raise WorkspaceNotFoundError(
                f"TETHER_WORKSPACE={env} has no {PROJECT_FILE}.",
                hint="Point it at a workspace, or create one with `tether init DIR`.",
            )
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    raise WorkspaceNotFoundError(
        f"No {PROJECT_FILE} found in {here} or any parent directory.",
        hint="Run inside a workspace, pass --workspace DIR, or create one with `tether init DIR`.",
    )


def load_project(root: Path) -> Workspace:
    path = root / PROJECT_FILE
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        line, col = _toml_position(str(exc))
        raise ConfigError.at(path, line, col, f"invalid TOML: {exc}") from None
    try:
        settings = ProjectSettings.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            dotted = ".".join(str(p) for p in err["loc"])
            line = _toml_key_line(path, [str(p) for p in err["loc"]])
            problems.append(Problem(str(path), line, 1, f"{dotted}: {err['msg']}"))
        raise ConfigError(problems) from None
    return Workspace(root, settings)


def _toml_position(message: str) -> tuple[int, int]:
    import re

    m = re.search(r"line (\d+), column (\d+)", message)
    return (int(m.group(1)), int(m.group(2))) if m else (1, 1)


def _toml_key_line(path: Path, loc: list[str]) -> int:
    """Best-effort line of a key in a TOML file (tomllib keeps no positions)."""
    section, key = (loc[0], loc[-1]) if len(loc) > 1 else ("", loc[0])
    current = ""
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        stripped = text.strip()
        if stripped.startswith("["):
            current = stripped.strip("[]").strip()
            if current == section and key == section:
                return number
        elif current == section and stripped.split("=")[0].strip() == key:
            return number
    return 1

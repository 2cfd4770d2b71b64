"""Load and validate a whole workspace into a ``DesiredState``, reporting every problem at once."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tether.config import yamlpos
from tether.config.check_cache import CheckCache, FileBytes, mapping_digest
from tether.config.integration import CredentialsFile, IntegrationChecker, ServiceInfo
from tether.config.mappings import check_rows, empty_table, long_line_problem, read_mapping_file
from tether.config.model import MAPPING_FILES, DesiredState, IntegrationConfig
from tether.config.project import Workspace
from tether.config.secrets import encrypted_keys, fingerprint, sops_metadata
from tether.errors import ConfigError, Problem


def _display(workspace: Workspace, path: Path) -> str:
    try:
        return str(path.relative_to(workspace.root))
    except ValueError:
        return str(path)


def credentials_reader(workspace: Workspace) -> Callable[[str], CredentialsFile]:
    cache: dict[Path, CredentialsFile] = {}

    def read(ref: str) -> CredentialsFile:
        path = workspace.inside(ref)
        if path is None:
            return CredentialsFile(True, False, (), None, OUTSIDE)
        if path not in cache:
            cache[path] = _read_credentials(path)
        return cache[path]

    return read


OUTSIDE = (
    "is outside the workspace (an absolute path, '..' or a symbolic link out of it); "
    "credentials must be files in the workspace, e.g. secrets/<id>.sops.yaml"
)
MAX_CREDENTIALS_BYTES = 1024 * 1024
"""A SOPS file of a few credential fields is a few KB; anything far bigger is not one."""

_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z0-9_][^:#\s]*):(?:\s|$)")
_SOPS_MAC = re.compile(r"^    mac: (ENC\[.*\])\s*$", re.MULTILINE)


def _scan_sops_yaml(text: str) -> CredentialsFile | None:
    """Read key names and the MAC straight off a file in the shape `sops` writes, without a
    YAML parser (1,000s of files per plan). ``None``: not that shape — parse it properly."""
    keys: list[str] = []
    for line in text.splitlines():
        if not line or line[0] in " #" or line == "---":
            continue
        match = _TOP_LEVEL_KEY.match(line)
        if match is None:
            return None
        keys.append(match.group(1))
    mac = _SOPS_MAC.search(text)
    if "sops" not in keys or mac is None:
        return None
    fields = tuple(k for k in keys if k != "sops")
    return CredentialsFile(True, True, fields, fingerprint({"sops": {"mac": mac.group(1)}}))


def _read_credentials(path: Path) -> CredentialsFile:
    if not path.is_file():
        return CredentialsFile(False, False, (), None)
    size = path.stat().st_size
    if size > MAX_CREDENTIALS_BYTES:
        return CredentialsFile(
            True, False, (), None, f"too large for a credentials file ({size} bytes)"
        )
    try:
        text = path.read_text(encoding="utf-8")
        scanned = _scan_sops_yaml(text)
        if scanned is not None:
            return scanned
        document: Any = yamlpos.load_untyped(text)
    except yamlpos.YamlSyntaxError as exc:
        return CredentialsFile(True, False, (), None, f"{exc.message} at line {exc.line}")
    except UnicodeDecodeError:
        return CredentialsFile(True, False, (), None, "not a text file")
    if not isinstance(document, dict):
        return CredentialsFile(True, False, (), None, "expected a YAML mapping of fields")
    if sops_metadata(document) is None:
        return CredentialsFile(True, False, tuple(str(k) for k in document), None)
    return CredentialsFile(
        True, True, tuple(str(k) for k in encrypted_keys(document)), fingerprint(document)
    )


_CREDENTIALS_LINE = re.compile(rb"^credentials:\s*['\"]?([^'\"#\s]+)", re.MULTILINE)


def workspace_files(workspace: Workspace, read: FileBytes | None = None) -> list[Path]:
    """Every file a plan depends on: settings, integrations, mappings, REST specs (specs/) and
    credentials (those in secrets/ and any referenced from elsewhere)."""
    read = read or FileBytes()
    root = workspace.root
    integrations = sorted((root / "integrations").glob("*.y*ml"))
    secrets = set((root / "secrets").glob("*"))
    for path in integrations:
        if workspace.outside(path) is not None or path.stat().st_size > yamlpos.MAX_YAML_BYTES:
            continue  # refused by validation; never read
        for ref in _CREDENTIALS_LINE.findall(read(path) or b""):
            inside = workspace.inside(ref.decode(errors="replace"))
            if inside is not None:  # a reference out is refused by validation; never read
                secrets.add(inside)
    mappings = [root / "mappings" / name for name in MAPPING_FILES.values()]
    specs = sorted((root / "specs").glob("*.y*ml"))
    return [
        root / "tether.toml", *integrations, *mappings, *specs, root / "alerts.yaml", *sorted(secrets)
    ]  # fmt: skip


def files_digest(workspace: Workspace, files: FileBytes | None = None) -> str:
    """sha256 over the names and bytes of the workspace's files: cheap (no parsing), and any
    edit — even one that changes nothing in the state — makes a saved plan stale."""
    read = files or FileBytes()
    digest = hashlib.sha256()
    with workspace.one_pass():
        paths = workspace_files(workspace, read)
    for path in paths:
        digest.update(str(path).encode())
        data = read(path)
        digest.update(b"\x00missing" if data is None else data)
        digest.update(b"\x1e")
    return digest.hexdigest()


def _linked_out(display: str, real: Path) -> Problem:
    return Problem(
        display,
        1,
        1,
        f"is a symbolic link to {real}, outside the workspace",
        "Workspace files must live in the workspace: copy the file in instead of linking it.",
    )


def _check_mapping_files(
    present: list[tuple[str, str, Path]], integration_ids: set[str]
) -> tuple[Any, list[Problem]]:
    """Parse and check the mapping CSVs: (Arrow table of every row, problems in file order)."""
    import pyarrow as pa

    problems: list[Problem] = []
    tables = []
    for kind, display, path in present:
        table, found = read_mapping_file(path, display, kind)
        problems.extend(found)
        tables.append(table)
    rows = pa.concat_tables(tables) if tables else empty_table()
    displays = {kind: display for kind, display, _ in present}
    problems.extend(check_rows(rows, displays, integration_ids))
    return rows, problems


def load_workspace(workspace: Workspace, services: dict[str, ServiceInfo]) -> DesiredState:
    """Validate everything; raise ``ConfigError`` listing every problem, or return the state."""
    with workspace.one_pass():
        return _load_workspace(workspace, services)


def _load_workspace(workspace: Workspace, services: dict[str, ServiceInfo]) -> DesiredState:
    problems: list[Problem] = []
    desired = DesiredState()
    folder = workspace.root / "integrations"
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")] if folder.is_dir() else [])
    read_credentials = credentials_reader(workspace)
    contents = FileBytes()
    cache = CheckCache.for_workspace(
        workspace.state_path.parent, workspace.root, services, contents
    )
    ids_in_files: set[str] = set()
    displays_seen: set[str] = set()
    for path in files:
        display = _display(workspace, path)
        displays_seen.add(display)
        if (real := workspace.outside(path)) is not None:
            problems.append(_linked_out(display, real))
            continue
        if (size := path.stat().st_size) > yamlpos.MAX_YAML_BYTES:  # before the cache reads it
            problems.append(Problem(display, 1, 1, yamlpos.too_large(size)))
            continue

        def check(
            reader: Callable[[str], CredentialsFile], path: Path = path, display: str = display
        ) -> tuple[IntegrationConfig | None, list[Problem], bool]:
            checker = IntegrationChecker(path, display, services, reader, workspace.root)
            return checker.check(), checker.problems, not checker.read_other_files

        integration, found = cache.run(display, path, read_credentials, workspace.inside, check)
        problems.extend(found)
        ids_in_files.add(path.stem)
        if integration is not None:
            if integration.id in desired.integrations:
                problems.append(
                    Problem(display, 1, 1, f"integration id '{integration.id}' is defined twice")
                )
            desired.integrations[integration.id] = integration
    cache.forget_except(displays_seen)
    present = []
    for kind, filename in MAPPING_FILES.items():
        path = workspace.root / "mappings" / filename
        if (real := workspace.outside(path)) is not None:
            problems.append(_linked_out(_display(workspace, path), real))
        elif path.is_file():
            # Checked before the cache digest reads the file whole (a 100 MB line).
            too_long = long_line_problem(path, _display(workspace, path))
            if too_long is not None:
                problems.append(too_long)
            else:
                present.append((kind, _display(workspace, path), path))
    digest = mapping_digest(present, contents)
    cached = cache.mapping_rows(digest, ids_in_files)
    if cached is not None:
        desired.mappings, found = cached
    else:
        desired.mappings, found = _check_mapping_files(present, ids_in_files)
        cache.store_mapping_rows(digest, ids_in_files, desired.mappings, found)
    cache.save()
    problems.extend(found)
    from tether.config.alerts import load_alerts

    desired.alerts, found = load_alerts(workspace, ids_in_files)
    problems.extend(found)
    if problems:
        raise ConfigError(problems)
    # Only for a valid workspace: the digest reads every byte, and a broken file may be huge.
    desired.files_digest = files_digest(workspace, contents)
    return desired

"""A content-addressed cache of integration-file checks, as ruff and mypy cache per file.

Checking one integration file (YAML parse, the pydantic models, cron, timezone, the service's
settings model, its credentials file) is most of what a no-op ``tether plan`` of 1,000 integrations
costs. Its result is a pure function of:

* the file's bytes and the path it is shown as (problems name it);
* the bytes of every credentials file the check read (recorded as the check runs, so a reference
  spelled any way YAML allows is still followed);
* the checking code and the service catalogue: Tether's version, the sources of ``tether/config``
  and of each service's connector module, and each service's capabilities, credential fields and
  settings schema (a plugin that changes any of them changes the key).

An entry is used only when all of them hash the same as when it was written, so a changed byte
anywhere re-checks the file. Entries are JSON (no pickle: the file may be written by another user
of the workspace), kept in one file under the state folder and rewritten atomically; a cache that
cannot be read or written is simply not used. ``TETHER_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from tether import __version__
from tether.config.integration import CredentialsFile, ServiceInfo
from tether.config.model import CachedMappingRows, IntegrationConfig
from tether.errors import Problem

FORMAT = 1
FILE_NAME = "integration-checks.json"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileBytes:
    """Each file's bytes read once per load: the checks, their cache and the files digest all
    need them (1,000s of small files per plan)."""

    def __init__(self) -> None:
        self._read: dict[Path, bytes | None] = {}

    def __call__(self, path: Path) -> bytes | None:
        """The file's bytes; ``None`` when it is missing or unreadable."""
        if path not in self._read:
            try:
                self._read[path] = path.read_bytes()
            except OSError:
                self._read[path] = None
        return self._read[path]

    def sha(self, path: str | Path) -> str | None:
        data = self(Path(path))
        return None if data is None else _sha(data)


def _source_stamp(path: str | None) -> str:
    if path is None:
        return "-"
    try:
        stat = os.stat(path)
    except OSError:
        return f"{path}:gone"
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def _code_fingerprint(services: dict[str, ServiceInfo]) -> str:
    """The checking code itself: the sources of ``tether.config`` and of the module defining each
    service's settings model (built-in or plugin), by name, size and mtime (~20 stats)."""
    from importlib.metadata import PackageNotFoundError, version

    import tether.config

    try:
        tzdata = version("tzdata")  # the IANA names the timezone check accepts
    except PackageNotFoundError:
        tzdata = ""
    parts = [__version__, tzdata]
    for folder in tether.config.__path__:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.endswith(".py"):
                parts.append(_source_stamp(entry.path))
    for info in sorted(services.values(), key=lambda i: i.name):
        parts.append(_source_stamp(info.settings_source))
    return "|".join(parts)


def catalogue_fingerprint(services: dict[str, ServiceInfo]) -> str:
    described = [
        [
            info.name,
            info.capabilities,
            info.required_credentials,
            info.credential_fields,
            info.settings_id,
            info.settings_schema,
        ]
        for info in sorted(services.values(), key=lambda i: i.name)
    ]
    return _sha(orjson.dumps([_code_fingerprint(services), described], option=orjson.OPT_SORT_KEYS))


class CheckCache:
    """Cached check results for one workspace; ``load()`` it, use ``run()``, then ``save()``."""

    def __init__(self, folder: Path | None, context: str, files: FileBytes) -> None:
        self.path = folder / FILE_NAME if folder is not None else None
        self.files = files
        self.context = context
        self.entries: dict[str, dict[str, Any]] = {}
        self.mappings: dict[str, Any] = {}
        self.hits = 0
        self.misses = 0
        self._dirty = False

    @classmethod
    def for_workspace(
        cls, state_folder: Path, root: Path, services: dict[str, ServiceInfo], files: FileBytes
    ) -> CheckCache:
        enabled = os.environ.get("TETHER_NO_CACHE", "") in ("", "0")
        context = _sha(f"{FORMAT}|{root}|{catalogue_fingerprint(services)}".encode())
        cache = cls(state_folder / "cache" if enabled else None, context, files)
        cache.load()
        return cache

    def load(self) -> None:
        if self.path is None:
            return
        try:
            document = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return
        if isinstance(document, dict) and document.get("context") == self.context:
            entries = document.get("entries")
            self.entries = entries if isinstance(entries, dict) else {}
            mappings = document.get("mappings")
            self.mappings = mappings if isinstance(mappings, dict) else {}

    def run(
        self,
        display: str,
        source: Path,
        read_credentials: Callable[[str], CredentialsFile],
        resolve: Callable[[str], Path | None],
        check: Callable[
            [Callable[[str], CredentialsFile]],
            tuple[IntegrationConfig | None, list[Problem], bool],
        ],
    ) -> tuple[IntegrationConfig | None, list[Problem]]:
        """The result of ``check(read_credentials)`` for this file, from the cache when every input
        is unchanged; otherwise checked now, with the credentials files it reads recorded.
        ``check`` also says whether its result may be kept (not when it read other files)."""
        data = self.files(source)
        if data is None:
            integration, problems, _ = check(read_credentials)  # reported by the checker
            return integration, problems
        key = _sha(display.encode() + b"\0" + data)
        entry = self.entries.get(display)
        if entry is not None and entry.get("key") == key and self._deps_unchanged(entry):
            self.hits += 1
            return _integration(entry["integration"]), [Problem(**p) for p in entry["problems"]]
        self.misses += 1
        read: dict[str, str | None] = {}

        def recording(ref: str) -> CredentialsFile:
            found = resolve(ref)
            if found is not None:  # a reference out of the workspace is refused, never read
                read[str(found)] = self.files.sha(found)
            return read_credentials(ref)

        integration, problems, cacheable = check(recording)
        if cacheable:
            self._remember(display, key, read, integration, problems)
        return integration, problems

    def _deps_unchanged(self, entry: dict[str, Any]) -> bool:
        deps = entry.get("deps")
        return isinstance(deps, dict) and all(self.files.sha(p) == sha for p, sha in deps.items())

    def _remember(
        self,
        display: str,
        key: str,
        deps: dict[str, str | None],
        integration: IntegrationConfig | None,
        problems: list[Problem],
    ) -> None:
        record = None if integration is None else integration.as_record()
        entry = {
            "key": key,
            "deps": deps,
            "integration": record,
            "problems": [asdict(p) for p in problems],
        }
        # Only what JSON gives back exactly: a cached plan must equal an uncached one.
        with contextlib.suppress(TypeError):
            if _integration(orjson.loads(orjson.dumps(record))) == integration:
                self.entries[display] = entry
                self._dirty = True

    def forget_except(self, displays: set[str]) -> None:
        """Drop entries of files that are gone, so the cache does not grow with renames."""
        stale = set(self.entries) - displays
        for display in stale:
            del self.entries[display]
        self._dirty = self._dirty or bool(stale)

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        document = orjson.dumps(
            {"context": self.context, "entries": self.entries, "mappings": self.mappings}
        )
        with contextlib.suppress(OSError), _atomic(self.path) as handle:
            handle.write(document)
        self._dirty = False

    # -- mapping rows ---------------------------------------------------------------------------
    # The three CSVs are checked together (duplicates and conflicts span rows, and a row may name
    # an integration), so they are one entry: keyed by their bytes and the integration ids.

    def mapping_rows(
        self, digest: str, integration_ids: set[str]
    ) -> tuple[CachedMappingRows, list[Problem]] | None:
        entry = self.mappings
        if self.path is None or entry.get("digest") != digest:
            return None
        if entry.get("ids") != _ids_key(integration_ids):
            return None
        parquet = self.path.parent / str(entry.get("file"))
        if self.files.sha(parquet) != entry.get("sha"):
            return None  # gone, or not the file this entry wrote
        self.hits += 1
        rows = CachedMappingRows(parquet, dict(entry["counts"]), int(entry["rows"]))
        return rows, [Problem(**p) for p in entry["problems"]]

    def store_mapping_rows(
        self, digest: str, integration_ids: set[str], rows: Any, problems: list[Problem]
    ) -> None:
        """Keep checked rows (an Arrow table) as Parquet, written by DuckDB."""
        if self.path is None:
            return
        import duckdb

        self.misses += 1
        name = f"mapping-rows-{digest[:32]}.parquet"
        target = self.path.parent / name
        kinds = rows.column("kind").value_counts().to_pylist() if rows.num_rows else []
        # DuckDB writes beside the target; the rename makes it appear whole, or not at all
        partial = target.with_name(f".{name}.{os.getpid()}")
        con = duckdb.connect()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            con.register("mapping_rows", rows)
            quoted = str(partial).replace("'", "''")
            con.execute(f"COPY mapping_rows TO '{quoted}' (FORMAT parquet)")
            os.replace(partial, target)
        except (OSError, duckdb.Error):
            with contextlib.suppress(OSError):
                partial.unlink()
            return
        finally:
            con.close()
        previous = self.mappings.get("file")
        if previous and previous != name:
            with contextlib.suppress(OSError):
                (self.path.parent / str(previous)).unlink()
        self.mappings = {
            "digest": digest,
            "ids": _ids_key(integration_ids),
            "file": name,
            "sha": _sha(target.read_bytes()),  # as written now, not as read before
            "rows": rows.num_rows,
            "counts": {str(k["values"]): int(k["counts"]) for k in kinds},
            "problems": [asdict(p) for p in problems],
        }
        self._dirty = True


def mapping_digest(present: list[tuple[str, str, Path]], files: FileBytes) -> str:
    """sha256 over (kind, shown path, bytes) of each mapping file present."""
    digest = hashlib.sha256()
    for kind, display, path in present:
        digest.update(f"{kind}\0{display}\0".encode())
        digest.update(files(path) or b"\x00unreadable")
        digest.update(b"\x1e")
    return digest.hexdigest()


def _ids_key(ids: set[str]) -> str:
    return _sha("\0".join(sorted(ids)).encode())


def _integration(record: dict[str, Any] | None) -> IntegrationConfig | None:
    if record is None:
        return None
    return IntegrationConfig(**{**record, "capabilities": tuple(record["capabilities"])})


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Any]:
    """Write beside the target, then rename over it: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".checks-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

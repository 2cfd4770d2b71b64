"""A reusable secrets leak scanner for tests: point it at any surface tether writes.

    scanner = LeakScanner.for_workspace(ws, {"access_token": "shpat_…"})
    scanner.text("tether status", result.stdout + result.stderr)
    scanner.file(plan_path)            # a saved plan, a support bundle, an alert payload …
    scanner.tree(bundle_dir)           # every file under a folder (zip/tar members too)
    scanner.duckdb(ws.state_path)      # every cell of every table, cast to text
    scanner.assert_clean()

Secrets are looked for as written and in the encodings a leak would take: URL-quoted, base64
(at each of the three alignments, so a secret inside a longer base64 blob is found), hex and
JSON-escaped. The age key is looked for by its private part (``AGE-SECRET-KEY-1…``).
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class Leak:
    surface: str
    secret_name: str
    form: str


def _forms(value: str) -> dict[str, bytes]:
    raw = value.encode()
    forms = {"raw": raw, "url-quoted": quote(value, safe="").encode(), "hex": raw.hex().encode()}
    forms["json"] = json.dumps(value)[1:-1].encode()
    for shift in range(3):  # a substring of base64(prefix + secret) for any prefix length
        encoded = base64.b64encode(b"\0" * shift + raw)[4 * ((shift + 2) // 3) :]
        forms[f"base64/{shift}"] = encoded[: max(8, len(encoded) - 4)]
    return {k: v for k, v in forms.items() if len(v) >= 8}


@dataclass
class LeakScanner:
    secrets: dict[str, str]
    """name -> secret value (credential fields, the age key's private part, env secrets)."""
    leaks: list[Leak] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)

    @classmethod
    def for_workspace(cls, ws: Any, credentials: dict[str, str], **more: str) -> LeakScanner:
        """Every credential value of ``credentials`` plus the workspace's age key."""
        secrets = {f"credentials.{k}": v for k, v in credentials.items() if len(v) >= 8}
        key_lines = Path(ws.key.path).read_text().splitlines()
        secrets["age key"] = next(x for x in key_lines if x.startswith("AGE-SECRET-KEY-"))
        secrets.update(more)
        return cls(secrets)

    def bytes(self, surface: str, data: bytes) -> None:
        self.scanned.append(surface)
        lowered = data.lower()  # hex may be written in capitals
        for name, value in self.secrets.items():
            for form, needle in _forms(value).items():
                if needle in (lowered if form == "hex" else data):
                    self.leaks.append(Leak(surface, name, form))

    def text(self, surface: str, text: str) -> None:
        self.bytes(surface, text.encode(errors="surrogateescape"))

    def file(self, path: Path, surface: str | None = None) -> None:
        name = surface or str(path)
        data = path.read_bytes()
        self.bytes(name, data)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    self.bytes(f"{name}!{member}", archive.read(member))
        elif tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                for member in archive.getmembers():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        self.bytes(f"{name}!{member.name}", handle.read())

    def tree(self, folder: Path, *, skip: tuple[str, ...] = ()) -> None:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink() and path.name not in skip:
                if path.suffix == ".duckdb":
                    self.duckdb(path)
                else:
                    self.file(path)

    def duckdb(self, path: Path) -> None:
        """Every cell of every table and view, as text (the file's bytes may be compressed)."""
        import duckdb

        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
            out = io.StringIO()
            for schema, table in tables:
                for row in con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                    out.write("\t".join(map(str, row)) + "\n")
        finally:
            con.close()
        self.text(f"{path} (every cell)", out.getvalue())

    def assert_clean(self) -> None:
        assert self.scanned, "nothing was scanned"
        assert not self.leaks, "secrets leaked:\n" + "\n".join(
            f"  {leak.secret_name} ({leak.form}) in {leak.surface}" for leak in self.leaks
        )

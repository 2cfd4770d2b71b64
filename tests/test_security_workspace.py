"""The workspace bad-input corpus (issue 14): hostile or broken files, each refused cleanly.

Every case runs ``tether apply --auto-approve`` as a user would (its own process, so its time and
peak memory are its own): a ``path:line:col`` problem, exit 1, the state file untouched, within
2 s and 200 MB. The 2 s are the command's work on the files, timed inside the process once
Python and the libraries are imported: interpreter start-up is not the input's doing, and on a
loaded CI machine it alone can take seconds.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import WorkspaceBuilder

CREDS = {"store_url": "acme.myshopify.com", "access_token": "shpat_corpus"}
MAX_SECONDS = 2.0
MAX_RSS_MB = 200


@dataclass(frozen=True)
class Case:
    name: str
    where: str
    """The file the problem must be reported in (as ``where:line:col``)."""
    make: Callable[[Path, Path], None]
    """Break the workspace (root, a directory outside it)."""
    message: str
    """Words the problem must contain."""


def write(root: Path, rel: str, data: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def integration(credentials: str, extra: str = "") -> str:
    return (
        "name: Shop\nservice: shopify\ncapabilities: [sales_orders]\n"
        f"credentials: {credentials}\n{extra}"
    )


def symlinked_credentials(root: Path, outside: Path) -> None:
    # A well-formed SOPS file, but outside the workspace, reached through a link inside it.
    shutil.copy(root / "secrets/shop.sops.yaml", outside / "shop.sops.yaml")
    (root / "secrets/link.sops.yaml").symlink_to(outside / "shop.sops.yaml")
    write(root, "integrations/shop.yaml", integration("secrets/link.sops.yaml"))


def symlinked_integration(root: Path, outside: Path) -> None:
    write(outside, "other.yaml", integration("secrets/shop.sops.yaml"))
    (root / "integrations/other.yaml").symlink_to(outside / "other.yaml")


def symlinked_mappings(root: Path, outside: Path) -> None:
    write(outside, "skus.csv", "sku,external_id,integration\nA,1,shop\n")
    (root / "mappings/skus.csv").unlink()
    (root / "mappings/skus.csv").symlink_to(outside / "skus.csv")


LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)

CASES = [
    Case("credentials outside by ..", "integrations/shop.yaml",
         lambda r, o: write(r, "integrations/shop.yaml", integration("../../etc/shadow")),
         "outside the workspace"),
    Case("credentials absolute", "integrations/shop.yaml",
         lambda r, o: write(r, "integrations/shop.yaml", integration("/etc/shadow")),
         "outside the workspace"),
    Case("credentials in ~", "integrations/shop.yaml",
         lambda r, o: write(r, "integrations/shop.yaml", integration("~/.ssh/id_rsa")),
         "outside the workspace"),
    Case("credentials symlinked out", "integrations/shop.yaml", symlinked_credentials,
         "outside the workspace"),
    Case("integration symlinked out", "integrations/other.yaml", symlinked_integration,
         "outside the workspace"),
    Case("mappings symlinked out", "mappings/skus.csv", symlinked_mappings,
         "outside the workspace"),
    Case("billion laughs", "integrations/laughs.yaml",
         lambda r, o: write(r, "integrations/laughs.yaml",
                            integration("secrets/shop.sops.yaml", "settings:\n  " + LAUGHS.replace("\n", "\n  ") + "x: *i\n")),
         "aliases"),
    Case("deep flow nesting", "integrations/deep.yaml",
         lambda r, o: write(r, "integrations/deep.yaml", "name: " + "[" * 100_000 + "]" * 100_000 + "\n"),
         "nested"),
    Case("deep block nesting", "integrations/deep.yaml",
         lambda r, o: write(r, "integrations/deep.yaml", "".join(f"{' ' * i}- \n" for i in range(0, 600, 2))),
         "nested"),
    Case("huge scalar", "integrations/huge.yaml",
         lambda r, o: write(r, "integrations/huge.yaml", integration("secrets/shop.sops.yaml", f"description: {'x' * 50_000_000}\n")),
         "too large"),
    Case("duplicate keys", "integrations/dup.yaml",
         lambda r, o: write(r, "integrations/dup.yaml", integration("secrets/shop.sops.yaml", "name: Again\n")),
         "duplicate key"),
    Case("csv 100 MB line", "mappings/skus.csv",
         lambda r, o: write(r, "mappings/skus.csv", b"sku,external_id,integration\n" + b"A" * 100_000_000 + b",1,shop\n"),
         "longer than"),
    Case("csv NUL", "mappings/skus.csv",
         lambda r, o: write(r, "mappings/skus.csv", b"sku,external_id,integration\nA,1,shop\nB,\x002,shop\n"),
         "NUL"),
    Case("csv invalid UTF-8", "mappings/skus.csv",
         lambda r, o: write(r, "mappings/skus.csv", b"sku,external_id,integration\nA,1,shop\nB,\xff\xfe,shop\n"),
         "UTF-8"),
]  # fmt: skip


TIMED = """
import sys, time
import duckdb, pyarrow, pyarrow.csv, pydantic, ruamel.yaml, yaml  # start-up, not the work
import tether.cli, tether.config.workspace, tether.ops.workspace
started = time.perf_counter()
try:
    tether.cli.main(sys.argv[1:])
finally:
    print(f"work-seconds: {time.perf_counter() - started:.3f}", file=sys.stderr)
    with open("/proc/self/status") as status:  # this process's own peak, not inherited
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(f"peak-kb: {peak}", file=sys.stderr)
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, age_key: object) -> Path:
    """An applied workspace, copied for every case (one apply for the whole corpus)."""
    ws = WorkspaceBuilder(tmp_path_factory.mktemp("corpus") / "ws", age_key)  # type: ignore[arg-type]
    ws.integration("shop", "shopify", ["sales_orders"], credentials=CREDS)
    ws.apply()
    return ws.root


@pytest.mark.slow  # one process per case: ~1 s each on a quiet machine, more under load
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_cleanly(case: Case, pristine: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(pristine, root, symlinks=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    case.make(root, outside)
    state = root / "state" / "tether.duckdb"
    before = digest(state)
    env = {**os.environ, "TETHER_NO_DAEMON": "1"}
    with (tmp_path / "err").open("w+b") as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", TIMED, "-w", str(root), "apply", "--auto-approve"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
        proc.wait()
        elapsed = time.monotonic() - started
        err.seek(0)
        text = err.read().decode(errors="replace")
    peak = re.search(r"^peak-kb: (\d+)$", text, re.MULTILINE)
    assert peak, text[-2000:]
    rss_mb = int(peak.group(1)) / 1024
    timed = re.search(r"^work-seconds: ([0-9.]+)$", text, re.MULTILINE)
    assert timed, text[-2000:]
    work = float(timed.group(1))
    print(f"\n{case.name}: work {work:.2f} s, wall {elapsed:.2f} s, peak RSS {rss_mb:.0f} MB")
    assert proc.returncode == 1, (proc.returncode, text[-2000:])
    located = re.search(rf"{re.escape(case.where)}:(\d+):(\d+)", text)
    assert located, text[-2000:]
    assert case.message in text, text[-2000:]
    assert len(text) < 10_000, "the problem is stated, not the file echoed"
    assert digest(state) == before
    assert work < MAX_SECONDS, f"{work:.2f} s"
    assert elapsed < 10 * MAX_SECONDS, f"{elapsed:.2f} s in all"
    assert rss_mb < MAX_RSS_MB, f"{rss_mb:.0f} MB"

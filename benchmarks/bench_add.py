"""`tether add` for scripts: what a non-interactive add costs a user, against its floor.

Figures are wall times of fresh processes (what a user waits for), medians of runs, all measured
in the same run so the ratios hold on a noisy shared machine:
- `tether add shopify ... --no-input` (checks every answer, pipes the credentials to sops, checks
  sops's output, writes both files, validates the new integration),
- its floor: the bare `sops encrypt` of the same values on stdin (what any safe add must pay),
- its anchor: `tether validate` of the same workspace (another command a user runs on it).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 7
TETHER = [sys.executable, "-m", "tether"]


def timed(args: list[str], cwd: Path, env: dict[str, str], stdin: str = "") -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, input=stdin, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed: {proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    from tether.config.secrets import sops_binary

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        home = Path(tmp) / "home"
        home.mkdir()
        env = os.environ | {"HOME": str(home), "TETHER_NO_DAEMON": "1"}
        env.pop("SOPS_AGE_KEY_FILE", None)
        timed([*TETHER, "init", str(root)], Path(tmp), env)
        timed([*TETHER, "secrets", "keygen"], root, env)
        adds, floors, validates = [], [], []
        for n in range(RUNS):
            adds.append(
                timed(
                    [
                        *TETHER,
                        "add",
                        "shopify",
                        f"shop_{n}",
                        "--no-input",
                        "--set",
                        "store_url=acme.myshopify.com",
                        "--set",
                        "access_token=-",
                    ],
                    root,
                    env,
                    stdin="shpat_bench",
                )
            )
            floors.append(
                timed(
                    [
                        sops_binary(),
                        "--config",
                        str(root / ".sops.yaml"),
                        "encrypt",
                        "--filename-override",
                        str(root / "secrets" / "floor.sops.yaml"),
                        "--input-type",
                        "json",
                        "--output-type",
                        "yaml",
                    ],
                    root,
                    env | {"SOPS_DISABLE_VERSION_CHECK": "1"},
                    stdin='{"store_url": "acme.myshopify.com", "access_token": "shpat_bench"}',
                )
            )
            validates.append(timed([*TETHER, "validate"], root, env))
    add_s, floor_s, validate_s = (statistics.median(x) for x in (adds, floors, validates))
    print(f"tether add --no-input    {add_s * 1000:7.0f} ms   (median of {RUNS})")
    print(
        f"  floor: sops encrypt    {floor_s * 1000:7.0f} ms   → add = {add_s / floor_s:.1f}× sops"
    )
    print(
        f"  anchor: tether validate{validate_s * 1000:7.0f} ms   → add = {add_s / validate_s:.1f}× validate"
    )


if __name__ == "__main__":
    main()

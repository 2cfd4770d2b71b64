"""Workspace bars: no-op plan and apply of 1,000 integrations + 100,000 mapping rows, and --help.

Bars (DESIGN.md §10): no-op plan ≤ 1.0 s (Terraform 1.11: 1.84 s for 1,000 trivial resources),
apply into empty state ≤ 3 s (Terraform: 29.8 s), `tether --help` ≤ 300 ms. Each figure is the
wall time of the real `tether` command in a fresh process (what a user waits for), median of runs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INTEGRATIONS = 1_000
MAPPING_ROWS = 100_000
TETHER = [sys.executable, "-m", "tether"]


def build_workspace(root: Path) -> None:
    from tether.config import secrets

    key, recipient = secrets.generate_age_key()
    (root / "integrations").mkdir(parents=True)
    (root / "mappings").mkdir()
    (root / "secrets").mkdir()
    (root / "key.txt").write_text(key + "\n")
    (root / "tether.toml").write_text(f'[secrets]\nage_key_file = "{root / "key.txt"}"\n')
    template = root / "secrets" / "template.sops.yaml"
    template.write_text("store_url: acme.myshopify.com\naccess_token: shpat_bench\n")
    secrets.encrypt_file(template, recipient)
    for n in range(INTEGRATIONS):
        iid = f"shop_{n:04d}"
        shutil.copy(template, root / "secrets" / f"{iid}.sops.yaml")
        (root / "integrations" / f"{iid}.yaml").write_text(
            f"name: Shop {n}\nservice: shopify\nschedule:\n  cron: '0 {n % 60} * * * *'\n"
            f"  timezone: America/New_York\ncapabilities: [sales_orders, products]\n"
            f"credentials: secrets/{iid}.sops.yaml\nsettings:\n  history_days: {30 + n % 300}\n"
        )
    template.unlink()
    with (root / "mappings" / "skus.csv").open("w") as handle:
        handle.write("sku,external_id,integration\n")
        for n in range(MAPPING_ROWS):
            scope = f"shop_{n % INTEGRATIONS:04d}" if n % 10 == 0 else ""
            handle.write(f"ACME-{n:06d},SKU-{n:06d},{scope}\n")


def timed(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env=os.environ | {"TETHER_NO_DAEMON": "1"}
    )
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"{args} failed: {proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        build_workspace(root)
        print(
            f"generated {INTEGRATIONS} integrations + {MAPPING_ROWS} mapping rows in {time.perf_counter() - started:.1f}s"
        )
        help_runs = [timed([*TETHER, "--help"], root) for _ in range(5)]
        apply_s = timed([*TETHER, "apply", "--auto-approve"], root)
        noop = [timed([*TETHER, "plan", "--detailed-exitcode"], root) for _ in range(3)]
        validate = [timed([*TETHER, "validate"], root) for _ in range(3)]
    help_s = statistics.median(help_runs)
    plan_s = statistics.median(noop)
    print(f"tether --help            {help_s * 1000:7.0f} ms   (bar ≤ 300 ms)")
    print(f"tether validate          {statistics.median(validate):7.2f} s")
    print(
        f"no-op tether plan        {plan_s:7.2f} s    (bar ≤ 1.0 s; Terraform 1.11: 1.84 s → {1.84 / plan_s:.1f}× faster)"
    )
    print(
        f"tether apply (empty)     {apply_s:7.2f} s    (bar ≤ 3 s; Terraform 1.11: 29.8 s → {29.8 / apply_s:.1f}× faster)"
    )


if __name__ == "__main__":
    main()

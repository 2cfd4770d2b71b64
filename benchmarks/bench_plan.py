"""Workspace bars: no-op plan and apply of 1,000 integrations + 100,000 mapping rows, and --help.

Bars (issue 15): no-op plan ≤ 0.5 s and ≥ 3× faster than `terraform plan` on 1,000
`terraform_data` resources **in the same run**; validate ≤ 0.4 s; apply into empty state ≤ 2 s and
≥ 15× faster than `terraform apply`; `tether --help` ≤ 150 ms. Each figure is the wall time of the
real command in a fresh process (what a user waits for), median of runs; CPU seconds (user + sys
of the child) beside it, since the shared machine's wall times are noisy. The no-op plan is
measured twice: with the parse-and-check cache warm (what a user meets from the second plan on)
and with ``TETHER_NO_CACHE=1``. Terraform is skipped (with a message) when not on PATH.
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


def timed(args: list[str], cwd: Path, **env: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run of ``args``."""
    before = os.times()
    started = time.perf_counter()
    proc = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_user_env() | {"TETHER_NO_DAEMON": "1"} | env,
    )
    elapsed = time.perf_counter() - started
    after = os.times()
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"{args} failed: {proc.stderr[-2000:]}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return elapsed, cpu


def _user_env() -> dict[str, str]:
    """The environment a user runs tether in: Python keeps its bytecode caches (.pyc).

    CI and this shared machine set PYTHONDONTWRITEBYTECODE=1, which makes every run recompile
    every module it imports (~0.1 s on a plan): a cost no installed tether pays.
    """
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def median_of(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def terraform(root: Path) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """(apply, no-op plan) of 1,000 ``terraform_data`` resources: Terraform's own built-in
    resource, so no provider is downloaded and the figures are Terraform's core alone."""
    binary = shutil.which("terraform")
    if binary is None:
        print("terraform not on PATH: the same-run anchor is skipped")
        return None
    (root / "main.tf").write_text(
        "".join(
            f'resource "terraform_data" "shop_{n:04d}" {{\n  input = "0 {n % 60} * * * *"\n}}\n'
            for n in range(INTEGRATIONS)
        )
    )
    timed([binary, "init", "-input=false"], root)
    apply = timed([binary, "apply", "-auto-approve", "-input=false", "-parallelism=10"], root)
    plans = [timed([binary, "plan", "-input=false", "-detailed-exitcode"], root) for _ in range(3)]
    return apply, median_of(plans)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tether"
        root.mkdir()
        started = time.perf_counter()
        build_workspace(root)
        print(
            f"generated {INTEGRATIONS} integrations + {MAPPING_ROWS} mapping rows in {time.perf_counter() - started:.1f}s"
        )
        import tether

        # pip compiles an installed package's bytecode; an editable checkout gets it here.
        package = str(Path(tether.__file__).parent)
        subprocess.run([sys.executable, "-m", "compileall", "-q", package], env=_user_env())
        help_s = median_of([timed([*TETHER, "--help"], root) for _ in range(5)])
        apply = timed([*TETHER, "apply", "--auto-approve"], root)
        cold = median_of(
            [
                timed([*TETHER, "plan", "--detailed-exitcode"], root, TETHER_NO_CACHE="1")
                for _ in range(3)
            ]
        )
        warm = median_of([timed([*TETHER, "plan", "--detailed-exitcode"], root) for _ in range(3)])
        validate = median_of([timed([*TETHER, "validate"], root) for _ in range(3)])
        tf_root = Path(tmp) / "terraform"
        tf_root.mkdir()
        tf = terraform(tf_root)

    def line(what: str, figure: tuple[float, float], bar: str, anchor: float | None = None) -> None:
        ratio = f"; terraform {anchor:.2f} s → {anchor / figure[0]:.1f}× faster" if anchor else ""
        print(f"{what:28} {figure[0]:6.2f} s wall  {figure[1]:5.2f} s CPU   ({bar}{ratio})")

    print(f"tether --help                {help_s[0] * 1000:6.0f} ms wall (bar ≤ 150 ms)")
    line("tether validate (cache warm)", validate, "bar ≤ 0.4 s")
    line("no-op plan (cache warm)", warm, "bar ≤ 0.5 s, ≥ 3×", tf[1][0] if tf else None)
    line("no-op plan (TETHER_NO_CACHE)", cold, "uncached", tf[1][0] if tf else None)
    line("apply into empty state", apply, "bar ≤ 2 s, ≥ 15×", tf[0][0] if tf else None)
    if tf:
        line("terraform apply (1,000)", tf[0], "anchor")
        line("terraform plan, no-op", tf[1], "anchor")


if __name__ == "__main__":
    main()

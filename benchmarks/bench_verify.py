"""What `tether verify` and a backfill cost next to the sync they check, measured in one run.

TrackStar (no count in its API: verify pages through the window's list) and Brewman (one
``matchingCount`` call per window) sandboxes in a child process each, the real CLI in this one:

* full sync of every order (the anchor),
* ``tether verify`` over a window holding about a third of them,
* ``tether sync --since`` (a backfill) of that window.

Figures are medians of three runs; ratios compare figures from the same run.

    python -m benchmarks.bench_verify                 # 20,000 TrackStar orders, 20,000 Brewman
    python -m benchmarks.bench_verify --orders 5000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def _serve(kind: str, orders: int, ready: Any, stop: Any) -> None:
    if kind == "trackstar":
        from tether.sandbox import trackstar as sandbox

        scenario: Any = sandbox.Scenario(
            skus=50, orders=orders, unmapped_skus=0, unmapped_warehouse=False, anchor=ANCHOR
        )
    else:
        from tether.sandbox import brewman as sandbox  # type: ignore[no-redef]

        scenario = sandbox.Scenario(
            skus=50, orders=orders, days=90, unmapped_skus=0, unmapped_channel=False,
            anchor=ANCHOR,
        )  # fmt: skip
    with sandbox.serve(scenario) as server:
        ready.put(server.url)
        stop.wait()


@contextlib.contextmanager
def _sandbox(kind: str, orders: int) -> Iterator[str]:
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=_serve, args=(kind, orders, ready, stop), daemon=True)
    process.start()
    try:
        yield str(ready.get(timeout=60))
    finally:
        stop.set()
        process.join(10)


def _tether(*args: str) -> tuple[int, float]:
    from tether.cli import main

    started = time.perf_counter()
    code = 0
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, time.perf_counter() - started


def _workspace(root: Path, kind: str, url: str) -> None:
    from ruamel.yaml import YAML

    from tether.config import secrets

    secret, recipient = secrets.generate_age_key()
    (root / "age.txt").write_text(secret + "\n")
    (root / "tether.toml").write_text(
        f'[project]\nname = "bench"\n[secrets]\nage_key_file = "{root / "age.txt"}"\n'
    )
    (root / "mappings").mkdir()
    skus = "".join(f"SKU-{i:05d},SKU-{i:05d},\n" for i in range(50))
    (root / "mappings" / "skus.csv").write_text("sku,external_id,integration\n" + skus)
    channels = ("online_store", "wholesale", "pos", "taproom", "distributor", "pub")
    (root / "mappings" / "channels.csv").write_text(
        "channel,external_id,integration\n" + "".join(f"{c},{c},\n" for c in channels)
    )
    (root / "mappings" / "warehouses.csv").write_text(
        "warehouse,external_id,integration\nWH-EAST,WH-EAST,\nWH-WEST,WH-WEST,\n"
    )
    (root / "secrets").mkdir()
    (root / "integrations").mkdir()
    if kind == "trackstar":
        from tether.sandbox import trackstar

        credentials = {"api_key": trackstar.API_KEY, "access_token": trackstar.ACCESS_TOKEN}
        settings: dict[str, Any] = {"base_url": url}
    else:
        from tether.sandbox import brewman

        credentials = {"api_token": brewman.API_TOKEN, "tenant_id": brewman.TENANT_ID}
        settings = {"base_url": url, "history_days": 3650, "maximum_results": 5000}
    secret_path = root / "secrets" / "bench.sops.yaml"
    yaml = YAML()
    with secret_path.open("w") as handle:
        yaml.dump(credentials, handle)
    secrets.encrypt_file(secret_path, recipient)
    doc = {
        "name": "bench",
        "service": kind,
        "capabilities": ["sales_orders"],
        "credentials": "secrets/bench.sops.yaml",
        "settings": settings,
    }
    with (root / "integrations" / "bench.yaml").open("w") as handle:
        yaml.dump(doc, handle)


def _measure(kind: str, orders: int) -> dict[str, float]:
    import time_machine

    window = ["--since", "2025-12-01"]
    with (
        _sandbox(kind, orders) as url,
        tempfile.TemporaryDirectory() as tmp,
        time_machine.travel(ANCHOR, tick=True),
    ):
        root = Path(tmp)
        _workspace(root, kind, url)
        w = ["-w", str(root)]
        assert _tether(*w, "apply", "--auto-approve")[0] == 0
        code, sync_s = _tether(*w, "sync", "bench", "--full")
        assert code == 0, "sync failed"
        code, verify_s = _tether(*w, "verify", "bench", *window)
        assert code == 0, f"verify exit {code}"
        code, backfill_s = _tether(*w, "sync", "bench", *window)
        assert code == 0, "backfill failed"
        import duckdb

        con = duckdb.connect(str(root / "state" / "tether.duckdb"), read_only=True)
        fetched = con.execute(
            "SELECT records_fetched FROM executions WHERE trigger = 'backfill'"
        ).fetchone()
        con.close()
    return {
        "sync_s": sync_s,
        "verify_s": verify_s,
        "backfill_s": backfill_s,
        "window_orders": float(fetched[0] if fetched else 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for kind in ("trackstar", "brewman"):
        runs = [_measure(kind, args.orders) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        ratio = statistics.median(r["verify_s"] / r["sync_s"] for r in runs)
        per_order = statistics.median(
            (r["backfill_s"] / max(r["window_orders"], 1)) / (r["sync_s"] / args.orders)
            for r in runs
        )
        print(
            f"{kind}: full sync {args.orders:,} orders {med['sync_s']:.2f}s "
            f"({args.orders / med['sync_s']:,.0f} orders/s); verify of a window of "
            f"{med['window_orders']:,.0f} orders {med['verify_s']:.2f}s "
            f"(= {ratio:.2f}x the full sync); backfill of that window {med['backfill_s']:.2f}s "
            f"({med['window_orders'] / med['backfill_s']:,.0f} orders/s, "
            f"{per_order:.2f}x the full sync's time per order)",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Warehouse services end to end: `tether sync` of sales_history into DuckDB, beside the
connector-only fetch rate measured in the same run (so the engine's own overhead is visible).

Bars (issue: connectors): BigQuery sandbox → DuckDB ≥ 50,000 rows/s with the real client over
REST; Redshift (real redshift_connector → PostgreSQL through the wire shim) ≥ 100,000 rows/s;
RSS flat as rows grow 10x. Each `tether sync` is a fresh process (start-up included) at each
size; its peak RSS is that of the process tree (the sync and its fetch worker), sampled.

    python -m benchmarks.bench_warehouse_sync [--rows 100000 1000000] [--only bigquery|redshift]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

BQ_SQL = (
    "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
    "FROM `bench.sales.daily` WHERE updated_at > @cursor ORDER BY updated_at"
)
RS_SQL = (
    "SELECT order_date AS date, sku, channel, quantity, revenue, updated_at "
    "FROM sales.bench WHERE updated_at > %(cursor)s"
)


def make_workspace(
    root: Path, service: str, credentials: dict[str, str], settings: dict[str, Any]
) -> None:
    from ruamel.yaml import YAML

    from tether.config import secrets

    key, recipient = secrets.generate_age_key()
    for folder in ("integrations", "mappings", "secrets"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "key.txt").write_text(key + "\n")
    (root / "tether.toml").write_text(f'[secrets]\nage_key_file = "{root / "key.txt"}"\n')
    yaml = YAML()
    with (root / "secrets" / "wh.sops.yaml").open("w") as handle:
        yaml.dump(credentials, handle)
    secrets.encrypt_file(root / "secrets" / "wh.sops.yaml", recipient)
    with (root / "integrations" / "wh.yaml").open("w") as handle:
        yaml.dump(
            {"name": "bench", "service": service, "capabilities": ["sales_history"],
             "credentials": "secrets/wh.sops.yaml", "settings": settings},
            handle,
        )  # fmt: skip
    # every catalogue SKU of both sources (BigQuery sandbox: 50; tether/sandbox/postgres.py: 500), so the
    # rate is of loaded rows; the BigQuery sandbox's own UNMAPPED-* rows still fail (~6%)
    skus = "\n".join(f"T-{n},SKU-{n:05d}," for n in range(500))
    (root / "mappings" / "skus.csv").write_text(f"sku,external_id,integration\n{skus}\n")
    channels = "\n".join(f"{c},{c}," for c in ("online_store", "pos", "wholesale", "amazon"))
    (root / "mappings" / "channels.csv").write_text(
        f"channel,external_id,integration\n{channels}\n"
    )
    (root / "mappings" / "warehouses.csv").write_text("warehouse,external_id,integration\n")
    tether(root, "apply", "--auto-approve")


def tether(root: Path, *args: str) -> tuple[float, float]:
    """Run ``tether ARGS`` in a fresh process: (wall seconds, peak RSS MB of its process tree)."""
    from benchmarks.rss import TreeRss

    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether", "-w", str(root), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"TETHER_NO_DAEMON": "1"},
    )  # fmt: skip
    with TreeRss(proc.pid) as rss:
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"tether {' '.join(args)} failed:\n{out}\n{err}")
    return time.perf_counter() - started, rss.peak_mb


def loaded(root: Path) -> int:
    import duckdb

    con = duckdb.connect(str(root / "state" / "tether.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT records_fetched FROM executions ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def _serve_bigquery(rows: int, ready: Any, stop: Any) -> None:
    from tether.sandbox.bigquery import Scenario, serve

    with serve(Scenario(rows=rows)) as server:
        ready.put(server.url)
        stop.wait()


def bench_bigquery(sizes: list[int]) -> None:
    from benchmarks.bench_bigquery import measure

    ctx = mp.get_context("spawn")
    results = []
    for rows in sizes:
        ready, stop = ctx.Queue(), ctx.Event()
        server = ctx.Process(target=_serve_bigquery, args=(rows, ready, stop), daemon=True)
        server.start()
        try:
            url = ready.get(timeout=300)
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                make_workspace(
                    root, "bigquery", {"project_id": "bench", "service_account_json": "{}"},
                    {"base_url": url, "page_size": 10_000,
                     "queries": {"sales_history": {"sql": BQ_SQL, "cursor_column": "updated_at"}}},
                )  # fmt: skip
                seconds, peak = tether(root, "sync", "wh")
                fetched = loaded(root)
                idle, _ = tether(root, "sync", "wh")  # nothing new: start-up, query, commit
                results.append((fetched, seconds, peak, idle))
        finally:
            stop.set()
            server.join(timeout=10)
    client_rows, _, client_s, _ = measure(sizes[-1])
    _report("bigquery", results, 50_000, client_rows / client_s)


def bench_redshift(sizes: list[int]) -> None:
    from benchmarks.bench_redshift import fetch_rate, shim_process
    from tether.sandbox.postgres import (
        DATABASE,
        PASSWORD,
        USER,
        PostgresServer,
        PostgresUnavailable,
        create_sales_daily,
    )

    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        print(f"redshift: skipped ({exc})")
        return
    results = []
    try:
        with shim_process(server.port) as port:
            for rows in sizes:
                create_sales_daily(server, rows, table="sales.bench")
                fetch_rate(port, "sales.bench")  # warm-up: PostgreSQL sets hint bits on first read
                with tempfile.TemporaryDirectory() as tmp:
                    root = Path(tmp)
                    make_workspace(
                        root, "redshift",
                        {"host": "127.0.0.1", "port": str(port), "database": DATABASE,
                         "user": USER, "password": PASSWORD},
                        {"ssl": False, "page_size": 10_000,
                         "queries": {"sales_history": {"sql": RS_SQL,
                                                       "cursor_column": "updated_at"}}},
                    )  # fmt: skip
                    seconds, peak = tether(root, "sync", "wh")
                    fetched = loaded(root)
                    idle, _ = tether(root, "sync", "wh")  # nothing new: start-up, query, commit
                    results.append((fetched, seconds, peak, idle))
            client_rows, client_s, _, _ = fetch_rate(port, "sales.bench")
    finally:
        server.stop()
    _report("redshift", results, 100_000, client_rows / client_s)


def _report(
    service: str, results: list[tuple[int, float, float, float]], bar: int, alone: float
) -> None:
    for rows, seconds, peak, idle in results:
        print(
            f"{service}: tether sync {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} "
            f"rows/s end to end (bar ≥ {bar:,}), peak RSS {peak:.0f} MB; a sync with nothing "
            f"new takes {idle:.2f} s"
        )
    if len(results) > 1:
        first, last = results[0][2], results[-1][2]
        print(
            f"{service}: peak RSS {first:.0f} → {last:.0f} MB ({last / first - 1:+.0%}) as rows grow"
        )
    print(
        f"{service}: connector alone {alone:,.0f} rows/s at {results[-1][0]:,} rows "
        f"(load {os.getloadavg()[0]:.2f})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_warehouse_sync")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--only", choices=["bigquery", "redshift"])
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    if args.only in (None, "bigquery"):
        bench_bigquery(args.rows)
    if args.only in (None, "redshift"):
        bench_redshift(args.rows)


if __name__ == "__main__":
    main()

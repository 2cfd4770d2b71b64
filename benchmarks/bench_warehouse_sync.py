"""Warehouse services end to end: `tether sync` of sales_history into DuckDB, beside the
connector-only fetch rate measured in the same run (so the engine's own overhead is visible).

Bars (issue: connectors): BigQuery sandbox → DuckDB ≥ 50,000 rows/s with the real client over
REST; Redshift (real redshift_connector → PostgreSQL through the wire shim) ≥ 100,000 rows/s.

    python -m benchmarks.bench_warehouse_sync [--rows 200000] [--only bigquery|redshift]
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
sys.path.insert(0, str(ROOT / "tests"))  # the PostgreSQL server + Redshift wire shim helpers

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
    # every catalogue SKU of both sources (BigQuery sandbox: 50; tests/pg_server.py: 500), so the
    # rate is of loaded rows; the BigQuery sandbox's own UNMAPPED-* rows still fail (~6%)
    skus = "\n".join(f"T-{n},SKU-{n:05d}," for n in range(500))
    (root / "mappings" / "skus.csv").write_text(f"sku,external_id,integration\n{skus}\n")
    channels = "\n".join(f"{c},{c}," for c in ("online_store", "pos", "wholesale", "amazon"))
    (root / "mappings" / "channels.csv").write_text(
        f"channel,external_id,integration\n{channels}\n"
    )
    (root / "mappings" / "warehouses.csv").write_text("warehouse,external_id,integration\n")
    tether(root, "apply", "--auto-approve")


def tether(root: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "tether", "-w", str(root), *args],
        capture_output=True, text=True, env=os.environ | {"TETHER_NO_DAEMON": "1"},
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"tether {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - started, proc.stdout


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


def bench_bigquery(rows: int) -> None:
    from benchmarks.bench_bigquery import measure

    ctx = mp.get_context("spawn")
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
            seconds, _ = tether(root, "sync", "wh")
            fetched = loaded(root)
            idle, _ = tether(root, "sync", "wh")  # nothing new: start-up, query, commit
    finally:
        stop.set()
        server.join(timeout=10)
    client_rows, _, client_s, _ = measure(rows)
    print(
        f"bigquery: tether sync {fetched:,} rows in {seconds:.2f} s = {fetched / seconds:,.0f} rows/s "
        f"end to end (bar ≥ 50,000); connector alone {client_rows / client_s:,.0f} rows/s; "
        f"a sync with nothing new takes {idle:.2f} s (load {os.getloadavg()[0]:.2f})"
    )


def bench_redshift(rows: int) -> None:
    from pg_server import (
        DATABASE,
        PASSWORD,
        USER,
        PostgresServer,
        PostgresUnavailable,
        create_sales_daily,
    )

    from benchmarks.bench_redshift import fetch_rate, shim_process

    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        print(f"redshift: skipped ({exc})")
        return
    try:
        create_sales_daily(server, rows, table="sales.bench")
        with shim_process(server.port) as port, tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_workspace(
                root, "redshift",
                {"host": "127.0.0.1", "port": str(port), "database": DATABASE, "user": USER,
                 "password": PASSWORD},
                {"ssl": False, "page_size": 10_000,
                 "queries": {"sales_history": {"sql": RS_SQL, "cursor_column": "updated_at"}}},
            )  # fmt: skip
            fetch_rate(port, "sales.bench")  # warm-up: PostgreSQL sets hint bits on first read
            seconds, _ = tether(root, "sync", "wh")
            fetched = loaded(root)
            idle, _ = tether(root, "sync", "wh")  # nothing new: start-up, query, commit
            client_rows, client_s, _, _ = fetch_rate(port, "sales.bench")
    finally:
        server.stop()
    print(
        f"redshift: tether sync {fetched:,} rows in {seconds:.2f} s = {fetched / seconds:,.0f} rows/s "
        f"end to end (bar ≥ 100,000); connector alone {client_rows / client_s:,.0f} rows/s; "
        f"a sync with nothing new takes {idle:.2f} s (load {os.getloadavg()[0]:.2f})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_warehouse_sync")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--only", choices=["bigquery", "redshift"])
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    if args.only in (None, "bigquery"):
        bench_bigquery(args.rows)
    if args.only in (None, "redshift"):
        bench_redshift(args.rows)


if __name__ == "__main__":
    main()
